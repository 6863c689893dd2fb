"""The article-level lexical index (BM25 over whole articles), written with the sentence index by the
store's write path and filled again from its records when it falls behind: real Chroma, real model."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ingest.components import IngestComponents
from ingest.storage.article_index import articles_path
from ingest.storage.lexical_records import SearchFilters
from ingest.storage.quantized import int8_cosines
from ingest.storage.records import ID_SEP
from ingest.storage.store import NewsStore
from ingest.terms import content_terms
from tests.ingest.storage.test_lexical_sync import ROWS, ingest


def best(store: NewsStore, words: str, filters: SearchFilters | None = None) -> list[str]:
    return [hit.doc_id for hit in store.lexical.article_index.search(content_terms(words), 10, filters)]


def test_articles_are_ranked_whole_and_follow_writes_and_deletes(components: IngestComponents) -> None:
    ingest(components, ROWS)
    store = components.store
    assert store.lexical.article_index.count() == store.lexical.doc_count() == 3
    assert best(store, "Talks resume Damascus")[0] == "talks"  # title and text, one document
    assert set(best(store, "dam")) == {"dam", "talks", "blog"}
    after_june_15 = int(datetime(2022, 6, 15, tzinfo=UTC).timestamp())
    assert best(store, "dam", SearchFilters(ts_from=after_june_15)) == ["talks"]
    assert best(store, "dam", SearchFilters(sources=frozenset({"Blog"}))) == ["blog"]
    components.pipeline.delete("talks")
    assert "talks" not in best(store, "Talks resume Damascus")
    assert store.lexical.article_index.count() == 2


def test_a_lost_article_index_is_filled_again_from_the_sentence_records(components: IngestComponents) -> None:
    ingest(components, ROWS)
    store = components.store
    store.close()
    shutil.rmtree(articles_path(store.lexical_sync.path))
    reopened = NewsStore(components.settings.store)
    try:
        with reopened.write_lock():
            reopened.lexical_sync.prepare(show_progress=False)
        assert reopened.lexical.article_index.count() == 3
        found = reopened.lexical.article_index.search(content_terms("zeppelin"), 3)
        assert [hit.doc_id for hit in found] == ["dam"]
    finally:
        reopened.close()


def stored_vectors(store: NewsStore, doc_id: str) -> np.ndarray:
    """The exact vectors of an article's sentences, from Chroma, in text order."""
    got: Any = store.sentences.get(where={"doc_id": doc_id}, include=["embeddings"])
    order = sorted(range(len(got["ids"])), key=lambda i: int(got["ids"][i].rsplit(ID_SEP, 1)[1]))
    return np.asarray([got["embeddings"][i] for i in order], dtype=np.float32)


def assert_vectors_kept(store: NewsStore) -> None:
    """Each article's hit carries one int8 row per sentence, each within 0.01 of the stored vector."""
    for hit in store.lexical.article_index.search(content_terms("dam talks zeppelin damascus"), 10):
        exact = stored_vectors(store, hit.doc_id)
        assert len(hit.vectors) == exact.size, hit.doc_id  # one int8 row per sentence
        kept = [int8_cosines(hit.vectors, row)[i] for i, row in enumerate(exact)]
        assert np.abs(np.array(kept) - 1.0).max() < 0.01  # each row with its own exact vector
        record: Any = store.articles.get(ids=[hit.doc_id])
        assert hit.version == record["metadatas"][0]["version"]


def test_the_article_index_keeps_each_sentences_vector_as_int8_through_writes_fills_and_rebuilds(
    components: IngestComponents,
) -> None:
    ingest(components, ROWS)
    store = components.store
    assert_vectors_kept(store)  # written with the articles
    store.close()
    shutil.rmtree(articles_path(store.lexical_sync.path))
    reopened = NewsStore(components.settings.store)
    try:
        with reopened.write_lock():
            reopened.lexical_sync.prepare(show_progress=False)  # filled from the records and Chroma
            assert_vectors_kept(reopened)
            reopened.lexical_sync.rebuild(show_progress=False)
        assert_vectors_kept(reopened)
    finally:
        reopened.close()
