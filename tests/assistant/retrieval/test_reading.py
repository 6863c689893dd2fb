"""Retrieve articles, then read them: the chosen articles' sentences, cut by the first pass, join the
candidates; the recency channel; the int8 vectors against the exact ones (real Chroma, real model)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.core.errors import ConfigError
from assistant.retrieval.corpus import SentenceVectors
from assistant.retrieval.filters import FilterSpec
from assistant.retrieval.reading import (
    FIRST_PASS_FEATURES,
    ArticleReading,
    ChosenArticles,
    FirstPass,
    chosen_articles,
    pool_of,
)
from assistant.retrieval.retrieve import HybridSearch, Retrieval
from assistant.service import Assistant
from assistant.text.question import read_question
from ingest.storage.article_index import ArticleHit
from ingest.storage.records import sentence_id
from tests.assistant.conftest import dev_questions


def searching(assistant: Assistant, **settings: Any) -> HybridSearch:
    base = assistant.search
    return HybridSearch(base.settings.model_copy(update=settings), base.store, base.embedder, base.workers)


def ask(assistant: Assistant, today: date | None = None, **settings: Any) -> Retrieval:
    return searching(assistant, **settings).search(read_question(dev_questions()[0]["question"]), today=today)


def test_without_articles_to_read_the_candidates_are_the_sentence_searchs(dev_assistant: Assistant) -> None:
    retrieval = ask(dev_assistant, article_candidates=0, recent_article_candidates=0)
    assert retrieval.candidates and not any(c.read for c in retrieval.candidates)
    assert all(c.article_rank is None for c in retrieval.candidates)


def test_the_best_sentences_of_the_chosen_articles_join_the_candidates(dev_assistant: Assistant) -> None:
    plain = ask(dev_assistant, article_candidates=0)
    read = ask(dev_assistant, article_candidates=3, read_sentences=8)
    added = [c for c in read.candidates if c.read]
    assert 0 < len(added) <= 8
    assert {c.row for c in plain.candidates}.isdisjoint({c.row for c in added})  # new sentences only
    chosen = [
        h.doc_id for h in dev_assistant.components.store.lexical.article_index.search(read.question.terms, 3)
    ]
    assert {c.doc_id for c in added} <= set(chosen)
    for cand in read.candidates:  # every candidate of a chosen article knows its article's rank
        assert cand.article_rank == (chosen.index(cand.doc_id) if cand.doc_id in chosen else None)
    everything = ask(dev_assistant, article_candidates=3, read_sentences=0)
    every_row = {c.row for c in everything.candidates if c.read}
    assert {c.row for c in added} < every_row  # the first pass cut them from all the articles' sentences


def test_the_first_pass_cosines_from_int8_vectors_are_within_a_hundredth_of_the_stored_ones(
    dev_assistant: Assistant,
) -> None:
    retrieval = ask(dev_assistant, article_candidates=2, read_sentences=0)
    view, store = retrieval.view, dev_assistant.components.store
    vector = dev_assistant.search.embedder.embed_query(retrieval.question.text)
    for cand in (c for c in retrieval.candidates if c.read):
        exact = SentenceVectors(store).get(
            [sentence_id(cand.doc_id, view.articles[cand.doc_id].version, cand.index)]
        )
        assert abs(cand.dense - float(next(iter(exact.values())) @ vector)) < 0.01


def test_an_article_without_int8_vectors_for_its_version_is_read_from_the_store(
    dev_assistant: Assistant,
) -> None:
    question = read_question(dev_questions()[0]["question"])
    search = searching(dev_assistant, article_candidates=1)
    retrieval = search.search(question)
    chosen = chosen_articles(search.index, search.settings, question, FilterSpec.from_filters(None), None)
    ((doc_id, hit),) = chosen.hits.items()
    vector = search.embedder.embed_query(question.text)
    reading = ArticleReading(retrieval.view, search.index, question, vector, SentenceVectors(search.store))
    fresh = pool_of(reading, chosen, search.first_pass)
    stale = ChosenArticles({doc_id: ArticleHit(doc_id, hit.score, "an older version", hit.vectors)})
    reread = pool_of(reading, stale, search.first_pass)
    assert list(fresh.rows) == list(reread.rows) and len(fresh.rows) > 1
    assert np.abs(fresh.features[:, 0] - reread.features[:, 0]).max() < 0.01  # int8 against exact
    assert fresh.features[:, 0].tolist() != reread.features[:, 0].tolist()  # and they were read anew


def test_the_first_pass_features_describe_each_sentence_of_the_pool(dev_assistant: Assistant) -> None:
    retrieval = ask(dev_assistant, article_candidates=3, recent_article_candidates=0)
    pool = retrieval.pool
    assert pool is not None and pool.features.shape == (len(pool.rows), len(FIRST_PASS_FEATURES))
    column = {name: pool.features[:, i] for i, name in enumerate(FIRST_PASS_FEATURES)}
    view = retrieval.view
    index = np.array([view.s_index[r] for r in pool.rows])
    assert (column["lead"] == (index == 0)).all() and (column["second"] == (index == 1)).all()
    assert column["dense_gap"].max() == 0.0
    assert column["lexical"].min() >= 0.0 and column["lexical"].max() == 1.0  # relative to the pool's best
    assert set(np.round(column["article_rank"], 6)) <= {1.0, 0.5, round(1 / 3, 6)}
    for i, row in enumerate(pool.rows[1:-1], start=1):  # the larger of the neighbours' cosines
        if row + 1 < view.size and view.doc_id(int(row - 1)) == view.doc_id(int(row)) == view.doc_id(
            int(row + 1)
        ):
            assert column["neighbour_dense"][i] == max(column["dense"][i - 1], column["dense"][i + 1])


def test_a_first_pass_fitted_on_other_features_is_refused_with_the_command_that_refits_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "first_pass.json").write_text(json.dumps({"features": ["dense"], "weights": [1.0]}))
    with pytest.raises(ConfigError, match="ranker_fit"):
        FirstPass(tmp_path).scores(np.zeros((1, len(FIRST_PASS_FEATURES))))
    with pytest.raises(ConfigError, match="cannot read"):
        FirstPass(tmp_path / "nowhere").scores(np.zeros((1, len(FIRST_PASS_FEATURES))))


def test_the_recency_channel_reads_the_best_articles_of_the_days_before_the_question(
    dev_assistant: Assistant,
) -> None:
    store = dev_assistant.components.store
    published = sorted(
        int(a.metadata["published_ts"]) for a in store.iter_articles() if "published_ts" in a.metadata
    )
    middle = datetime.fromtimestamp(published[len(published) // 2], UTC).date()
    question = read_question(dev_questions()[0]["question"])
    search = searching(dev_assistant, article_candidates=0, recent_article_candidates=5, recent_days=7)
    chosen = chosen_articles(search.index, search.settings, question, FilterSpec.from_filters(None), middle)
    assert chosen.hits and set(chosen.hits) == chosen.recent
    start = datetime.combine(middle - timedelta(days=7), datetime.min.time(), UTC).timestamp()
    end = datetime.combine(middle + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    for doc_id in chosen.hits:
        ts = float(str(dev_assistant.document(doc_id).metadata["published_ts"]))
        assert start <= ts < end
    assert not chosen_articles(
        search.index, search.settings, question, FilterSpec.from_filters(None), None
    ).hits
    retrieval = search.search(question, today=middle)
    assert any(c.recent for c in retrieval.candidates)  # the recent articles' best sentences joined
    assert {c.doc_id for c in retrieval.candidates if c.recent} <= set(chosen.hits)
    assert all(c.recent == (c.doc_id in chosen.recent) for c in retrieval.candidates)
    assert np.all([c.article_rank is not None for c in retrieval.candidates if c.recent])
