"""Words: tokenizing, stemming, stopwords, answer-match normalization, and a BM25 sentence index."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import bm25s

FloatArray = npt.NDArray[np.float32]


def wordset(text: str) -> frozenset[str]:
    """The whitespace-separated words of a string, as a set."""
    return frozenset(text.split())


STOPWORDS = wordset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom whose why will
    with would you your yours yourself yourselves according said says say told week weeks recently
    recent new newly year years this that these those being one ones s t ll ve re d m isn aren wasn
    weren don doesn didn won"""
)
TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    stemmed: str = _stemmer().stemWord(word)  # type: ignore[attr-defined]
    return stemmed


def words(text: str) -> list[str]:
    """Lowercased word tokens, possessive 's dropped."""
    tokens: list[str] = TOKEN_RE.findall(text.lower().replace("’", "'"))
    return [w[:-2] if w.endswith("'s") else w for w in tokens]


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords and single letters: what BM25 and overlap measures use."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


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
