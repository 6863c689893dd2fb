"""Hybrid sentence retrieval: dense (Chroma) + lexical (BM25) candidates, fused by reciprocal rank.

:class:`HybridSearch` does the work and returns :class:`Candidate` sentences with every signal the
answerer scores (dense similarity, BM25, ranks, the article title's similarity). Filters (published
date range, sources) bound the lexical index's search and, through it, the dense side
(:meth:`HybridSearch._dense`). :class:`SentenceRetriever` wraps the search as a LangChain
``BaseRetriever`` returning one ``Document`` per sentence, with the citation offsets in its metadata.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.core.sections import RetrievalSettings
from assistant.retrieval.corpus import ArticleReads, CorpusView, SentenceVectors, build_view
from assistant.retrieval.dense import DenseHit, nearest_sentences
from assistant.retrieval.filters import FilterSpec
from assistant.retrieval.reading import (
    ArticleReading,
    ChosenArticles,
    FirstPass,
    Pool,
    ReadSentence,
    chosen_articles,
    pool_of,
    read_articles,
)
from assistant.retrieval.syndicated import collapse_syndicated, story_of
from assistant.text.question import Question, read_question
from assistant.types import Filters
from ingest.embedding.embedder import Embedder, Vectors
from ingest.storage.lexical_records import Hit, SentenceKey
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from ingest.storage.records import sentence_id
from ingest.storage.store import NewsStore

FloatArray = npt.NDArray[np.float32]

# A filtered dense search asks Chroma for these multiples of retrieve_k unfiltered neighbours in turn
# (ids only: cheap) and keeps those the lexical index says pass, until at least half of retrieve_k do;
# only then does it send a filter to Chroma, which costs several times more (docs/performance.md).
DENSE_OVERFETCH = (16, 64)
# When few pass, the Chroma query names the passing articles (asked of the lexical index) if there are
# at most this many: faster than the date range itself on a large archive (docs/performance.md).
FILTER_BY_IDS_MAX = 2000


@dataclass
class Candidate:
    """A retrieved sentence with the signals the answerer scores."""

    row: int
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None
    fused: float = 0.0
    title_sim: float = 0.0
    repeat: bool = False  # already given in the previous answer of the conversation
    article_rank: int | None = None  # its article's rank among the articles read whole (retrieve.read)
    recent: bool = False  # its article was found by the recency channel
    read: bool = False  # it joined by the first pass over the articles read whole
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0

    @classmethod
    def at(cls, view: CorpusView, row: int, lexical: float = 0.0, score: float = 0.0) -> Candidate:
        """The committed sentence at ``row`` of the view as a candidate (its other signals unset)."""
        s = view.sentence(row)
        return cls(row, s.doc_id, s.index, s.start, s.end, view.text(row), lexical=lexical, score=score)


@dataclass
class Retrieval:
    """The candidates for one question, the view they come from and where the time went."""

    question: Question
    view: CorpusView
    candidates: list[Candidate]
    lexical_scores: Mapping[int, float]  # BM25 of the candidates and their neighbours, by row
    timings_ms: dict[str, float] = field(default_factory=dict)
    vectors: SentenceVectors | None = None  # stored vectors of candidates read so far (the news reuses them)
    pool: Pool | None = None  # every sentence of the articles read whole, with the first pass's figures


class HybridSearch:
    """Dense + BM25 candidates over the committed sentences, fused with reciprocal rank fusion.

    Dense neighbours come from Chroma, lexical ones from the store's Tantivy index; then the
    articles of the candidates are read by id (:func:`build_view`). Nothing is kept between
    questions, so a write by any process is seen by the next question.
    """

    def __init__(
        self,
        settings: RetrievalSettings,
        store: NewsStore,
        embedder: Embedder,
        workers: Executor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.workers = workers  # for the reads that overlap others (see search and _complete)
        self.first_pass = FirstPass()  # read on first use

    @property
    def index(self) -> TantivyLexicalIndex:
        """The store's lexical index, opened on first use: building a search opens nothing, so a
        process that may write can still rebuild an index an older Newsdesk left (``prepare``)."""
        return self.store.lexical

    def search(
        self,
        question: Question,
        filters: Filters | None = None,
        known: CorpusView | None = None,
        today: date | None = None,
    ) -> Retrieval:
        """Candidates for a question (no candidate when the store is empty or nothing matches);
        ``known``: the view of another search of the question, whose articles are not read again.

        The lexical side (index search, then a read of its hits' articles) runs on a worker thread
        while this one embeds the question and queries Chroma: the model and the store's I/O release
        the GIL, so the two overlap.
        """
        spec = FilterSpec.from_filters(filters)
        timings: dict[str, float] = {}
        reads = ArticleReads.of_view(known) if known is not None else ArticleReads()
        lexical_side = self.workers.submit(self._lexical, question, spec, reads, timings, today)
        try:
            clock = time.perf_counter()
            vector = self.embedder.embed_query(question.text)
            timings["embed"] = _ms(clock)
            clock = time.perf_counter()
            dense_hits = self._dense(vector, spec)
            timings["dense"] = _ms(clock)
        finally:
            lexical_hits, chosen = lexical_side.result()
        clock = time.perf_counter()
        docs = [h.doc_id for h in dense_hits] + [h.key.doc_id for h in lexical_hits] + list(chosen.hits)
        view = build_view(self.store, self.index, docs, reads, {h.doc_id: h.version for h in dense_hits})
        dense = _dense_rows(view, dense_hits)
        lexical = _lexical_rows(view, lexical_hits)
        timings["view"] = _ms(clock)
        candidates = collapse_syndicated(
            self._fuse(view, dense, lexical), lambda d: story_of(view.articles[d])
        )
        candidates += self._neighbours(view, candidates)
        clock = time.perf_counter()
        vectors = SentenceVectors(self.store)
        reading = ArticleReading(view, self.index, question, vector, vectors)
        pool = pool_of(reading, chosen, self.first_pass) if chosen.hits else Pool.empty()
        have = {c.row for c in candidates}
        candidates += [
            _read_candidate(view, r) for r in read_articles(reading, pool, have, self.settings.read_sentences)
        ]
        for cand in candidates:
            if cand.doc_id in chosen.hits:
                cand.article_rank, cand.recent = chosen.ranks[cand.doc_id], cand.doc_id in chosen.recent
        # the pool's BM25 is known (0 below its best POOL_LEXICAL_K): not asked of the index again
        lexical = {**dict.fromkeys(pool.rows.tolist(), 0.0), **pool.lexical, **lexical}
        timings["read"] = _ms(clock)
        clock = time.perf_counter()
        scores = self._complete(view, question, candidates, lexical, (vector, vectors))
        timings["complete"] = _ms(clock)
        return Retrieval(question, view, candidates, scores, timings, vectors=vectors, pool=pool)

    def _lexical(
        self,
        question: Question,
        spec: FilterSpec,
        reads: ArticleReads,
        timings: dict[str, float],
        today: date | None,
    ) -> tuple[list[Hit], ChosenArticles]:
        """The lexical hits and the articles to read whole, and their articles read into ``reads``
        (on a worker thread)."""
        clock = time.perf_counter()
        hits = self.index.search(question.terms, self.settings.lexical_k, spec.search_filters())
        timings["lexical"] = _ms(clock)
        clock = time.perf_counter()
        chosen = chosen_articles(self.index, self.settings, question, spec, today)
        timings["articles"] = _ms(clock)
        clock = time.perf_counter()
        reads.read(self.store, [h.key.doc_id for h in hits] + list(chosen.hits))
        timings["lexical_articles"] = _ms(clock)
        return hits, chosen

    def _dense(self, vector: Vectors, spec: FilterSpec) -> list[DenseHit]:
        """The nearest sentence records that pass the filters, nearest first.

        A filtered Chroma query costs time in proportion to the collection, so a larger unfiltered
        query (ids only) is filtered first, by asking the lexical index which of its articles pass
        (one query); the Chroma ``where`` is only the fallback for filters that few of the nearest
        sentences pass (a narrow date range, a small outlet): the passing articles' ids when they are
        few, else the filters themselves.
        """
        k = self.settings.retrieve_k
        if spec.empty:
            return nearest_sentences(self.store, vector, k)
        count = self.index.doc_count(spec.search_filters())
        if not count:
            return []  # no article passes ("this week" in an archive of older news): no vector query
        for factor in DENSE_OVERFETCH:
            nearest = nearest_sentences(self.store, vector, k * factor)
            passing = self.index.passing({h.doc_id for h in nearest}, spec.search_filters())
            kept = [h for h in nearest if h.doc_id in passing]
            if len(kept) * 2 >= k:
                return kept[:k]
        if count <= FILTER_BY_IDS_MAX:  # a few articles: name them (faster than the date range)
            ids = sorted(self.index.passing(None, spec.search_filters(), count))
            return nearest_sentences(self.store, vector, k, {"doc_id": {"$in": ids}})
        return nearest_sentences(self.store, vector, k, spec.where())

    def _fuse(
        self, view: CorpusView, dense: Mapping[int, float], lexical: Mapping[int, float]
    ) -> list[Candidate]:
        rrf_k = self.settings.rrf_k
        dense_rank = {row: i for i, row in enumerate(dense)}
        lexical_rank = {row: i for i, row in enumerate(lexical)}
        out = []
        for row in dict.fromkeys([*dense, *lexical]):
            cand = Candidate.at(view, row)
            cand.dense = dense.get(row, 0.0)
            cand.dense_rank, cand.lexical_rank = dense_rank.get(row), lexical_rank.get(row)
            cand.fused = sum(
                1.0 / (rrf_k + 1 + r) for r in (cand.dense_rank, cand.lexical_rank) if r is not None
            )
            out.append(cand)
        out.sort(key=lambda c: -c.fused)
        return out

    def _neighbours(self, view: CorpusView, candidates: list[Candidate]) -> list[Candidate]:
        """The sentences around the best-fused candidates that are not candidates yet: an answer is
        often the sentence after (or before) the one that matches the question's words."""
        have = {c.row for c in candidates}
        best = candidates[: self.settings.neighbour_candidates]
        rows = [r for c in best for r in view.neighbours(c.row) if r not in have]
        return [Candidate.at(view, r) for r in dict.fromkeys(rows)]

    def _lexical_scores(
        self, view: CorpusView, question: Question, candidates: list[Candidate], lexical: Mapping[int, float]
    ) -> dict[int, float]:
        """BM25 scores of the candidates and their neighbours (the ranker reads both): the lexical
        hits' own, the others' from the index in one call."""
        rows = {r for c in candidates for r in (c.row, *view.neighbours(c.row))}
        wanted = [r for r in rows if r not in lexical]
        keys = {SentenceKey(view.doc_id(r), int(view.s_index[r])): r for r in wanted}
        found = self.index.scores(question.terms, keys) if keys else {}
        return {**lexical, **{keys[k]: s for k, s in found.items()}}

    def _complete(
        self,
        view: CorpusView,
        question: Question,
        candidates: list[Candidate],
        lexical: Mapping[int, float],
        vectors: tuple[Vectors, SentenceVectors],
    ) -> dict[int, float]:
        """Every candidate's BM25 (from the index) and meanwhile, on a worker thread, the stored
        vectors of the lexical-only ones (their dense similarity, kept in ``vectors``); every
        candidate's title similarity (to the question's vector). Returns the BM25 of the candidates
        and their neighbours, by row."""
        vector, stored_vectors = vectors
        missing = {_record_id(view, c): c for c in candidates if c.dense_rank is None and not c.read}
        stored = self.workers.submit(stored_vectors.get, list(missing))
        scores = self._lexical_scores(view, question, candidates, lexical)
        for cand in candidates:
            cand.lexical = scores.get(cand.row, 0.0)
        for record_id, emb in stored.result().items():
            missing[record_id].dense = float(emb @ vector)
        if view.title_vectors.size:
            for cand in candidates:
                cand.title_sim = float(view.title_vectors[view.doc_pos[cand.doc_id]] @ vector)
        return scores


def _dense_rows(view: CorpusView, hits: list[DenseHit]) -> dict[int, float]:
    """Row -> cosine similarity of the nearest records that are committed sentences of the view."""
    out: dict[int, float] = {}
    for hit in hits:
        row = view.row_of(hit.doc_id, hit.index)
        article = view.articles.get(hit.doc_id)
        if row is not None and article is not None and article.version == hit.version:
            out.setdefault(row, hit.similarity)
    return out


def _lexical_rows(view: CorpusView, hits: list[Hit]) -> dict[int, float]:
    """Row -> BM25 score of the lexical hits that are sentences of the view, best first."""
    out: dict[int, float] = {}
    for hit in hits:
        row = view.row_of(hit.key.doc_id, hit.key.index)
        if row is not None:
            out.setdefault(row, hit.score)
    return out


def _read_candidate(view: CorpusView, read: ReadSentence) -> Candidate:
    cand = Candidate.at(view, read.row, lexical=read.lexical)
    cand.dense, cand.read = read.dense, True
    return cand


def _record_id(view: CorpusView, cand: Candidate) -> str:
    return sentence_id(cand.doc_id, view.articles[cand.doc_id].version, cand.index)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def candidate_document(view: CorpusView, cand: Candidate) -> Document:
    """A LangChain Document for one sentence; the metadata carries the citation offsets."""
    meta = view.articles[cand.doc_id].metadata
    return Document(
        page_content=cand.text,
        id=f"{cand.doc_id}:{cand.start}-{cand.end}",
        metadata={
            "doc_id": cand.doc_id,
            "index": cand.index,
            "char_start": cand.start,
            "char_end": cand.end,
            "title": str(meta.get("title", "")),
            "url": str(meta.get("url", "")),
            "published": str(meta.get("published", "")),
            "source": str(meta.get("source", "")),
            "score": cand.score or cand.fused,
        },
    )


class SentenceRetriever(BaseRetriever):
    """LangChain retriever over the hybrid search: one Document per sentence, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    search: HybridSearch
    filters: Filters | None = None
    k: int = 10

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        """The best ``k`` sentences (``invoke(query, k=3)``; default: the retriever's ``k``)."""
        retrieval = self.search.search(read_question(query), self.filters)
        limit = self.k if k is None else k
        return [candidate_document(retrieval.view, c) for c in retrieval.candidates[:limit]]
