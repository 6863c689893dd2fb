"""The store's lexical index, written by the store's write path: real Chroma, the real model."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.core.errors import StoreError
from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.storage.in_step import IN_STEP
from ingest.storage.lexical_records import SentenceKey
from ingest.storage.lexical_sync import LexicalSync
from ingest.storage.lexical_tantivy import SETTINGS_FILE, TantivyLexicalIndex
from ingest.storage.records import SPANS_KEY
from ingest.storage.store import NewsStore
from ingest.storage.tantivy_schema import line_key
from ingest.terms import content_terms
from tests.ingest.storage.lexical_data import child
from tests.ingest.test_pipeline import write_jsonl

SIGN_UP = "Sign up for our newsletter."
ROWS = [
    {
        "id": "dam",
        "title": "Dam opens",
        "text": f"The zeppelin dam opened on Tuesday.\nIt took eleven years to build.\n{SIGN_UP}",
        "published": "2022-06-10",
        "source": "Wire",
    },
    {
        "id": "talks",
        "title": "Talks resume",
        "text": f"Talks resumed in Damascus.\nThe dam was not discussed.\n{SIGN_UP}",
        "published": "2022-06-20",
        "source": "Wire",
    },
    {"id": "blog", "text": f"A dam story without a date.\n{SIGN_UP}", "source": "Blog"},
]


def found(store: NewsStore, words: str, k: int = 10) -> list[SentenceKey]:
    return [hit.key for hit in store.lexical.search(content_terms(words), k)]


def chroma_versions(store: NewsStore) -> dict[str, str]:
    """The stored articles with sentences (the others have nothing to index), at their versions."""
    return {a.doc_id: a.version for a in store.iter_articles() if a.spans != ()}


def consistent(store: NewsStore) -> bool:
    """The index holds exactly Chroma's articles, at their versions, each with all its sentences."""
    return store.lexical.check() == [] and store.lexical.stale(chroma_versions(store)) == ([], [])


def ingest(components: IngestComponents, rows: list[dict[str, str]], name: str = "rows.jsonl") -> None:
    path = write_jsonl(components.settings.store_dir.parent / name, rows)
    report = components.pipeline.run([str(path)], show_progress=False)
    assert report.ok, report.failed


@pytest.fixture
def ingested(components: IngestComponents) -> IngestComponents:
    ingest(components, ROWS)
    return components


def test_an_ingest_makes_every_committed_sentence_findable_in_the_store_lexical_index(
    ingested: IngestComponents,
) -> None:
    store = ingested.store
    assert store.lexical.path == ingested.settings.store_dir / "lexical.tantivy" / "news"
    assert found(store, "zeppelin") == [SentenceKey("dam", 0)]
    assert set(found(store, "dam")) == {
        SentenceKey("dam", 0),
        SentenceKey("talks", 1),
        SentenceKey("blog", 0),
    }
    spans = {a.doc_id: a.spans for a in store.iter_articles()}
    assert store.lexical.sentence_count() == sum(len(s or ()) for s in spans.values()) == 8
    assert consistent(store)


def test_a_changed_article_replaces_its_sentences_and_a_delete_removes_them(
    ingested: IngestComponents,
) -> None:
    store = ingested.store
    ingest(ingested, [{**ROWS[0], "text": "The airship dam closed again."}], "changed.jsonl")
    assert found(store, "zeppelin") == [] and found(store, "airship") == [SentenceKey("dam", 0)]
    assert store.lexical.versions()["dam"] == store.require_article("dam").version
    ingested.pipeline.delete("talks")
    assert found(store, "Damascus") == [] and "talks" not in store.lexical.versions()
    assert consistent(store)


def test_a_writer_opening_a_store_in_step_with_its_index_writes_nothing_to_it(
    ingested: IngestComponents,
) -> None:
    ingest(ingested, [{"id": "dots", "text": "..."}], "dots.jsonl")  # an article of no sentence
    assert ingested.store.require_article("dots").spans == ()
    generation = ingested.store.lexical.generation()
    reopened = NewsStore(ingested.settings.store)
    reopened.lexical_sync.prepare(show_progress=False)
    assert reopened.lexical.generation() == generation and consistent(reopened)


