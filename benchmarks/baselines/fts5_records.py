"""The FTS5 baseline's own records and SQL pieces: a stored sentence, an article's metadata, the
filters of a search as SQL, the match expression and the line hash that tells boilerplate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingest.storage.lexical_records import SearchFilters, SentenceKey


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


def filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL conditions on the ``sentences s`` row for ``filters``, and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.ts_from is not None:
        clauses.append("s.published_ts >= ?")
        params.append(filters.ts_from)
    if filters.ts_to is not None:
        clauses.append("s.published_ts BETWEEN 0 AND ?")
        params.append(filters.ts_to)
    if filters.sources:
        clauses.append("s.source IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(filters.sources)))
    if filters.doc_ids is not None:
        clauses.append("s.doc_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(filters.doc_ids)))
    return "".join(f" AND {c}" for c in clauses), params


def match_expression(terms: Iterable[str]) -> str:
    """An FTS5 query that matches any of the terms (each once, quoted: no query syntax gets through)."""
    unique = dict.fromkeys(t for t in (term.replace('"', "").strip() for term in terms) if t)
    return " OR ".join(f'"{t}"' for t in unique if " " not in t)


def line_hash(text: str) -> int:
    """A signed 64-bit hash of a sentence's normalised text (lowercase, whitespace folded)."""
    digest = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
