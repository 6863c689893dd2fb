"""Side collections of the store (``{collection}_stories``, ``{collection}_versions`` ...).

They hold records that are not searched by the answering side's vector index (MinHash signatures,
earlier versions of articles); their Chroma calls go through :func:`ingest.storage.chroma.chroma_call`
like the store's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from ingest.storage.chroma import chroma_call

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from ingest.storage.store import NewsStore

T = TypeVar("T")


def placeholder_vectors(n: int) -> npt.NDArray[np.float32]:
    """Embeddings for records that are only looked up by id or metadata (Chroma needs some)."""
    return np.ones((n, 1), dtype=np.float32)


class SideCollection:
    """One side collection of a :class:`NewsStore`, created on first use."""

    def __init__(self, store: NewsStore, suffix: str) -> None:
        self.collection: Collection = store.side_collection(suffix)
        self.where = store.where

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one Chroma call on this collection, errors wrapped as StoreError."""
        return chroma_call(self.where, f"{what} of {self.collection.name!r}", fn)
