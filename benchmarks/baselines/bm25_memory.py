"""The in-memory BM25 sentence index (bm25s, Lucene variant) the Tantivy index replaced: a baseline
for ``benchmarks/lexical.py`` and the reference the Tantivy tests compare scores with."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np
import numpy.typing as npt

from ingest.terms import content_terms

FloatArray = npt.NDArray[np.float32]


class MemoryBM25Index:
    """BM25 (bm25s, Lucene variant) over sentence texts; scores every sentence for a query."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(texts)
        self._bm25: bm25s.BM25 | None = None
        self._vocab: dict[str, int] = {}
        self._df: Counter[str] = Counter()
        self.term_sets: list[frozenset[str]] = []
        if not texts:
            return
        corpus = [content_terms(t) or ["_empty_"] for t in texts]
        self.term_sets = [frozenset(terms) for terms in corpus]
        for terms in self.term_sets:
            self._df.update(terms)
        self._bm25 = bm25s.BM25(k1=k1, b=b)
        self._bm25.index(corpus, show_progress=False)
        self._vocab = dict(self._bm25.vocab_dict)

    def idf(self, term: str) -> float:
        """Inverse sentence frequency of a stemmed term (high for rare terms, unseen ones highest)."""
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query_terms: Sequence[str]) -> FloatArray:
        """BM25 score of every sentence (zeros when no query term is indexed)."""
        known = [t for t in dict.fromkeys(query_terms) if t in self._vocab]
        if self._bm25 is None or not known:
            return np.zeros(self.size, dtype=np.float32)
        ids = [self._vocab[t] for t in known]
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def top(self, query_terms: Sequence[str], k: int, mask: npt.NDArray[np.bool_] | None = None) -> list[int]:
        """Rows of the k best-scoring sentences with a positive score, optionally within a mask."""
        scores = self.scores(query_terms)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, int(np.count_nonzero(scores > 0)))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        return [int(i) for i in best[np.argsort(-scores[best], kind="stable")]]
