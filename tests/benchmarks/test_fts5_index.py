"""The FTS5 baseline of benchmarks/lexical.py: real SQLite files in tmp_path, other processes too."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.core.errors import StoreError
from assistant.text.lexical import content_terms
from benchmarks.baselines.bm25_memory import MemoryBM25Index
from benchmarks.baselines.fts5_index import Fts5LexicalIndex, index_path
from ingest.storage.lexical_records import IndexedArticle, SearchFilters, SentenceKey
from tests.ingest.storage.lexical_data import ANALYZER, DAM, DAY, TALKS, UNDATED, analyze, article, child


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Fts5LexicalIndex]:
    opened = Fts5LexicalIndex.open(index_path(tmp_path), analyze, ANALYZER)
    yield opened
    opened.close()


def test_a_new_index_lives_next_to_the_store_in_wal_mode_and_is_empty(tmp_path: Path) -> None:
    index = Fts5LexicalIndex.open(index_path(tmp_path), analyze, ANALYZER)
    assert index.path == tmp_path / "lexical.sqlite3" and index.path.is_file()
    assert (index.doc_count(), index.sentence_count(), index.generation()) == (0, 0, 0)
    assert index.search(["dam"], 10) == [] and index.check() == []
    header = index.path.read_bytes()[:20]
    assert header[18:20] == b"\x02\x02"  # WAL read and write versions in the file header


def test_search_ranks_sentences_by_bm25_and_fetches_their_text_from_the_offsets(
    index: Fts5LexicalIndex,
) -> None:
    index.add([DAM, TALKS])
    hits = index.search(["dam", "opened"], 10)
    assert [h.key for h in hits] == [SentenceKey("dam", 0), SentenceKey("talks", 1)]
    assert hits[0].score > hits[1].score > 0
    first = index.sentences([hits[0].key])[0]
    assert (first.text, first.start, first.end) == ("The dam opened on Tuesday.", 0, 26)
    assert first.text == DAM.text[first.start : first.end] and first.terms == tuple(analyze(first.text))
    assert (first.published_ts, first.source) == (10 * DAY, "Wire")
    assert index.search(["zebra"], 10) == [] and index.search([], 10) == []


def test_sentences_come_back_in_the_order_asked_and_unknown_keys_are_left_out(
    index: Fts5LexicalIndex,
) -> None:
    index.add([DAM, TALKS])
    keys = [SentenceKey("talks", 2), SentenceKey("nope", 0), SentenceKey("dam", 1)]
    assert [s.key for s in index.sentences(keys)] == [keys[0], keys[2]]


def test_neighbours_are_the_sentences_around_each_key_within_its_article(index: Fts5LexicalIndex) -> None:
    index.add([DAM, TALKS])
    around = index.neighbours([SentenceKey("dam", 0), SentenceKey("talks", 1)])
    assert [s.index for s in around[SentenceKey("dam", 0)]] == [1]
    assert [s.text for s in around[SentenceKey("talks", 1)]] == [
        "Talks resumed in Damascus.",
        "Sign up for our newsletter.",
    ]
    assert [s.index for s in index.article_sentences("dam")] == [0, 1, 2]


def test_adding_an_article_again_replaces_its_sentences_and_counts_as_a_write(
    index: Fts5LexicalIndex,
) -> None:
    index.add([DAM])
    index.add([article("dam", ["The dam was closed again."], version="v2", source="Wire")])
    assert (index.doc_count(), index.sentence_count(), index.generation()) == (1, 1, 2)
    assert index.versions() == {"dam": "v2"}
    assert [h.key for h in index.search(["closed"], 5)] == [SentenceKey("dam", 0)]
    assert index.search(["eleven"], 5) == [] and index.check() == []


def test_deleting_an_article_removes_its_sentences_and_a_second_delete_changes_nothing(
    index: Fts5LexicalIndex,
) -> None:
    index.add([DAM, TALKS])
    assert index.delete("dam") is True
    assert [h.key for h in index.search(["dam"], 10)] == [SentenceKey("talks", 1)]
    assert {h.key.doc_id for h in index.search(["dam", "newsletter"], 10)} == {"talks"}
    generation = index.generation()
    assert index.delete("dam") is False and index.generation() == generation
    assert (index.doc_count(), index.sentence_count()) == (1, 3) and index.check() == []


def test_filters_bound_the_publication_time_the_outlet_and_the_articles(index: Fts5LexicalIndex) -> None:
    index.add([DAM, TALKS, UNDATED])

    def found(filters: SearchFilters) -> set[str]:
        return {h.key.doc_id for h in index.search(["dam"], 10, filters)}

    assert found(SearchFilters()) == {"dam", "talks", "undated"}
    assert found(SearchFilters(ts_from=15 * DAY)) == {"talks"}
    assert found(SearchFilters(ts_to=15 * DAY)) == {"dam"}  # no date: outside any upper bound
    assert found(SearchFilters(sources=frozenset({"Blog"}))) == {"undated"}
    assert found(SearchFilters(doc_ids=frozenset({"talks", "undated"}))) == {"talks", "undated"}
    assert found(SearchFilters(ts_from=30 * DAY)) == set()


def test_copies_count_the_articles_of_one_outlet_that_carry_the_same_line(index: Fts5LexicalIndex) -> None:
    other = article("other", ["sign up  for our NEWSLETTER.", "Rain."], source="Elsewhere")
    index.add([DAM, TALKS, other])
    copies = index.copies([SentenceKey("dam", 2), SentenceKey("dam", 0), SentenceKey("other", 0)])
    assert copies == {SentenceKey("dam", 2): 2, SentenceKey("dam", 0): 1, SentenceKey("other", 0): 1}


def test_article_metadata_and_text_are_read_by_id(index: Fts5LexicalIndex) -> None:
    index.add([DAM])
    info = index.articles(["dam", "missing"])
    assert list(info) == ["dam"] and (info["dam"].title, info["dam"].sentences) == ("Dam opens", 3)
    assert index.text("dam") == DAM.text and index.text("missing") is None


def test_rebuild_replaces_everything_in_one_write(index: Fts5LexicalIndex) -> None:
    index.add([DAM, TALKS])
    index.rebuild([UNDATED, UNDATED])  # a doc_id seen twice is kept once
    assert (index.sentence_count(), index.versions(), index.generation()) == (1, {"undated": "v1"}, 2)
    assert index.check() == []


def test_a_span_outside_its_text_is_refused_and_nothing_of_the_group_is_written(
    index: Fts5LexicalIndex,
) -> None:
    broken = IndexedArticle("broken", "v1", "Short.", [(0, 6), (7, 40)])
    with pytest.raises(ValueError, match="broken"):
        index.add([DAM, broken])
    assert (index.doc_count(), index.generation()) == (0, 0)


def test_ranking_matches_the_in_memory_bm25_on_terms_in_fewer_than_half_the_sentences(tmp_path: Path) -> None:
    """FTS5's idf is log((N - df + 0.5) / (df + 0.5)), floored near 0 for terms in over half the
    sentences; the in-memory (Lucene) idf adds 1 inside the log: equal order for rarer terms."""
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
    index = Fts5LexicalIndex.open(index_path(tmp_path), content_terms, "content_terms")
    index.add([article(f"d{i}", [s]) for i, s in enumerate(sentences)])
    memory = MemoryBM25Index(sentences)
    for question in ("Which bank raised rates?", "Where did the storm flood?", "interest rates"):
        terms = content_terms(question)
        assert [int(h.key.doc_id[1:]) for h in index.search(terms, 4)] == memory.top(terms, 4), question
    idf = index.idf(["bank", "unseen"])
    assert idf == pytest.approx({"bank": memory.idf("bank"), "unseen": memory.idf("unseen")})


# --- errors -----------------------------------------------------------------------------------
def test_a_damaged_file_gives_an_error_naming_it(tmp_path: Path) -> None:
    path = index_path(tmp_path)
    path.write_bytes(b"this is not a database, just some bytes " * 200)
    with pytest.raises(StoreError, match=re.escape(str(path))) as caught:
        Fts5LexicalIndex.open(path, analyze, ANALYZER)
    assert "not a database" in str(caught.value) and "rebuild" in str(caught.value)


def test_a_folder_where_the_file_should_be_gives_an_error_naming_it(tmp_path: Path) -> None:
    path = index_path(tmp_path)
    path.mkdir()
    with pytest.raises(StoreError, match=re.escape(str(path))):
        Fts5LexicalIndex.open(path, analyze, ANALYZER)


def test_a_missing_file_is_an_error_when_asked_not_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        Fts5LexicalIndex.open(index_path(tmp_path), analyze, ANALYZER, create=False)
    assert not index_path(tmp_path).exists()


def test_a_file_made_with_another_analyzer_is_refused(index: Fts5LexicalIndex) -> None:
    with pytest.raises(StoreError, match=r"analyzer 'test-words/v1'.*rebuild"):
        Fts5LexicalIndex.open(index.path, content_terms, "content_terms")


# --- other processes --------------------------------------------------------------------------
READER = """
import time
from pathlib import Path
from benchmarks.baselines.fts5_index import Fts5LexicalIndex
from tests.ingest.storage.lexical_data import ANALYZER, analyze
index = Fts5LexicalIndex.open(Path({path!r}), analyze, ANALYZER, create=False)
seen = index.generation()
print("ready", flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if index.generation() != seen:
        print(",".join(h.key.doc_id for h in index.search(["dam"], 5)), flush=True)
        break
    time.sleep(0.05)
"""


def test_a_reader_in_another_process_sees_a_write_within_two_seconds(index: Fts5LexicalIndex) -> None:
    index.add([TALKS])
    reader = child(READER.format(path=str(index.path)))
    assert reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read() if reader.stderr else ""
        index.add([DAM])
        written = time.monotonic()
        line = reader.stdout.readline().strip()
        assert time.monotonic() - written < 2.0
        assert set(line.split(",")) == {"dam", "talks"}
    finally:
        reader.kill()
        reader.communicate()


STALLED_WRITER = """
import time
from pathlib import Path
from benchmarks.baselines.fts5_index import Fts5LexicalIndex
from tests.ingest.storage.lexical_data import ANALYZER, TALKS, analyze, article
index = Fts5LexicalIndex.open(Path({path!r}), analyze, ANALYZER)
def group():
    yield article("dam", ["The dam burst."], version="v2", source="Wire")
    yield TALKS
    print("inside the transaction", flush=True)
    time.sleep(120)
    yield article("late", ["Never written."])
index.add(group())
"""


@pytest.fixture
def stalled_writer(index: Fts5LexicalIndex) -> Iterator[subprocess.Popen[str]]:
    """A process that has written part of a group (replacing DAM, adding TALKS) inside one
    transaction, and waits there."""
    index.add([DAM])
    writer = child(STALLED_WRITER.format(path=str(index.path)))
    assert writer.stdout is not None
    line = writer.stdout.readline().strip()
    assert line == "inside the transaction", writer.stderr.read() if writer.stderr else ""
    yield writer
    writer.kill()
    writer.communicate()


def test_readers_see_the_last_commit_while_another_process_is_inside_a_write(
    index: Fts5LexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    assert (index.versions(), index.generation()) == ({"dam": "v1"}, 1)
    assert [h.key.doc_id for h in index.search(["dam"], 5)] == ["dam"]


def test_a_writer_killed_mid_transaction_leaves_the_last_commit_whole(
    index: Fts5LexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    stalled_writer.send_signal(signal.SIGKILL)
    stalled_writer.wait()
    reopened = Fts5LexicalIndex.open(index.path, analyze, ANALYZER)
    assert reopened.check() == []
    assert (reopened.versions(), reopened.generation(), reopened.sentence_count()) == ({"dam": "v1"}, 1, 3)
    assert [s.text for s in reopened.article_sentences("dam")] == [DAM.text[a:b] for a, b in DAM.spans]
    reopened.add([TALKS])  # the kill left no lock behind
    assert reopened.doc_count() == 2 and reopened.check() == []


def test_a_second_writer_waits_at_most_its_timeout_and_says_why(
    index: Fts5LexicalIndex, stalled_writer: subprocess.Popen[str]
) -> None:
    impatient = Fts5LexicalIndex.open(index.path, analyze, ANALYZER, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(StoreError, match="write lock"):
        impatient.add([UNDATED])
    assert time.monotonic() - started < 3.0
