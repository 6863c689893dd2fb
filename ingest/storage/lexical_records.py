"""The records of the lexical index (:mod:`ingest.storage.lexical_tantivy`): what goes in, what comes
out, and the filters of a search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


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
