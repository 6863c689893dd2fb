"""Retrieve articles, then read them: the candidates that whole articles add.

Sentence retrieval (dense and BM25 neighbours of the question) misses the answer when the sentence
that holds it shares few words with the question: "Who did he meet?" is answered by the sentence
after the one that names the meeting. So the best articles are chosen too (:func:`chosen_articles`:
BM25 over each article's title and text, ``article_candidates`` of them, and the best
``recent_article_candidates`` of those published in the ``recent_days`` before the question's day:
the recency channel), and all their sentences are read.

An article holds about 95 sentences, so 30 articles hold some 2,800: too many for the learned
ranker's features within the latency budget. A first pass (:func:`read_articles`) scores each of
them from what costs nothing more to read, computed for all of them at once with numpy
(:data:`FIRST_PASS_FEATURES`): its cosine with the question from the int8 vectors the article index
keeps beside each article (:mod:`ingest.storage.quantized`) and its neighbours', its BM25 (one query
of the sentence index for all of them) and its neighbours', its place in its article, its length,
its article's rank, channel and title. A logistic model over them (:class:`FirstPass`,
``assistant/models/first_pass.json``, fitted on the 2022 weeks by ``python -m assistant.ranker_fit``
with the ranker) gives the score; the ``read_sentences`` best join the candidates, marked with their
article's rank and channel (features of the ranker), which reads them with everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from assistant.core.sections import RetrievalSettings
from assistant.retrieval.corpus import CorpusView, SentenceVectors
from assistant.retrieval.filters import FilterSpec
from assistant.retrieval.models import fitted_model
from assistant.text.question import Question
from ingest.embedding.embedder import Vectors
from ingest.storage.article_index import ArticleHit
from ingest.storage.lexical_records import SearchFilters
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from ingest.storage.quantized import int8_cosines
from ingest.storage.records import sentence_id

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DAY_S = 86400
FIRST_STAGE_MODEL = "first_pass.json"
POOL_LEXICAL_K = 200  # the pool's sentences whose BM25 is read (each costs a read of its document)
FIRST_PASS_FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "lexical",
    "neighbour_lexical",
    "neighbour_dense",
    "lead",
    "second",
    "position",
    "relative_position",
    "article_sentences",
    "article_rank",
    "recent",
    "title",
    "chars",
)


@dataclass(frozen=True)
class ChosenArticles:
    """The articles to read whole: doc_id -> its hit, best first (the BM25 channel's, then the
    recency channel's not among them), and which came from the recency channel."""

    hits: dict[str, ArticleHit] = field(default_factory=dict)
    recent: frozenset[str] = frozenset()

    @cached_property
    def ranks(self) -> dict[str, int]:
        """doc_id -> its rank (0: the best)."""
        return {doc_id: rank for rank, doc_id in enumerate(self.hits)}


def chosen_articles(
    index: TantivyLexicalIndex,
    settings: RetrievalSettings,
    question: Question,
    spec: FilterSpec,
    today: date | None,
) -> ChosenArticles:
    """The best ``article_candidates`` articles by BM25 over title and text within the question's
    filters, then the best ``recent_article_candidates`` of those published in the ``recent_days``
    before ``today`` (none without a day, or when the filters end before that window)."""
    articles, bounds = index.article_index, spec.search_filters()
    hits = {h.doc_id: h for h in articles.search(question.terms, settings.article_candidates, bounds)}
    recent: set[str] = set()
    if settings.recent_article_candidates and today is not None:
        end = int(datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC).timestamp()) - 1
        start = end + 1 - (settings.recent_days + 1) * DAY_S
        ts_from = start if bounds.ts_from is None else max(start, bounds.ts_from)
        ts_to = end if bounds.ts_to is None else min(end, bounds.ts_to)
        if ts_from <= ts_to:
            window = replace(bounds, ts_from=ts_from, ts_to=ts_to)
            for hit in articles.search(question.terms, settings.recent_article_candidates, window):
                recent.add(hit.doc_id)
                hits.setdefault(hit.doc_id, hit)
    return ChosenArticles(hits, frozenset(recent))


@dataclass(frozen=True)
class ArticleReading:
    """What the first pass reads with: the question's view, index, terms and vector, and the store's
    vectors (for an article whose int8 vectors the article index does not hold for its version)."""

    view: CorpusView
    index: TantivyLexicalIndex
    question: Question
    vector: Vectors
    stored: SentenceVectors


