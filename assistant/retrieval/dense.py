"""The dense side of retrieval: the sentence records nearest a question's vector in Chroma."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.embedding.embedder import Vectors
from ingest.storage.chroma import chroma_call
from ingest.storage.records import ID_SEP
from ingest.storage.store import NewsStore


@dataclass(frozen=True)
class DenseHit:
    """A sentence record near the question: the parts of its id, and its cosine similarity."""

    doc_id: str
    version: str
    index: int
    similarity: float


def nearest_sentences(
    store: NewsStore, vector: Vectors, k: int, where: dict[str, Any] | None = None
) -> list[DenseHit]:
    """The k nearest sentence records, nearest first; ids only, as the metadata fetch of a large k
    costs more than the search itself."""
    return nearest_records(store, [vector], k, where)[0]


def nearest_records(
    store: NewsStore, vectors: Sequence[Vectors], k: int, where: dict[str, Any] | None = None
) -> list[list[DenseHit]]:
    """The k nearest sentence records of each vector, nearest first (one query for all; ids and
    distances only: the rest of a record is in its article)."""
    if not vectors:
        return []
    got = chroma_call(
        store.where,
        "query",
        lambda: store.sentences.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32),
            n_results=k,
            where=where,
            include=["distances"],
        ),
    )
    out: list[list[DenseHit]] = []
    for ids, distances in zip(got["ids"], got["distances"] or []):
        hits = []
        for record_id, distance in zip(ids, distances):
            doc_id, version, index = record_id.rsplit(ID_SEP, 2)
            hits.append(DenseHit(doc_id, version, int(index), 1.0 - float(distance)))
        out.append(hits)
    return out
