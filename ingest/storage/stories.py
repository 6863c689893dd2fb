"""Syndication: the same wire story republished by several outlets is grouped into one story.

Each article gets a MinHash signature over the word shingles of its canonical text. Its
``story_id`` is the ``story_id`` of the most similar stored article whose estimated Jaccard
similarity is at least ``settings.syndication_threshold``, else its own ``doc_id``.

The index is persistent and shared by every process: the side collection ``{collection}_stories``
holds one record per article, whose document is the signature (base64 of the hash values) and whose
metadata holds its ``story_id`` and one key per LSH band (``b0``, ``b1``, ...: a digest of that band
of the signature). Candidates are the records sharing at least one band with the new article (a
metadata query in Chroma, so nothing is kept in memory that could go stale); the estimated
similarity of each candidate then decides. Band and row counts are datasketch's optimal LSH
parameters for the threshold.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.sections import NewsSettings
from ingest.storage.sidecar import SideCollection, placeholder_vectors
from ingest.storage.store import NewsStore

if TYPE_CHECKING:  # datasketch imports scipy: loaded on first use, not when answering starts
    from datasketch import MinHash

NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # 32-bit hash values; named explicitly so stored signatures stay comparable
MAX_CANDIDATES = 200
_WORD = re.compile(r"[^\W_]+")


def shingles(text: str, words: int) -> set[bytes]:
    """Lower-cased word ``words``-grams of ``text`` (the whole text when it is shorter)."""
    tokens = _WORD.findall(text.lower())
    if not tokens:
        return set()
    if len(tokens) <= words:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i : i + words]).encode() for i in range(len(tokens) - words + 1)}


def signature(text: str, words: int) -> MinHash | None:
    """The MinHash of the text's shingles, or None when the text has no words."""
    grams = shingles(text, words)
    if not grams:
        return None
    from datasketch import MinHash

    sig = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    sig.update_batch(list(grams))
    return sig


def encode_signature(sig: MinHash) -> str:
    return base64.b64encode(np.asarray(sig.hashvalues, dtype=np.uint32).tobytes()).decode("ascii")


def decode_signature(data: str) -> MinHash:
    values = np.frombuffer(base64.b64decode(data), dtype=np.uint32)
    from datasketch import MinHash

    return MinHash(num_perm=len(values), seed=SEED, hashvalues=values, scheme=SCHEME)


def band_keys(sig: MinHash, bands: int, rows: int) -> dict[str, str]:
    """Metadata keys ``b{i}`` -> digest of band ``i`` of the signature."""
    values = np.asarray(sig.hashvalues, dtype=np.uint32)
    return {
        f"b{i}": hashlib.blake2b(values[i * rows : (i + 1) * rows].tobytes(), digest_size=8).hexdigest()
        for i in range(bands)
    }


@lru_cache(maxsize=8)
def lsh_parameters(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) that datasketch finds optimal for the threshold."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return int(lsh.b), int(lsh.r)


@dataclass(frozen=True)
class StoryMatch:
    """The stored article most similar to a new one, and its story."""

    doc_id: str
    story_id: str
    similarity: float


class StoryIndex:
    """Assigns ``story_id`` to articles at ingest; persistent in ``{collection}_stories``."""

    def __init__(self, settings: NewsSettings, store: NewsStore) -> None:
        self.threshold = settings.syndication_threshold
        self.words = settings.syndication_shingle_words
        self.side = SideCollection(store, "stories")

    def assign(self, doc_id: str, text: str) -> str:
        """The story of one article (recorded in the index at once, so later copies find it)."""
        return self.assign_many([(doc_id, text)])[doc_id]

    def assign_many(self, articles: Sequence[tuple[str, str]]) -> dict[str, str]:
        """story_id of each ``(doc_id, text)``, matching stored articles and earlier ones of the same
        call; all are recorded in the index with one write."""
        batch = {doc_id for doc_id, _ in articles}
        pending: list[tuple[str, MinHash, str]] = []
        stories: dict[str, str] = {}
        for doc_id, text in articles:
            sig = signature(text, self.words)
            if sig is None:
                stories[doc_id] = doc_id
                continue
            stored = (c for c in self._candidates(sig) if c[0] not in batch)
            match = self._best(doc_id, sig, [*stored, *pending])
            stories[doc_id] = match.story_id if match else doc_id
            pending.append((doc_id, sig, stories[doc_id]))
        self._record(pending)
        self._forget([doc_id for doc_id in batch if doc_id not in {p[0] for p in pending}])
        return stories

    def best_match(self, doc_id: str, sig: MinHash) -> StoryMatch | None:
        """The most similar other indexed article at or above the threshold, if any."""
        return self._best(doc_id, sig, self._candidates(sig))

    def _best(
        self, doc_id: str, sig: MinHash, candidates: Iterable[tuple[str, MinHash, str]]
    ) -> StoryMatch | None:
        best: StoryMatch | None = None
        for other_id, other_sig, story_id in candidates:
            if other_id == doc_id:
                continue
            similarity = float(sig.jaccard(other_sig))
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = StoryMatch(other_id, story_id, similarity)
        return best

    def stories_of(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """story_id of each indexed doc_id among ``doc_ids``."""
        if not doc_ids:
            return {}
        got = self.side.call(
            "read", lambda: self.side.collection.get(ids=list(doc_ids), include=["metadatas"])
        )
        return {i: str((m or {}).get("story_id", i)) for i, m in zip(got["ids"], got["metadatas"] or [])}

    def _forget(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            self.side.call("delete", lambda: self.side.collection.delete(ids=list(doc_ids)))

    def _bands(self, sig: MinHash) -> dict[str, str]:
        return band_keys(sig, *lsh_parameters(self.threshold))

    def _candidates(self, sig: MinHash) -> Iterable[tuple[str, MinHash, str]]:
        clauses: list[Mapping[str, Any]] = [{k: v} for k, v in self._bands(sig).items()]
        where = {"$or": clauses} if len(clauses) > 1 else clauses[0]
        got = self.side.call(
            "read",
            lambda: self.side.collection.get(
                where=where,  # type: ignore[arg-type]
                limit=MAX_CANDIDATES,
                include=["documents", "metadatas"],
            ),
        )
        for doc_id, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
            if doc:
                yield doc_id, decode_signature(doc), str((meta or {}).get("story_id", doc_id))

    def _record(self, items: Sequence[tuple[str, MinHash, str]]) -> None:
        if not items:
            return
        metas = [{"story_id": story_id, **self._bands(sig)} for _, sig, story_id in items]
        self.side.call(
            "write",
            lambda: self.side.collection.upsert(
                ids=[doc_id for doc_id, _, _ in items],
                embeddings=placeholder_vectors(len(items)),
                metadatas=metas,  # type: ignore[arg-type]
                documents=[encode_signature(sig) for _, sig, _ in items],
            ),
        )
