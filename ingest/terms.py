"""The analyzer: words, stems and stopwords, and the content terms that BM25 ranks.

Below the storage layer so that the write side (the lexical index of :mod:`ingest.storage`) and the
read side (``assistant.text.lexical``, the questions) cut text into the very same terms.
:data:`ANALYZER_NAME` names this analyzer in the index folder: change it whenever
:func:`content_terms` would give other terms for some text, and every index made with the old one
is refused until it is rebuilt from the store.
"""

from __future__ import annotations

import re
from functools import lru_cache

ANALYZER_NAME = "newsdesk-content-terms-v1"


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
    lowered = text.lower().replace("’", "'")
    tokens: list[str] = TOKEN_RE.findall(lowered)
    if "'s" not in lowered:  # most sentences: no token to trim, so no pass over the tokens
        return tokens
    return [w[:-2] if w.endswith("'s") else w for w in tokens]


def content_terms(text: str) -> list[str]:
    """Stemmed tokens without stopwords and single letters: what BM25 and overlap measures use."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
