"""The Tantivy lexical index: real index folders in tmp_path, other processes as readers and writers."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.core.errors import StoreError
from assistant.text.lexical import content_terms
from benchmarks.baselines.bm25_memory import MemoryBM25Index
from ingest.storage.lexical_records import IndexedArticle, SearchFilters, SentenceKey
from ingest.storage.lexical_tantivy import SCHEMA_VERSION, SETTINGS_FILE, TantivyLexicalIndex, tantivy_path
from ingest.storage.tantivy_schema import line_key
from tests.ingest.storage.lexical_data import ANALYZER, DAM, DAY, TALKS, UNDATED, analyze, article, child


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TantivyLexicalIndex]:
    opened = TantivyLexicalIndex.open(tantivy_path(tmp_path), analyze, ANALYZER)
    yield opened
    opened.close()


def test_a_new_index_is_a_folder_next_to_the_store_and_is_empty(tmp_path: Path) -> None:
    index = TantivyLexicalIndex.open(tantivy_path(tmp_path), analyze, ANALYZER)
    assert index.path == tmp_path / "lexical.tantivy" and (index.path / "meta.json").is_file()
    assert (index.doc_count(), index.sentence_count()) == (0, 0)
    assert index.search(["dam"], 10) == [] and index.check() == [] and index.versions() == {}


def test_search_ranks_sentences_by_bm25_and_returns_their_keys(index: TantivyLexicalIndex) -> None:
    index.add([DAM, TALKS])
    hits = index.search(["dam", "opened"], 10)
    assert [h.key for h in hits] == [SentenceKey("dam", 0), SentenceKey("talks", 1)]
    assert hits[0].score > hits[1].score > 0
    assert index.search(["zebra"], 10) == [] and index.search([], 10) == [] and index.search(["dam"], 0) == []
    assert index.scores(["dam"], [SentenceKey("talks", 1), SentenceKey("talks", 0)]) == {
        SentenceKey("talks", 1): pytest.approx(hits[1].score)
    }


def test_every_write_is_a_commit_that_raises_the_generation(index: TantivyLexicalIndex) -> None:
    first = index.generation()
    index.add([DAM])
    second = index.generation()
    index.delete("dam")
    assert first < second < index.generation()


def test_adding_an_article_again_replaces_its_sentences(index: TantivyLexicalIndex) -> None:
    index.add([DAM])
    index.add([article("dam", ["The dam was closed again."], version="v2", source="Wire")])
    assert (index.doc_count(), index.sentence_count(), index.versions()) == (1, 1, {"dam": "v2"})
    assert [h.key for h in index.search(["closed"], 5)] == [SentenceKey("dam", 0)]
    assert index.search(["eleven"], 5) == [] and index.check() == []


def test_an_article_twice_in_one_group_is_indexed_once_as_its_later_version(
    index: TantivyLexicalIndex,
) -> None:
    index.add([DAM, article("dam", ["The dam was closed again."], version="v2")])
    assert (index.sentence_count(), index.versions(), index.check()) == (1, {"dam": "v2"}, [])


def test_deleting_an_article_removes_its_sentences_and_a_second_delete_changes_nothing(
    index: TantivyLexicalIndex,
) -> None:
    index.add([DAM, TALKS])
    assert index.delete("dam") is True
    assert [h.key for h in index.search(["dam"], 10)] == [SentenceKey("talks", 1)]
    generation = index.generation()
    assert index.delete("dam") is False and index.generation() == generation
    assert (index.doc_count(), index.sentence_count()) == (1, 3) and index.check() == []


def test_filters_bound_the_publication_time_the_outlet_and_the_articles(index: TantivyLexicalIndex) -> None:
    index.add([DAM, TALKS, UNDATED])

    def found(filters: SearchFilters) -> set[str]:
        return {h.key.doc_id for h in index.search(["dam"], 10, filters)}

    assert found(SearchFilters()) == {"dam", "talks", "undated"}
    assert found(SearchFilters(ts_from=15 * DAY)) == {"talks"}
    assert found(SearchFilters(ts_to=15 * DAY)) == {"dam"}  # no date: outside any upper bound
    assert found(SearchFilters(ts_from=5 * DAY, ts_to=15 * DAY)) == {"dam"}
    assert found(SearchFilters(sources=frozenset({"Blog"}))) == {"undated"}
    assert found(SearchFilters(doc_ids=frozenset({"talks", "undated"}))) == {"talks", "undated"}
    assert found(SearchFilters(doc_ids=frozenset())) == set()
    assert found(SearchFilters(ts_from=30 * DAY)) == set()


def test_a_filter_changes_which_sentences_are_found_not_their_scores(index: TantivyLexicalIndex) -> None:
    index.add([DAM, TALKS, UNDATED])
    unfiltered = {h.key: h.score for h in index.search(["dam", "opened"], 10)}
    for hit in index.search(["dam", "opened"], 10, SearchFilters(sources=frozenset({"Wire"}))):
        assert hit.score == pytest.approx(unfiltered[hit.key])


def test_rebuild_replaces_everything_in_one_write(index: TantivyLexicalIndex) -> None:
    index.add([DAM, TALKS])
    index.rebuild([UNDATED, UNDATED])  # a doc_id seen twice is kept once
    assert (index.sentence_count(), index.versions(), index.check()) == (1, {"undated": "v1"}, [])


def test_a_span_outside_its_text_is_refused_and_nothing_of_the_group_is_written(
    index: TantivyLexicalIndex,
) -> None:
    broken = IndexedArticle("broken", "v1", "Short.", [(0, 6), (7, 40)])
    generation = index.generation()
    with pytest.raises(ValueError, match="broken"):
        index.add([DAM, broken])
    assert (index.doc_count(), index.generation()) == (0, generation)
    index.add([TALKS])  # the failed write released the lock
    assert index.doc_count() == 1


def test_stale_lists_the_articles_whose_version_differs_from_the_expected_one(
    index: TantivyLexicalIndex,
) -> None:
    index.add([DAM, TALKS])
    assert index.stale({"dam": "v1", "talks": "v2", "new": "v1"}) == (["new", "talks"], [])
    assert index.stale({"dam": "v1"}) == ([], ["talks"])


def test_one_add_can_also_remove_articles_in_the_same_commit(index: TantivyLexicalIndex) -> None:
    index.add([DAM, TALKS])
    generation = index.generation()
    index.add([UNDATED], delete=["talks", "never-indexed"])
    assert index.versions() == {"dam": "v1", "undated": "v1"} and index.generation() > generation


def test_the_index_holds_each_article_record_and_each_write_replaces_it(
    index: TantivyLexicalIndex,
) -> None:
    vector = np.arange(4, dtype=np.float32)
    record = {"title": "Dam opens", "version": "v1", "published_ts": 10, "score": 0.5, "wire": True}
    index.add([dataclasses.replace(DAM, metadata=record, title_vector=vector.tobytes()), TALKS])
    [payload] = index.articles(["dam", "talks", "nowhere"]).values()  # TALKS was written without one
    assert (payload.article.doc_id, payload.article.text, payload.article.metadata) == (
        "dam",
        DAM.text,
        record,
    )
    assert payload.article.spans == ((0, 26), (27, 57), (58, 85))
    assert (np.frombuffer(payload.title_vector, dtype=np.float32) == vector).all()
    newer = article("dam", ["The dam closed."], version="v2")
    index.add([dataclasses.replace(newer, metadata={"version": "v2"})])
    [payload] = index.articles(["dam"]).values()
    assert (payload.article.version, payload.article.spans) == ("v2", ((0, 15),))
    index.delete("dam")
    assert index.articles(["dam"]) == {}


def test_story_articles_are_every_copy_of_each_story_asked_for(index: TantivyLexicalIndex) -> None:
    copies = [
        article(f"copy{i}", [f"The dam opened on day {i}."], metadata={"version": "v1", "story_id": story})
        for i, story in enumerate(["dam", "dam", "dam", "talks", "other"])
    ]
    index.add(copies)
    assert sorted(index.story_articles(["dam", "talks"])) == ["copy0", "copy1", "copy2", "copy3"]
    assert index.story_articles([]) == {}


def test_line_articles_counts_the_distinct_articles_of_an_outlet_with_a_line_up_to_the_cap(
    index: TantivyLexicalIndex,
) -> None:
    sign_up = line_key("Wire", "Sign up for our newsletter.")
    assert line_key("Wire", "  sign up for our\nNEWSLETTER. ") == sign_up  # case and spaces folded
    assert line_key("Blog", "Sign up for our newsletter.") != sign_up  # a line is an outlet's
    index.add([DAM, TALKS])
    opened = line_key("Wire", "The dam opened on Tuesday.")
    assert index.line_articles([sign_up, opened, "0123456789abcdef"], cap=3) == {
        sign_up: 2,
        opened: 1,
        "0123456789abcdef": 0,
    }
    index.add([article("ads", ["Sign up for our newsletter."] * 9 + ["Ads."], source="Wire")])
    assert index.line_articles([sign_up], cap=3) == {sign_up: 3}  # nine copies in one article: one
    assert index.line_articles([sign_up], cap=2) == {sign_up: 2}
    assert index.line_articles([sign_up], cap=10) == {sign_up: 3}
    index.delete("talks")
    assert index.line_articles([sign_up, sign_up], cap=3) == {sign_up: 2}
    assert index.line_articles([], cap=3) == {} and index.line_articles([sign_up], cap=0) == {sign_up: 0}


def test_newest_articles_are_the_latest_published_first_and_undated_ones_last(
    index: TantivyLexicalIndex,
) -> None:
    assert index.newest_articles(3) == []
    index.add([UNDATED, DAM, TALKS])
    assert index.newest_articles(2) == ["talks", "dam"]
    assert index.newest_articles(10) == ["talks", "dam", "undated"]
    assert index.newest_articles(0) == []


def test_ranking_and_scores_match_the_in_memory_bm25(tmp_path: Path) -> None:
    """Tantivy's BM25 is Lucene's (idf with +1), times k1 + 1, which the index divides out."""
    filler = [f"Filler sentence number {n} about gardening." for n in range(12)]
    sentences = [
        *filler,
        "The central bank raised interest rates again.",
        "Interest in the bank's new app grew.",
        "Rates of inflation fell in the spring.",
        "The river bank flooded after the storm.",
        "Storm warnings were issued for the coast.",
        "The bank said rates would stay high for longer.",
    ]
    index = TantivyLexicalIndex.open(tantivy_path(tmp_path), content_terms, "content_terms")
    index.add([article(f"d{i}", [s]) for i, s in enumerate(sentences)])
    memory = MemoryBM25Index(sentences)
    for question in ("Which bank raised rates?", "Where did the storm flood?", "interest rates", "gardening"):
        terms = content_terms(question)
        hits = index.search(terms, 4)
        assert [int(h.key.doc_id[1:]) for h in hits] == memory.top(terms, 4), question
        expected = memory.scores(terms)
        in_memory = [float(expected[int(h.key.doc_id[1:])]) for h in hits]
        assert [h.score for h in hits] == pytest.approx(in_memory)
    idf = index.idf(["bank", "unseen"])
    assert idf == pytest.approx({"bank": memory.idf("bank"), "unseen": memory.idf("unseen")})


# --- errors -----------------------------------------------------------------------------------
def test_a_damaged_index_gives_an_error_naming_it(index: TantivyLexicalIndex) -> None:
    index.add([DAM])
    (index.path / "meta.json").write_bytes(b"this is not an index, just some bytes " * 200)
    with pytest.raises(StoreError, match=re.escape(str(index.path))) as caught:
        TantivyLexicalIndex.open(index.path, analyze, ANALYZER)
    assert "damaged" in str(caught.value) and "rebuild" in str(caught.value)


def test_a_file_where_the_folder_should_be_gives_an_error_naming_it(tmp_path: Path) -> None:
    path = tantivy_path(tmp_path)
    path.write_text("not a folder")
    with pytest.raises(StoreError, match=re.escape(str(path))):
        TantivyLexicalIndex.open(path, analyze, ANALYZER)


def test_a_missing_index_is_an_error_when_asked_not_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such index"):
        TantivyLexicalIndex.open(tantivy_path(tmp_path), analyze, ANALYZER, create=False)
    assert not tantivy_path(tmp_path).exists()


def test_an_index_of_an_older_schema_is_refused_until_rebuilt(index: TantivyLexicalIndex) -> None:
    (index.path / SETTINGS_FILE).write_text(json.dumps({"schema": "2", "analyzer": ANALYZER}))
    with pytest.raises(
        StoreError, match=rf"schema version '2', this Newsdesk reads '{SCHEMA_VERSION}': rebuild"
    ):
        TantivyLexicalIndex.open(index.path, analyze, ANALYZER)


def test_an_index_made_with_another_analyzer_is_refused(index: TantivyLexicalIndex) -> None:
    with pytest.raises(StoreError, match=r"analyzer 'test-words/v1'.*rebuild"):
        TantivyLexicalIndex.open(index.path, content_terms, "content_terms")


# --- other processes --------------------------------------------------------------------------
READER = """
import time
from pathlib import Path
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from tests.ingest.storage.lexical_data import ANALYZER, analyze
index = TantivyLexicalIndex.open(Path({path!r}), analyze, ANALYZER, create=False)
seen = {{h.key.doc_id for h in index.search(["dam"], 5)}}
print("ready", flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    found = {{h.key.doc_id for h in index.search(["dam"], 5)}}
    if found != seen:
        print(",".join(sorted(found)), flush=True)
        break
    time.sleep(0.05)
"""


def test_a_reader_in_another_process_sees_a_write_within_two_seconds(index: TantivyLexicalIndex) -> None:
    index.add([TALKS])
    reader = child(READER.format(path=str(index.path)))
    assert reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read() if reader.stderr else ""
        index.add([DAM])
        written = time.monotonic()
        line = reader.stdout.readline().strip()
        assert time.monotonic() - written < 2.0
        assert line == "dam,talks"
    finally:
        reader.kill()
        reader.communicate()


STALLED_WRITER = """
import time
from pathlib import Path
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from tests.ingest.storage.lexical_data import ANALYZER, TALKS, analyze, article
index = TantivyLexicalIndex.open(Path({path!r}), analyze, ANALYZER)
def group():
    yield article("dam", ["The dam burst."], version="v2", source="Wire")
    yield TALKS
    print("inside the write", flush=True)
    time.sleep(120)
    yield article("late", ["Never written."])
index.add(group())
"""


@pytest.fixture
def stalled_writer(index: TantivyLexicalIndex) -> Iterator[subprocess.Popen[str]]:
    """A process that has added part of a group (replacing DAM, adding TALKS) to its writer without
    committing, and waits there holding the write lock."""
    index.add([DAM])
    writer = child(STALLED_WRITER.format(path=str(index.path)))
    assert writer.stdout is not None
    line = writer.stdout.readline().strip()
    assert line == "inside the write", writer.stderr.read() if writer.stderr else ""
    yield writer
    writer.kill()
    writer.communicate()


def test_readers_see_the_last_commit_while_another_process_is_inside_a_write(
    index: TantivyLexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    assert index.versions() == {"dam": "v1"}
    assert [h.key.doc_id for h in index.search(["dam"], 5)] == ["dam"]


def test_a_writer_killed_mid_write_leaves_the_last_commit_whole(
    index: TantivyLexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    stalled_writer.send_signal(signal.SIGKILL)
    stalled_writer.wait()
    reopened = TantivyLexicalIndex.open(index.path, analyze, ANALYZER)
    assert (reopened.versions(), reopened.sentence_count(), reopened.check()) == ({"dam": "v1"}, 3, [])
    assert [h.key for h in reopened.search(["eleven"], 5)] == [SentenceKey("dam", 1)]
    reopened.add([TALKS])  # the kill left no lock behind
    assert reopened.doc_count() == 2 and reopened.check() == []


def test_a_second_writer_waits_at_most_its_timeout_and_says_why(
    index: TantivyLexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    impatient = TantivyLexicalIndex.open(index.path, analyze, ANALYZER, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(StoreError, match="write lock") as caught:
        impatient.add([UNDATED])
    assert time.monotonic() - started < 3.0 and str(index.path) in str(caught.value)
