"""Words: answer-match normalization; the analyzer (tokenizing, stemming, stopwords) is
:mod:`ingest.terms`, its names importable from here too."""

from __future__ import annotations

import unicodedata

from ingest.terms import ANALYZER_NAME, STOPWORDS, TOKEN_RE, content_terms, stem, words, wordset

__all__ = [
    "ANALYZER_NAME", "STOPWORDS", "TOKEN_RE", "contains_answer", "contains_normalized",
    "content_terms", "normalize_for_match", "stem", "words", "wordset",
]  # fmt: skip


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
