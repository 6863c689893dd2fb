"""Side collections of the store (``{collection}_stories``, ``{collection}_versions`` ...).

They hold records that are not searched by the answering side's vector index (MinHash signatures,
earlier versions of articles); their Chroma errors become :class:`StoreError` like the store's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from ingest.errors import StoreError

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from ingest.store import NewsStore

T = TypeVar("T")


def placeholder_vectors(n: int) -> npt.NDArray[np.float32]:
    """Embeddings for records that are only looked up by id or metadata (Chroma needs some)."""
    return np.ones((n, 1), dtype=np.float32)


def chroma_call(where: str, what: str, fn: Callable[[], T]) -> T:
    """Run one Chroma call; any library error becomes a StoreError naming ``what`` and ``where``."""
    try:
        return fn()
    except StoreError:
        raise
    except Exception as exc:  # chromadb surfaces transport and server errors untyped
        raise StoreError(f"Chroma {what} failed at {where}: {exc}") from exc


class SideCollection:
    """One side collection of a :class:`NewsStore`, created on first use."""

    def __init__(self, store: NewsStore, suffix: str) -> None:
        self.collection: Collection = store.side_collection(suffix)
        self.where = store.where

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one Chroma call on this collection, errors wrapped as StoreError."""
        return chroma_call(self.where, f"{what} of {self.collection.name!r}", fn)
