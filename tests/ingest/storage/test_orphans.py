"""Orphan sentence records (a write killed between Chroma's calls) are purged by the next ingest, and
a store without any is not read record by record to find out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.components import IngestComponents
from ingest.storage.store import NewsStore
from tests.conftest import SAMPLE


def orphan_ids(store: NewsStore, doc_id: str) -> list[str]:
    """Leave what a killed write leaves: sentence records of an older version of ``doc_id`` (the
    article record moved on) and of an article whose record never committed."""
    got = store.sentences.get(where={"doc_id": doc_id}, limit=3, include=["embeddings", "metadatas"])
    assert got["embeddings"] is not None and len(got["ids"]) == 3
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    old = [{**(m or {}), "version": "an-older-version"} for m in got["metadatas"] or []]
    never = [{**(m or {}), "doc_id": "never-committed"} for m in got["metadatas"] or []]
    ids = [f"{doc_id}:old:{n}" for n in range(3)] + [f"never-committed:{n}" for n in range(3)]
    metadatas: Any = old + never
    store.sentences.upsert(ids=ids, embeddings=np.concatenate([vectors, vectors]), metadatas=metadatas)
    return ids


def test_the_next_ingest_purges_the_sentence_records_a_killed_write_left(
    components: IngestComponents, tmp_path: Path
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    store = components.store
    [article] = list(store.iter_articles())
    articles, sentences = store.count()
    ids = orphan_ids(store, article.doc_id)
    assert store.count() == (articles, sentences + 6)
    other = tmp_path / "other.txt"
    other.write_text("A council in Quendale met on Monday. " * 30, encoding="utf-8")
    components.pipeline.run([str(other)], show_progress=False)
    assert store.sentences.get(ids=ids)["ids"] == []
    assert store.count()[1] == store.lexical_sync.index.sentence_count()


def test_a_store_without_orphans_is_not_read_record_by_record(
    components: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    store = components.store

    def read_all(*_: object, **__: object) -> object:
        raise AssertionError("every sentence record read to find orphans in a store with none")

    monkeypatch.setattr(store, "iter_sentences", read_all)
    assert store.purge_orphans() == 0
    orphan_ids(store, next(iter(store.iter_articles())).doc_id)
    monkeypatch.undo()
    assert store.purge_orphans() == 2
