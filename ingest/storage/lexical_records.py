"""The records of the lexical index (:mod:`ingest.storage.lexical_index`): what goes in, what comes
out, and the filters of a search."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True, order=True)
class SentenceKey:
    """A sentence by its article and position: stable across processes and rebuilds."""

    doc_id: str
    index: int


class Hit(NamedTuple):
    """A sentence found by :meth:`LexicalIndex.search` and its BM25 score (higher is better)."""

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

    def check(self) -> None:
        """ValueError when a span does not lie inside the text."""
        for i, (start, end) in enumerate(self.spans):
            if not 0 <= start <= end <= len(self.text):
                raise ValueError(f"{self.doc_id}: sentence {i} span {start}:{end} is outside its text")


@dataclass(frozen=True)
class Sentence:
    """A stored sentence: where it is, its text (``article text[start:end]``) and its terms."""

    doc_id: str
    index: int
    start: int
    end: int
    text: str
    published_ts: int
    source: str
    terms: tuple[str, ...]

    @property
    def key(self) -> SentenceKey:
        return SentenceKey(self.doc_id, self.index)


@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article's metadata and sentence count (no text)."""

    doc_id: str
    version: str
    title: str
    source: str
    published_ts: int
    sentences: int


@dataclass(frozen=True)
class SearchFilters:
    """Bounds on the sentences a search may return (the retriever's date and outlet filters).

    ``ts_to`` excludes sentences without a publication time, as the in-memory mask does.
    """

    ts_from: int | None = None
    ts_to: int | None = None
    sources: frozenset[str] = frozenset()
    doc_ids: frozenset[str] | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on the ``sentences s`` row, and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.ts_from is not None:
            clauses.append("s.published_ts >= ?")
            params.append(self.ts_from)
        if self.ts_to is not None:
            clauses.append("s.published_ts BETWEEN 0 AND ?")
            params.append(self.ts_to)
        if self.sources:
            clauses.append("s.source IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(self.sources)))
        if self.doc_ids is not None:
            clauses.append("s.doc_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(self.doc_ids)))
        return "".join(f" AND {c}" for c in clauses), params


def match_expression(terms: Iterable[str]) -> str:
    """An FTS5 query that matches any of the terms (each once, quoted: no query syntax gets through)."""
    unique = dict.fromkeys(t for t in (term.replace('"', "").strip() for term in terms) if t)
    return " OR ".join(f'"{t}"' for t in unique if " " not in t)


def line_hash(text: str) -> int:
    """A signed 64-bit hash of a sentence's normalised text (lowercase, whitespace folded)."""
    digest = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
