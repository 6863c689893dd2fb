"""The part of the store one question needs, fetched by id: no process keeps a copy of the archive.

A :class:`CorpusView` holds the articles of one question's candidate sentences (their canonical
text, metadata, sentence offsets and title vectors, read from Chroma by id), every committed
sentence of those articles as numbered rows (so a candidate's neighbours and its position in its
article are at hand), and asks the store's lexical index (Tantivy) for what depends on the whole
archive: a term's inverse sentence frequency and whether a line is boilerplate (the same sentence
in several articles of one outlet; the index keeps a key of each line, written with the article).
Rows are local to the view; a sentence's identity is (doc_id, index).

:class:`ArticleLookup` is the same by-id fetch for the news features: a mapping that reads an
article from the store the first time it is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from assistant.core.types import MetaValue
from ingest.storage.chroma import chroma_call
from ingest.storage.lexical_tantivy import TantivyLexicalIndex
from ingest.storage.records import StoredArticle, stored_article
from ingest.storage.spans import sentence_arrays
from ingest.storage.store import NewsStore
from ingest.storage.tantivy_schema import line_key
from ingest.terms import content_terms

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]
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
    """Some articles and all their committed sentences, with the archive-wide signals on demand."""

    articles: dict[str, StoredArticle]
    doc_ids: list[str]
    s_doc: IntArray
    s_index: IntArray
    s_start: IntArray
    s_end: IntArray
    s_ts: IntArray
    s_source: list[str]
    title_vectors: FloatArray
    index: TantivyLexicalIndex
    title_terms: list[frozenset[str]] = field(default_factory=list)
    doc_pos: dict[str, int] = field(default_factory=dict)
    _terms: dict[int, frozenset[str]] = field(default_factory=dict)
    _idf: dict[str, float] = field(default_factory=dict)
    _boilerplate: dict[int, bool] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.s_doc)

    def text(self, row: int) -> str:
        article = self.articles[self.doc_ids[int(self.s_doc[row])]]
        return article.text[int(self.s_start[row]) : int(self.s_end[row])]

    def terms(self, row: int) -> frozenset[str]:
        """Stemmed content terms of a sentence (the terms the lexical index holds for it)."""
        found = self._terms.get(row)
        if found is None:
            found = self._terms[row] = frozenset(content_terms(self.text(row)) or ["_empty_"])
        return found

    def idf(self, term: str) -> float:
        """Inverse sentence frequency of a term over the whole archive (see :meth:`load_idf`)."""
        if term not in self._idf:
            self.load_idf([term])
        return self._idf[term]

    def load_idf(self, terms: Iterable[str]) -> None:
        """Ask the lexical index for the idf of several terms at once."""
        wanted = [t for t in dict.fromkeys(terms) if t not in self._idf]
        if wanted:
            self._idf.update(self.index.idf(wanted))

    def is_boilerplate(self, row: int) -> bool:
        """Whether the sentence is repeated verbatim in several articles of its outlet."""
        if row not in self._boilerplate:
            self.mark_boilerplate([row])
        return self._boilerplate[row]

    def mark_boilerplate(self, rows: Iterable[int]) -> None:
        """Look up several rows' lines in the lexical index at once."""
        wanted = {r: line_key(self.s_source[r], self.text(r)) for r in rows if r not in self._boilerplate}
        if not wanted:
            return
        lines = set(wanted.values())
        counts = self.index.line_articles(lines, BOILERPLATE_MIN_COPIES)
        for row, line in wanted.items():
            self._boilerplate[row] = counts.get(line, 0) >= BOILERPLATE_MIN_COPIES

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
        """The row of sentence ``index`` of an article of the view (None when it holds no such sentence)."""
        rows = self.article_rows(doc_id)
        if not rows:
            return None
        at = rows.start + int(np.searchsorted(self.s_index[rows.start : rows.stop], index))
        return at if at < rows.stop and int(self.s_index[at]) == index else None

    def article_rows(self, doc_id: str) -> range:
        """Every row of one article, in text order."""
        pos = self.doc_pos.get(doc_id)
        if pos is None:
            return range(0)
        lo, hi = np.searchsorted(self.s_doc, [pos, pos + 1])
        return range(int(lo), int(hi))


