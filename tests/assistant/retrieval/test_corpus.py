"""The corpus view: built from the article records, the same as from the sentence records."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from assistant.retrieval import corpus
from assistant.retrieval.corpus import CorpusCache, committed_sentences
from ingest.components import IngestComponents
from ingest.storage.store import NewsStore
from ingest.types import Article
from tests.conftest import SAMPLE


def test_offsets_from_article_records_match_the_sentence_records_of_older_stores(
    components: IngestComponents,
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    articles = {a.doc_id: a for a in components.store.iter_articles()}
    legacy = {d: dataclasses.replace(a, spans=None) for d, a in articles.items()}
    from_articles = sorted(committed_sentences(components.store, articles), key=lambda s: s.index)
    from_sentences = sorted(committed_sentences(components.store, legacy), key=lambda s: s.index)
    assert from_articles == from_sentences
    assert len(from_articles) > 10


def test_the_view_cuts_every_sentence_from_its_article_text(components: IngestComponents) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    view = CorpusCache(components.store).get()
    [article] = view.articles.values()
    assert article.spans is not None
    assert [view.text(row) for row in range(view.size)] == [article.text[a:b] for a, b in article.spans]
    assert any("Evkurov" in view.text(row) for row in range(view.size))


def test_requests_during_a_rebuild_get_the_previous_view_and_the_rebuilder_the_new_one(
    components: IngestComponents, monkeypatch: pytest.MonkeyPatch
) -> None:
    components.pipeline.run([str(SAMPLE)], show_progress=False)
    cache = CorpusCache(components.store)
    old = cache.get()
    components.pipeline.ingest_articles(
        [Article(doc_id="dam", text="The dam opened on Tuesday. It took years.")]
    )
    started, release = threading.Event(), threading.Event()
    real_build = corpus.build_view

    def slow_build(store: NewsStore, generation: str) -> corpus.CorpusView:
        started.set()
        release.wait(timeout=60)
        return real_build(store, generation)

    monkeypatch.setattr(corpus, "build_view", slow_build)
    result: list[corpus.CorpusView] = []
    rebuilder = threading.Thread(target=lambda: result.append(cache.get()))
    rebuilder.start()
    assert started.wait(timeout=60)
    assert cache.get() is old  # not blocked behind the rebuild
    release.set()
    rebuilder.join(timeout=60)
    assert "dam" in result[0].articles and "dam" not in old.articles
    assert cache.get() is result[0]
