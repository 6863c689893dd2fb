"""Words: answer-match normalization and a BM25 sentence index; the analyzer (tokenizing, stemming,
stopwords) is :mod:`ingest.terms`, its names importable from here too."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ingest.terms import ANALYZER_NAME, STOPWORDS, TOKEN_RE, content_terms, stem, words, wordset

if TYPE_CHECKING:
    import bm25s

__all__ = [
    "ANALYZER_NAME", "STOPWORDS", "TOKEN_RE", "LexicalIndex", "contains_answer", "contains_normalized",
    "content_terms", "normalize_for_match", "stem", "words", "wordset",
]  # fmt: skip
FloatArray = npt.NDArray[np.float32]


def normalize_for_match(text: str) -> str:
    """Lowercase, punctuation dropped, whitespace folded: how gold answers are compared."""
    kept = (c for c in text.lower() if not unicodedata.category(c).startswith("P") and c not in "$+<=>^`|~")
    return " ".join("".join(kept).split())


def contains_normalized(text: str, answer: str) -> bool:
    """True when the normalized answer occurs in the normalized text (the issue's definition of a hit:
    "Putin" is in "Putin’s", "101" in "101-year-old", but also "25" in "2025-26")."""
    needle = normalize_for_match(answer)
    return bool(needle) and needle in normalize_for_match(text)


def contains_answer(text: str, answer: str) -> bool:
    """True when the normalized answer occurs in the normalized text on word boundaries."""
    needle = normalize_for_match(answer)
    return bool(needle) and f" {needle} " in f" {normalize_for_match(text)} "


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over sentence texts; scores every sentence for a query."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

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
