"""The records of the lexical index (:mod:`ingest.storage.lexical_tantivy`): what goes in, what comes
out, and the filters of a search."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from assistant.core.types import MetaValue
from ingest.storage.quantized import quantize
from ingest.storage.records import SPANS_KEY, ArticleWrite


@dataclass(frozen=True, order=True)
class SentenceKey:
    """A sentence by its article and position: stable across processes and rebuilds."""

    doc_id: str
    index: int


class Hit(NamedTuple):
    """A sentence found by :meth:`TantivyLexicalIndex.search` and its BM25 score (higher is better)."""

    key: SentenceKey
    score: float


@dataclass(frozen=True)
class IndexedArticle:
    """What the index stores of one article: ``spans[i]`` is sentence ``i`` of ``text``; with
    ``metadata`` (the article record's), the record itself too, for the read side."""

    doc_id: str
    version: str
    text: str
    spans: Sequence[tuple[int, int]]
    title: str = ""
    source: str = ""
    published_ts: int = -1  # -1: no known publication time
    metadata: Mapping[str, Any] | None = None
    title_vector: bytes = b""  # float32
    sentence_vectors: bytes = b""  # int8, one row per span (see ingest.storage.quantized)

    def check(self) -> None:
        """ValueError when a span does not lie inside the text."""
        for i, (start, end) in enumerate(self.spans):
            if not 0 <= start <= end <= len(self.text):
                raise ValueError(f"{self.doc_id}: sentence {i} span {start}:{end} is outside its text")


@dataclass(frozen=True)
class SearchFilters:
    """Bounds on the sentences a search may return (the retriever's date and outlet filters).

    ``ts_to`` excludes sentences without a publication time.
    """

    ts_from: int | None = None
    ts_to: int | None = None
    sources: frozenset[str] = frozenset()
    doc_ids: frozenset[str] | None = None


def indexed_article(
    doc_id: str,
    text: str,
    metadata: Mapping[str, MetaValue],
    spans: Iterable[tuple[int, int]],
    title_vector: npt.ArrayLike | None = None,
    sentence_vectors: bytes = b"",
) -> IndexedArticle:
    """What the lexical index holds of an article record (``spans``: its committed sentences;
    ``title_vector``: the record's embedding; ``sentence_vectors``: its sentences', int8)."""
    ts = metadata.get("published_ts")
    vector = b"" if title_vector is None else np.asarray(title_vector, dtype=np.float32).tobytes()
    return IndexedArticle(
        doc_id,
        str(metadata.get("version", "")),
        text,
        tuple(spans),
        title=str(metadata.get("title", "")),
        source=str(metadata.get("source", "")),
        published_ts=int(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else -1,
        metadata={k: v for k, v in metadata.items() if k != SPANS_KEY},
        title_vector=vector,
        sentence_vectors=sentence_vectors,
    )


def written_article(item: ArticleWrite) -> IndexedArticle:
    spans = ((s.start, s.end) for s in item.spans)
    vectors = quantize(np.asarray(item.vectors).reshape(len(item.spans), -1)) if item.spans else b""
    return indexed_article(item.doc_id, item.text, item.metadata, spans, item.title_vector, vectors)