@dataclass
class ArticleReads:
    """Articles read by id for one question, with their title vectors: what its view is built from."""

    articles: dict[str, StoredArticle] = field(default_factory=dict)
    titles: dict[str, FloatArray] = field(default_factory=dict)

    @classmethod
    def of_view(cls, view: CorpusView) -> ArticleReads:
        """The articles of a view (another search of the same question, a moment ago)."""
        titles = {d: view.title_vectors[i] for d, i in view.doc_pos.items()}
        return cls(dict(view.articles), titles)

    def read(
        self, store: NewsStore, doc_ids: Iterable[str], versions: Mapping[str, str] | None = None
    ) -> None:
        """Read those of ``doc_ids`` not read yet, or read in another version than ``versions`` names
        (:func:`fetch_articles`; ids not in the store are skipped)."""
        versions = versions or {}
        wanted = [d for d in dict.fromkeys(doc_ids) if self._stale(d, versions.get(d))]
        if wanted:
            articles, titles = fetch_articles(store, wanted, vectors=True, versions=versions)
            self.articles.update(articles)
            self.titles.update(titles)

    def _stale(self, doc_id: str, version: str | None) -> bool:
        found = self.articles.get(doc_id)
        return found is None or (version is not None and found.version != version)


def build_view(
    store: NewsStore,
    index: TantivyLexicalIndex,
    doc_ids: Iterable[str],
    reads: ArticleReads | None = None,
    versions: Mapping[str, str] | None = None,
) -> CorpusView:
    """The view of the articles ``doc_ids`` (those not in the store are left out); those already in
    ``reads`` are not read again unless ``versions`` names another version (a dense hit's)."""
    wanted = list(dict.fromkeys(doc_ids))
    reads = reads or ArticleReads()
    reads.read(store, wanted, versions)
    articles = {d: reads.articles[d] for d in wanted if d in reads.articles}
    titles = {d: reads.titles[d] for d in articles if d in reads.titles}
    sentences = sentence_arrays(store.sentences, store.where, articles.values())
    ordered = sorted(sentences)
    counts = [len(sentences[d]) for d in ordered]
    rows = np.concatenate([sentences[d] for d in ordered]) if ordered else np.empty((0, 3), dtype=np.int64)
    sources = [str(articles[d].metadata.get("source", "")) for d in ordered]
    return CorpusView(
        articles=articles,
        doc_ids=ordered,
        s_doc=np.repeat(np.arange(len(ordered), dtype=np.int64), counts),
        s_index=rows[:, 0],
        s_start=rows[:, 1],
        s_end=rows[:, 2],
        s_ts=np.repeat(np.array([_ts(articles[d].metadata) for d in ordered], dtype=np.int64), counts),
        s_source=[source for source, n in zip(sources, counts) for _ in range(n)],
        title_vectors=_title_matrix(titles, ordered),
        index=index,
        title_terms=[frozenset(content_terms(str(articles[d].metadata.get("title", "")))) for d in ordered],
        doc_pos={d: i for i, d in enumerate(ordered)},
    )


def fetch_articles(
    store: NewsStore, doc_ids: Sequence[str], vectors: bool = False, versions: Mapping[str, str] | None = None
) -> tuple[dict[str, StoredArticle], dict[str, FloatArray]]:
    """The stored articles among ``doc_ids`` (and with ``vectors``, their title vectors), by id: from
    the copy of each record the lexical index holds (a local read), and from Chroma for the rest (not
    indexed yet, or of another version than ``versions`` names: Chroma's record is the truth)."""
    articles, titles = _indexed_articles(store, doc_ids, vectors, versions or {})
    rest = [d for d in dict.fromkeys(doc_ids) if d not in articles]
    include: list[Literal["documents", "embeddings", "metadatas", "distances", "uris", "data"]]
    include = ["documents", "metadatas", "embeddings"] if vectors else ["documents", "metadatas"]
    for begin in range(0, len(rest), store.batch_size):
        batch = rest[begin : begin + store.batch_size]
        got = chroma_call(store.where, "read", partial(store.articles.get, ids=batch, include=include))
        embeddings = got.get("embeddings")
        rows = zip(got["ids"], got["documents"] or [""] * len(got["ids"]), got["metadatas"] or [])
        for i, (doc_id, text, meta) in enumerate(rows):
            articles[doc_id] = stored_article(doc_id, text, meta)
            if embeddings is not None and len(embeddings) > i:
                titles[doc_id] = np.asarray(embeddings[i], dtype=np.float32)
    return articles, titles


