"""An in-memory view of the committed store: article texts, sentence offsets, the lexical index.

The view is what the read side needs besides the vector index: the canonical text of every
article (to cut ``text[start:end]``), the committed sentences (those whose ``version`` equals
their article's ``version``) in article order with their neighbours, and a BM25 index over their
texts. :class:`CorpusCache` rebuilds it only when :meth:`NewsStore.generation` changes, which
happens on every write by any process, so it is never rebuilt when nothing changed; while one
request rebuilds it, concurrent ones are answered from the previous view.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from assistant.text.lexical import LexicalIndex, content_terms
from ingest.storage.chroma import chroma_call
from ingest.storage.records import SentenceRecord, StoredArticle
from ingest.storage.store import NewsStore
from ingest.types import MetaValue

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
BOILERPLATE_MIN_COPIES = 3  # the same sentence in this many articles of one outlet is boilerplate


@dataclass(frozen=True)
class SentenceRow:
    """One committed sentence of the view, by row number."""

    row: int
    doc_id: str
    index: int
    start: int
    end: int


@dataclass
class CorpusView:
    """Articles and committed sentences as of one store generation, with a BM25 index."""

    generation: str
    articles: dict[str, StoredArticle]
    doc_ids: list[str]
    s_doc: IntArray
    s_index: IntArray
    s_start: IntArray
    s_end: IntArray
    s_ts: IntArray
    s_source: list[str]
    boilerplate: BoolArray
    lexical: LexicalIndex
    title_vectors: FloatArray
    title_terms: list[frozenset[str]] = field(default_factory=list)
    rows_by_key: dict[tuple[str, int], int] = field(default_factory=dict)
    doc_pos: dict[str, int] = field(default_factory=dict)
    built_ms: float = 0.0

    @property
    def size(self) -> int:
        return len(self.s_doc)

    def text(self, row: int) -> str:
        article = self.articles[self.doc_ids[int(self.s_doc[row])]]
        return article.text[int(self.s_start[row]) : int(self.s_end[row])]

    def terms(self, row: int) -> frozenset[str]:
        """Stemmed content terms of a sentence."""
        return self.lexical.term_sets[row]

    def doc_id(self, row: int) -> str:
        return self.doc_ids[int(self.s_doc[row])]

    def meta(self, row: int) -> Mapping[str, MetaValue]:
        return self.articles[self.doc_id(row)].metadata

    def sentence(self, row: int) -> SentenceRow:
        return SentenceRow(
            row, self.doc_id(row), int(self.s_index[row]), int(self.s_start[row]), int(self.s_end[row])
        )

    def neighbours(self, row: int, before: int = 1, after: int = 1) -> list[int]:
        """Rows of the same article around ``row`` (excluding it), in text order."""
        lo, hi = max(0, row - before), min(self.size, row + after + 1)
        doc = self.s_doc[row]
        return [r for r in range(lo, hi) if r != row and self.s_doc[r] == doc]

    def row_of(self, doc_id: str, index: int) -> int | None:
        return self.rows_by_key.get((doc_id, index))

    def article_rows(self, doc_id: str) -> range:
        """Every row of one article, in text order."""
        pos = self.doc_pos.get(doc_id)
        if pos is None:
            return range(0)
        lo, hi = np.searchsorted(self.s_doc, [pos, pos + 1])
        return range(int(lo), int(hi))


def build_view(store: NewsStore, generation: str) -> CorpusView:
    """Read every article and committed sentence from the store and index them."""
    started = time.perf_counter()
    articles = {a.doc_id: a for a in store.iter_articles()}
    records = committed_sentences(store, articles)
    records.sort(key=lambda s: (s.doc_id, s.index))
    doc_ids = sorted({s.doc_id for s in records})
    doc_pos = {d: i for i, d in enumerate(doc_ids)}
    texts = [articles[s.doc_id].text[s.start : s.end] for s in records]
    sources = [str(articles[s.doc_id].metadata.get("source", "")) for s in records]
    view = CorpusView(
        generation=generation,
        articles=articles,
        doc_ids=doc_ids,
        s_doc=np.array([doc_pos[s.doc_id] for s in records], dtype=np.int64),
        s_index=np.array([s.index for s in records], dtype=np.int64),
        s_start=np.array([s.start for s in records], dtype=np.int64),
        s_end=np.array([s.end for s in records], dtype=np.int64),
        s_ts=np.array([_ts(articles[s.doc_id].metadata) for s in records], dtype=np.int64),
        s_source=sources,
        boilerplate=_boilerplate(texts, sources, [s.doc_id for s in records]),
        lexical=LexicalIndex(texts),
        title_vectors=_title_vectors(store, doc_ids),
        rows_by_key={(s.doc_id, s.index): i for i, s in enumerate(records)},
        doc_pos=doc_pos,
        title_terms=[frozenset(content_terms(str(articles[d].metadata.get("title", "")))) for d in doc_ids],
    )
    view.built_ms = (time.perf_counter() - started) * 1000
    return view


def committed_sentences(store: NewsStore, articles: Mapping[str, StoredArticle]) -> list[SentenceRecord]:
    """The sentences of the articles' current versions: from the offsets kept in the article records,
    and, for articles written before records kept them, from the sentence records."""
    out = [
        SentenceRecord(a.doc_id, i, start, end, a.version)
        for a in articles.values()
        if a.spans is not None
        for i, (start, end) in enumerate(a.spans)
    ]
    if any(a.spans is None for a in articles.values()):
        legacy = {d for d, a in articles.items() if a.spans is None}
        stored = store.iter_sentences()
        out += [s for s in stored if s.doc_id in legacy and _committed(articles, s.doc_id, s.version)]
    return out


def _title_vectors(store: NewsStore, doc_ids: list[str]) -> FloatArray:
    """The stored title vector of each article, aligned with ``doc_ids`` (zeros if missing)."""
    vectors = fetch_embeddings(store, store.articles, doc_ids)
    if not doc_ids:
        return np.zeros((0, 0), dtype=np.float32)
    dim = next((len(v) for v in vectors.values()), 0)
    out = np.zeros((len(doc_ids), dim), dtype=np.float32)
    for i, doc_id in enumerate(doc_ids):
        if doc_id in vectors:
            out[i] = vectors[doc_id]
    return out


def fetch_embeddings(store: NewsStore, collection: Collection, ids: Sequence[str]) -> dict[str, FloatArray]:
    """Stored vectors of the records ``ids`` of a collection (missing ids are left out)."""
    out: dict[str, FloatArray] = {}
    for begin in range(0, len(ids), store.batch_size):
        batch = list(ids[begin : begin + store.batch_size])
        got = chroma_call(store.where, "read", partial(collection.get, ids=batch, include=["embeddings"]))
        embeddings = got["embeddings"] if got["embeddings"] is not None else []
        for record_id, vector in zip(got["ids"], embeddings):
            out[record_id] = np.asarray(vector, dtype=np.float32)
    return out


def _committed(articles: Mapping[str, StoredArticle], doc_id: str, version: str) -> bool:
    article = articles.get(doc_id)
    return article is not None and article.version == version


def _ts(meta: Mapping[str, MetaValue]) -> int:
    value = meta.get("published_ts")
    return int(value) if isinstance(value, int | float) else -1


def _boilerplate(texts: list[str], sources: list[str], docs: list[str]) -> BoolArray:
    """Sentences repeated verbatim in several articles of the same outlet (ads, sign-up lines)."""
    keys = [(src, " ".join(t.lower().split())) for src, t in zip(sources, texts)]
    copies = Counter(k for k in set(zip(keys, docs)))
    per_key = Counter(k for k, _ in copies)
    return np.array([per_key[k] >= BOILERPLATE_MIN_COPIES for k in keys], dtype=np.bool_)


class CorpusCache:
    """Holds the current :class:`CorpusView`; rebuilds it when the store's generation changes.

    One request at a time rebuilds (and waits for it); requests that arrive meanwhile are answered
    from the previous view instead of queueing behind the rebuild, so a running ingest does not
    stall every reader. A single caller always sees its own writes.
    """

    def __init__(self, store: NewsStore) -> None:
        self.store = store
        self._view: CorpusView | None = None
        self._lock = threading.Lock()
        self.rebuilds = 0

    def get(self) -> CorpusView:
        """The view of the store as it is now (one cheap generation read when nothing changed)."""
        generation = self.store.generation()
        view = self._view
        if view is not None and view.generation == generation:
            return view
        if view is not None and not self._lock.acquire(blocking=False):
            return view  # another request is rebuilding: answer from the previous view meanwhile
        if view is None:
            self._lock.acquire()
        try:
            if self._view is None or self._view.generation != generation:
                self._view = build_view(self.store, generation)
                self.rebuilds += 1
            return self._view
        finally:
            self._lock.release()

    def invalidate(self) -> None:
        self._view = None
