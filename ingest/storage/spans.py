"""The committed sentences of stored articles: from the offsets kept in the article records, and for
articles written before the records kept them, from their sentence records of the article's version."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from ingest.storage.chroma import chroma_call
from ingest.storage.records import StoredArticle, sentence_record

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

LEGACY_BATCH = 50  # articles whose sentence records are read per call (a few thousand records)
Sentences = dict[str, list[tuple[int, int, int]]]


def committed_sentences(sentences: Collection, where: str, articles: Iterable[StoredArticle]) -> Sentences:
    """doc_id -> (index, start, end) of each committed sentence of the articles, in text order; one
    read of the sentence records per ``LEGACY_BATCH`` older articles, none for the others."""
    articles = list(articles)
    out: Sentences = {a.doc_id: [(i, *span) for i, span in enumerate(a.spans)] for a in articles if a.spans}
    versions = {a.doc_id: a.version for a in articles if a.spans is None}
    ids = sorted(versions)
    for begin in range(0, len(ids), LEGACY_BATCH):
        query: dict[str, Any] = {"doc_id": {"$in": ids[begin : begin + LEGACY_BATCH]}}
        got = chroma_call(where, "read", partial(sentences.get, where=query, include=["metadatas"]))
        for record in (sentence_record(m or {}, 0.0) for m in got["metadatas"] or []):
            if versions.get(record.doc_id) == record.version:
                out.setdefault(record.doc_id, []).append((record.index, record.start, record.end))
    for doc_id in ids:
        out.get(doc_id, []).sort()
    return out