def _indexed_articles(
    store: NewsStore, doc_ids: Sequence[str], vectors: bool, versions: Mapping[str, str]
) -> tuple[dict[str, StoredArticle], dict[str, FloatArray]]:
    articles: dict[str, StoredArticle] = {}
    titles: dict[str, FloatArray] = {}
    for doc_id, payload in store.lexical.articles(doc_ids).items():
        article = payload.article
        if versions.get(doc_id, article.version) != article.version:
            continue
        articles[doc_id] = article
        if vectors and payload.title_vector:
            titles[doc_id] = np.frombuffer(payload.title_vector, dtype=np.float32)
    return articles, titles


def _title_matrix(titles: Mapping[str, FloatArray], doc_ids: Sequence[str]) -> FloatArray:
    """The title vector of each article, aligned with ``doc_ids`` (zeros if missing)."""
    dim = next((len(v) for v in titles.values()), 0)
    out = np.zeros((len(doc_ids), dim), dtype=np.float32)
    for i, doc_id in enumerate(doc_ids):
        if doc_id in titles:
            out[i] = titles[doc_id]
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


class SentenceVectors:
    """Stored sentence vectors by record id, read for one question: those read already are not read
    again (the lexical-only candidates' for retrieval, then the cited sentences' for the news)."""

    def __init__(self, store: NewsStore) -> None:
        self.store = store
        self._found: dict[str, FloatArray] = {}

    def add(self, found: Mapping[str, FloatArray]) -> None:
        self._found.update(found)

    def get(self, ids: Iterable[str]) -> dict[str, FloatArray]:
        """The vectors of those of ``ids`` that are stored (one read for those not read yet)."""
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._found]
        if missing:
            self.add(fetch_embeddings(self.store, self.store.sentences, missing))
        return {i: self._found[i] for i in wanted if i in self._found}


def _ts(meta: Mapping[str, MetaValue]) -> int:
    value = meta.get("published_ts")
    return int(value) if isinstance(value, int | float) else -1


class ArticleLookup(Mapping[str, StoredArticle]):
    """Articles by id, each read from the store the first time it is asked for (then kept).

    Iterating and ``len`` cover only the articles read so far: this is a window on the store, not a
    copy of it. :meth:`load` reads several at once.
    """

    def __init__(self, store: NewsStore, known: Mapping[str, StoredArticle] | None = None) -> None:
        self.store = store
        self._found: dict[str, StoredArticle] = dict(known or {})
        self._missing: set[str] = set()

    def load(self, doc_ids: Iterable[str], versions: Mapping[str, str] | None = None) -> None:
        """Read those of ``doc_ids`` not read yet (``versions``: see :func:`fetch_articles`)."""
        wanted = [d for d in dict.fromkeys(doc_ids) if d not in self._found and d not in self._missing]
        if wanted:
            found, _ = fetch_articles(self.store, wanted, versions=versions)
            self._found.update(found)
            self._missing.update(d for d in wanted if d not in found)

    def already_read(self, doc_id: str) -> StoredArticle | None:
        """The article if it has been read already (no store read)."""
        return self._found.get(doc_id)

    def __getitem__(self, doc_id: str) -> StoredArticle:
        self.load([doc_id])
        if doc_id not in self._found:
            raise KeyError(doc_id)
        return self._found[doc_id]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._found))

    def __len__(self) -> int:
        return len(self._found)