@dataclass(frozen=True)
class ReadSentence:
    """A sentence of an article read whole that the first pass kept: its row, its cosine (from the
    int8 vectors) and its BM25 (0 below the pool's best ``POOL_LEXICAL_K``)."""

    row: int
    dense: float
    lexical: float


@dataclass(frozen=True)
class Pool:
    """Every sentence of the chosen articles the view holds, in article order then text order: its
    row, the first pass's features (one row each, :data:`FIRST_PASS_FEATURES`) and score."""

    rows: IntArray
    features: FloatArray
    scores: FloatArray
    lexical: dict[int, float]  # BM25 by row, of those that match the question

    @classmethod
    def empty(cls) -> Pool:
        width = len(FIRST_PASS_FEATURES)
        return cls(np.zeros(0, np.int64), np.zeros((0, width)), np.zeros(0), {})


class FirstPass:
    """The first pass's logistic model: standardized features, weights and intercept (a JSON file)."""

    def __init__(self, folder: Path | None = None, model: dict[str, Any] | None = None) -> None:
        self.folder = folder
        self._given = model

    @cached_property
    def model(self) -> dict[str, Any]:
        return fitted_model(
            self.folder, FIRST_STAGE_MODEL, "the first pass", FIRST_PASS_FEATURES, self._given
        )

    @cached_property
    def _coefficients(self) -> tuple[FloatArray, FloatArray, FloatArray, float]:
        m = self.model
        return (
            np.asarray(m["mean"], dtype=np.float64),
            np.asarray(m["scale"], dtype=np.float64),
            np.asarray(m["weights"], dtype=np.float64),
            float(m["intercept"]),
        )

    def scores(self, features: FloatArray) -> FloatArray:
        mean, scale, weights, intercept = self._coefficients
        return np.asarray(((features - mean) / scale) @ weights + intercept, dtype=np.float64)


def pool_of(reading: ArticleReading, chosen: ChosenArticles, first_pass: FirstPass) -> Pool:
    """The pool of the chosen articles' sentences, with the first pass's features and scores."""
    view = reading.view
    spans: list[range] = []
    hits: list[ArticleHit] = []
    ranks: list[int] = []
    for rank, (doc_id, hit) in enumerate(chosen.hits.items()):
        article_rows = view.article_rows(doc_id)
        if article_rows:
            spans.append(article_rows)
            hits.append(hit)
            ranks.append(rank)
    if not spans:
        return Pool.empty()
    rows = np.concatenate([np.arange(r.start, r.stop, dtype=np.int64) for r in spans])
    lexical = pool_lexical(reading, frozenset(chosen.hits))
    articles = PoolArticles(
        spans, _cosines(reading, hits, spans), ranks, [h.doc_id in chosen.recent for h in hits]
    )
    features = pool_features(reading, articles, rows, lexical)
    return Pool(rows, features, first_pass.scores(features), lexical)


@dataclass(frozen=True)
class PoolArticles:
    """The pool's articles in order: their rows in the view, their sentences' cosines (all articles'
    in one array), their ranks among the chosen articles and whether the recency channel chose them."""

    spans: list[range]
    cosines: FloatArray
    ranks: list[int]
    recent: list[bool]


def pool_lexical(reading: ArticleReading, doc_ids: frozenset[str]) -> dict[int, float]:
    """The BM25 of the ``POOL_LEXICAL_K`` best sentences of the articles ``doc_ids``, by row (one
    query of the sentence index; the others count as matching nothing)."""
    view, found = reading.view, {}
    spans = {doc_id: view.article_rows(doc_id) for doc_id in doc_ids}
    for hit in reading.index.search(reading.question.terms, POOL_LEXICAL_K, SearchFilters(doc_ids=doc_ids)):
        span = spans.get(hit.key.doc_id, range(0))
        row: int | None = span.start + hit.key.index
        if row not in span or int(view.s_index[row]) != hit.key.index:
            row = view.row_of(hit.key.doc_id, hit.key.index)  # an article with a sentence left out
        if row is not None:
            found[row] = hit.score
    return found


