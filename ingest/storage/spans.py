"""The committed sentences of stored articles: from the offsets kept in the article records, and for
articles written before the records kept them, from their sentence records of the article's version."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ingest.storage.chroma import chroma_call
from ingest.storage.records import IntArray, StoredArticle, sentence_record

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

LEGACY_BATCH = 50  # articles whose sentence records are read per call (a few thousand records)
Sentences = dict[str, list[tuple[int, int, int]]]


def committed_sentences(sentences: Collection, where: str, articles: Iterable[StoredArticle]) -> Sentences:
    """doc_id -> (index, start, end) of each committed sentence of the articles, in text order; one
    read of the sentence records per ``LEGACY_BATCH`` older articles, none for the others."""
    return {
        doc_id: [(index, start, end) for index, start, end in rows.tolist()]
        for doc_id, rows in sentence_arrays(sentences, where, articles).items()
    }


def sentence_arrays(
    sentences: Collection, where: str, articles: Iterable[StoredArticle]
) -> dict[str, IntArray]:
    """:func:`committed_sentences` as one (n, 3) array of index, start, end per article (no array for
    an article without sentences)."""
    articles = list(articles)
    out = {
        a.doc_id: _numbered(a.span_array) for a in articles if a.span_array is not None and a.span_array.size
    }
    versions = {a.doc_id: a.version for a in articles if a.span_array is None}
    ids = sorted(versions)
    legacy: dict[str, list[tuple[int, int, int]]] = {}
    for begin in range(0, len(ids), LEGACY_BATCH):
        query: dict[str, Any] = {"doc_id": {"$in": ids[begin : begin + LEGACY_BATCH]}}
        got = chroma_call(where, "read", partial(sentences.get, where=query, include=["metadatas"]))
        for record in (sentence_record(m or {}, 0.0) for m in got["metadatas"] or []):
            if versions.get(record.doc_id) == record.version:
                legacy.setdefault(record.doc_id, []).append((record.index, record.start, record.end))
    for doc_id, rows in legacy.items():
        out[doc_id] = np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)
    return out


def _numbered(spans: IntArray) -> IntArray:
    return np.column_stack([np.arange(len(spans), dtype=np.int64), spans])


def span_of(rows: IntArray, index: int) -> tuple[int, int] | None:
    """(start, end) of sentence ``index`` in an article's rows (None when it has no such sentence)."""
    at = int(np.searchsorted(rows[:, 0], index))
    return (int(rows[at, 1]), int(rows[at, 2])) if at < len(rows) and int(rows[at, 0]) == index else None


def index_at(rows: IntArray, start: int) -> int | None:
    """The index of the sentence of an article's rows that starts at ``start`` (None: no such sentence)."""
    found = np.flatnonzero(rows[:, 1] == start)
    return int(rows[found[0], 0]) if len(found) else None