def test_boilerplate_lines_and_the_newest_articles_come_from_the_store_index(
    ingested: IngestComponents,
) -> None:
    lexical = ingested.store.lexical
    wire, blog = line_key("Wire", SIGN_UP), line_key("Blog", SIGN_UP)
    assert lexical.line_articles([wire, blog, line_key("Wire", "Talks resumed in Damascus.")], cap=3) == {
        wire: 2,
        blog: 1,
        line_key("Wire", "Talks resumed in Damascus."): 1,
    }
    assert lexical.newest_articles(2) == ["talks", "dam"]
    assert lexical.newest_articles(5) == ["talks", "dam", "blog"]  # undated last


# --- a crash between the Chroma commit and the index commit --------------------------------------
def crash(*args: object, **kwargs: object) -> int:
    raise StoreError("killed between the Chroma commit and the index commit")


def die_after_chroma_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's index writes never happen, as if the process died right after each Chroma commit."""
    monkeypatch.setattr(LexicalSync, "write", crash)
    monkeypatch.setattr(LexicalSync, "delete", crash)


def test_articles_committed_to_chroma_but_not_to_the_index_are_indexed_when_a_writer_next_opens_the_store(
    ingested: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        die_after_chroma_commits(patched)
        with pytest.raises(StoreError, match="killed between"):
            ingest(
                ingested,
                [{**ROWS[0], "text": "The airship dam closed."}, {"id": "new", "text": "Ferry news."}],
            )
        with pytest.raises(StoreError, match="killed between"):
            ingested.pipeline.delete("talks")
    assert set(chroma_versions(ingested.store)) == {"dam", "blog", "new"}  # Chroma committed all three
    ingested.store.close()
    reopened = NewsStore(ingested.settings.store)
    assert found(reopened, "airship") == [] and found(reopened, "Damascus") != []  # the index is behind
    assert not consistent(reopened)
    reopened.lexical_sync.prepare(show_progress=False)  # what a writer does before its first write
    assert consistent(reopened)
    assert found(reopened, "airship") == [SentenceKey("dam", 0)] and found(reopened, "ferry") == [
        SentenceKey("new", 0)
    ]
    assert found(reopened, "Damascus") == [] and found(reopened, "zeppelin") == []


def test_a_store_its_last_writer_left_in_step_is_opened_without_comparing_versions(
    ingested: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = ingested.store.lexical_sync.path / IN_STEP
    assert marker.is_file()  # the ingest's last write landed
    ingested.store.close()
    compared: list[int] = []
    stale = LexicalSync._stale

    def counted(self: LexicalSync, index: TantivyLexicalIndex) -> list[str]:
        compared.append(1)
        return stale(self, index)

    monkeypatch.setattr(LexicalSync, "_stale", counted)
    NewsStore(ingested.settings.store).lexical_sync.prepare(show_progress=False)
    assert compared == []
    mark = json.loads(marker.read_text(encoding="utf-8"))
    marker.write_text(json.dumps({**mark, "articles": mark["articles"] + 1}), encoding="utf-8")
    NewsStore(ingested.settings.store).lexical_sync.prepare(show_progress=False)  # counts differ: checked
    assert compared == [1] and json.loads(marker.read_text(encoding="utf-8")) == mark


def test_a_write_killed_between_the_commits_leaves_no_in_step_mark(
    ingested: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = ingested.store.lexical_sync.path / IN_STEP
    with monkeypatch.context() as patched:
        die_after_chroma_commits(patched)
        with pytest.raises(StoreError, match="killed between"):
            ingest(ingested, [{"id": "new", "text": "Ferry news."}], "new.jsonl")
    assert not marker.exists()
    ingested.store.close()
    reopened = NewsStore(ingested.settings.store)
    reopened.lexical_sync.prepare(show_progress=False)
    assert found(reopened, "ferry") == [SentenceKey("new", 0)] and consistent(reopened) and marker.is_file()


def test_after_a_failed_index_write_the_same_store_repairs_before_its_next_write(
    ingested: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(TantivyLexicalIndex, "add", crash)  # the index write itself fails
        with pytest.raises(StoreError):
            ingest(ingested, [{"id": "lost", "text": "The lost ferry."}], "lost.jsonl")
    ingest(ingested, [{"id": "next", "text": "The next ferry."}], "next.jsonl")
    assert {k.doc_id for k in found(ingested.store, "ferry")} == {"lost", "next"}
    assert consistent(ingested.store)


def test_articles_stored_before_records_kept_their_offsets_are_indexed_from_their_sentence_records(
    ingested: IngestComponents,
) -> None:
    store = ingested.store
    expected = {(k.doc_id, k.index) for k in found(store, "dam")}
    store.articles.update(ids=["dam", "talks"], metadatas=[{SPANS_KEY: None}, {SPANS_KEY: None}])
    assert store.require_article("dam").spans is None
    store.lexical_sync.rebuild(show_progress=False)
    assert {(k.doc_id, k.index) for k in found(store, "dam")} == expected
    assert consistent(store)


# --- unreadable index folders -------------------------------------------------------------------
def test_reindex_rebuilds_a_deleted_index_folder_and_prints_a_summary(
    ingested: IngestComponents, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = ingested.store.lexical.path
    ingested.store.close()
    shutil.rmtree(folder)
    assert main(["--store", str(ingested.settings.store_dir), "reindex", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["articles"], summary["sentences"]) == (3, 8) and summary["seconds"] >= 0
    store = NewsStore(ingested.settings.store)
    assert found(store, "zeppelin") == [SentenceKey("dam", 0)] and consistent(store)
    assert main(["--store", str(ingested.settings.store_dir), "reindex", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("reindexed 3 articles (8 sentences) into ")


@pytest.mark.parametrize("damage", ["garbage meta.json", "first schema", "a file"])
def test_an_unreadable_index_is_refused_to_readers_and_rebuilt_by_the_next_writer(
    ingested: IngestComponents, damage: str
) -> None:
    folder = ingested.store.lexical.path
    ingested.store.close()
    if damage == "garbage meta.json":
        (folder / "meta.json").write_bytes(b"not an index " * 100)
    elif damage == "first schema":
        (folder / SETTINGS_FILE).write_text(json.dumps({"schema": "1", "analyzer": "x"}))
    else:
        shutil.rmtree(folder)
        folder.write_text("not a folder")
    store = NewsStore(ingested.settings.store)
    with pytest.raises(StoreError, match="newsdesk reindex") as refused:
        store.lexical.search(["dam"], 5)
    assert str(folder) in str(refused.value)
    store.lexical_sync.prepare(show_progress=False)
    assert found(store, "zeppelin") == [SentenceKey("dam", 0)] and consistent(store)


# --- other processes ----------------------------------------------------------------------------
WRITER = """
import sys
import numpy as np
from assistant.core.settings import Settings
from ingest.storage.records import ArticleWrite
from ingest.storage.store import NewsStore
from assistant.core.types import Span
store = NewsStore(Settings(store_dir=sys.argv[1]).store)
text = "A hovercraft crossed the lake."
vectors = np.full((2, 384), 384 ** -0.5, dtype=np.float32)
meta = {"version": "v-child", "title": "Hovercraft", "source": "Child"}
with store.write_lock():
    store.write_articles([ArticleWrite("child", text, meta, vectors[0], [Span(0, len(text))], vectors[1:])])
print("written", flush=True)
"""


def test_a_write_by_another_process_is_found_here_without_reopening_the_index(
    ingested: IngestComponents,
) -> None:
    reader = ingested.store
    assert found(reader, "hovercraft") == []  # the index is open here
    generation = reader.lexical.generation()
    writer = child(WRITER.replace("sys.argv[1]", repr(str(ingested.settings.store_dir))))
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0 and out.strip() == "written", err
    assert reader.lexical.generation() > generation
    assert found(reader, "hovercraft") == [SentenceKey("child", 0)]
    assert consistent(reader)


def test_reindex_refuses_while_another_process_writes_to_the_store(
    ingested: IngestComponents, capsys: pytest.CaptureFixture[str]
) -> None:
    with ingested.store.write_lock():
        assert main(["--store", str(ingested.settings.store_dir), "reindex"]) == 2
    assert "another process is writing" in capsys.readouterr().err