def pool_features(
    reading: ArticleReading, articles: PoolArticles, rows: IntArray, lexical: dict[int, float]
) -> FloatArray:
    """:data:`FIRST_PASS_FEATURES` of every sentence of the pool (numpy over the whole pool)."""
    view = reading.view
    lengths = np.array([len(r) for r in articles.spans], dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    first = np.r_[True, owner[1:] != owner[:-1]]
    last = np.r_[owner[1:] != owner[:-1], True]
    at = np.full(view.size, -1, dtype=np.int64)
    at[rows] = np.arange(len(rows))
    raw = np.zeros(len(rows))
    if lexical:
        raw[at[np.fromiter(lexical, dtype=np.int64)]] = np.fromiter(lexical.values(), dtype=np.float64)
    lex = raw / (raw.max() if raw.max() > 0 else 1.0)
    dense = articles.cosines
    index = view.s_index[rows].astype(np.float64)
    n = np.repeat(lengths, lengths).astype(np.float64)
    question = np.asarray(reading.vector, dtype=np.float32)
    if view.title_vectors.size:
        positions = [view.doc_pos[view.doc_id(r.start)] for r in articles.spans]
        titles = (view.title_vectors[positions] @ question).astype(np.float64)
    else:
        titles = np.zeros(len(lengths))
    return np.column_stack(
        [
            dense,
            dense - dense.max(),
            lex,
            _neighbour_max(lex, first, last),
            _neighbour_max(dense, first, last),
            (index == 0).astype(np.float64),
            (index == 1).astype(np.float64),
            np.log1p(index),
            index / n,
            np.log1p(n),
            (1.0 / (1.0 + np.asarray(articles.ranks, dtype=np.float64)))[owner],
            np.asarray(articles.recent, dtype=np.float64)[owner],
            titles[owner],
            np.log1p((view.s_end - view.s_start)[rows].astype(np.float64)),
        ]
    )


def _neighbour_max(
    values: FloatArray, first: npt.NDArray[np.bool_], last: npt.NDArray[np.bool_]
) -> FloatArray:
    """The larger of each value's neighbours' in the same article (0 past an article's ends)."""
    before = np.r_[0.0, values[:-1]]
    after = np.r_[values[1:], 0.0]
    before[first] = 0.0
    after[last] = 0.0
    return np.asarray(np.maximum(before, after), dtype=np.float64)


def read_articles(reading: ArticleReading, pool: Pool, have: set[int], keep: int) -> list[ReadSentence]:
    """The ``keep`` best sentences of the pool by the first pass (0: all) that are not among
    ``have`` (the candidates already), best first, boilerplate left out."""
    view = reading.view
    order = [int(i) for i in np.argsort(-pool.scores, kind="stable") if int(pool.rows[i]) not in have]
    kept = order if keep < 1 else order[: keep + keep // 4]  # room for the boilerplate left out
    view.mark_boilerplate(int(pool.rows[i]) for i in kept)
    kept = [i for i in kept if not view.is_boilerplate(int(pool.rows[i]))]
    kept = kept if keep < 1 else kept[:keep]
    rows = [int(pool.rows[i]) for i in kept]
    return [ReadSentence(r, float(pool.features[i, 0]), pool.lexical.get(r, 0.0)) for i, r in zip(kept, rows)]


def _cosines(reading: ArticleReading, hits: list[ArticleHit], spans: list[range]) -> FloatArray:
    """The cosine of each sentence of the articles with the question, in pool order: from their int8
    vectors (one product for all) when the article index holds them for the version read, else from
    the store (exact, slower)."""
    view, vector = reading.view, np.asarray(reading.vector, dtype=np.float32)
    dim = vector.size
    fresh = [
        h.version == view.articles[h.doc_id].version and len(h.vectors) == len(r) * dim
        for h, r in zip(hits, spans)
    ]
    packed = b"".join(h.vectors for h, ok in zip(hits, fresh) if ok)
    quantized = int8_cosines(packed, vector) if packed else np.zeros(0)
    parts, at = [], 0
    for hit, article_rows, ok in zip(hits, spans, fresh):
        if ok:
            parts.append(quantized[at : at + len(article_rows)])
            at += len(article_rows)
        else:
            parts.append(_stored_cosines(reading, hit.doc_id, article_rows))
    return np.concatenate(parts)


def _stored_cosines(reading: ArticleReading, doc_id: str, rows: range) -> FloatArray:
    view, vector = reading.view, np.asarray(reading.vector, dtype=np.float32)
    version = view.articles[doc_id].version
    ids = [sentence_id(doc_id, version, int(view.s_index[r])) for r in rows]
    found = reading.stored.get(ids)
    return np.array([float(found[i] @ vector) if i in found else 0.0 for i in ids])
