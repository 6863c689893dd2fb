"""The article-level lexical index (BM25 over whole articles), written with the sentence index by the
store's write path and filled again from its records when it falls behind: real Chroma, real model."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from ingest.components import IngestComponents
from ingest.storage.article_index import articles_path
from ingest.storage.lexical_records import SearchFilters
from ingest.storage.store import NewsStore
from ingest.terms import content_terms
from tests.ingest.storage.test_lexical_sync import ROWS, ingest


def best(store: NewsStore, words: str, filters: SearchFilters | None = None) -> list[str]:
    return [doc_id for doc_id, _ in store.lexical.article_index.search(content_terms(words), 10, filters)]


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
        assert [d for d, _ in reopened.lexical.article_index.search(content_terms("zeppelin"), 3)] == ["dam"]
    finally:
        reopened.close()
