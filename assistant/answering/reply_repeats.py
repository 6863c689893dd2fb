"""Repeated sentences in an LLM reply: a sentence already shown is not shown again.

A model can loop, writing one supported sentence over and over (a probe got 22 copies of one
sentence, all shown, ``grounded: true``). Each copy passes the support check on its own, so the
reply checker also asks whether a sentence *repeats* one it has kept. Sentences are compared as
their words: lower-cased (Unicode NFKC, case-folded), punctuation, markup and markers gone,
whitespace collapsed. A sentence repeats a kept one when the words are the same, or when it is a
*near-repeat*, which needs all of:

* the word sets overlap with a Jaccard index of at least 0.9 (:data:`JACCARD_MIN`): under ten
  distinct words only the same set qualifies; from ten on, one word in ten may differ;
* one set holds the other: words are added or dropped ("a", "also", "the"), never swapped for
  others ("Monday" for "Tuesday" is a new statement, however long the sentence);
* no number and no negation is among the words that differ ("not", "never", "didn't" ...):
  those change what a sentence says;
* the words come in the same order (a :class:`difflib.SequenceMatcher` ratio of at least 0.9 of
  the word sequences): "Russia warned Turkey" does not repeat "Turkey warned Russia".

The first occurrence is kept, as it is the one already streamed to the reader.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

JACCARD_MIN = 0.9
ORDER_MIN = 0.9
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
NEGATIONS = frozenset(
    {"no", "not", "never", "nor", "neither", "none", "nobody", "nothing", "nowhere", "without", "cannot"}
)
Words = tuple[str, ...]


def words(sentence: str) -> Words:
    """The sentence's words, lower-cased, without punctuation: "Evkurov led it [1]." -> (evkurov, led, it)."""
    text = unicodedata.normalize("NFKC", sentence).casefold().replace("’", "'")
    text = re.sub(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", " ", text)  # citation markers
    return tuple(WORD_RE.findall(text))


def _changes_meaning(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't") or any(c.isdigit() for c in word)


def is_repeat(new: Words, kept: Words) -> bool:
    """Whether a sentence with the words ``new`` repeats one with the words ``kept`` (module doc)."""
    if new == kept:
        return True
    a, b = set(new), set(kept)
    if not a or not b or len(a & b) / len(a | b) < JACCARD_MIN:
        return False
    if not (a <= b or b <= a) or any(_changes_meaning(w) for w in a ^ b):
        return False
    return SequenceMatcher(None, new, kept, autojunk=False).ratio() >= ORDER_MIN


class RepeatFilter:
    """The sentences of one reply kept so far, and how many repeats of them were dropped."""

    def __init__(self) -> None:
        self.kept: list[Words] = []
        self.dropped = 0

    def repeats(self, sentence: str) -> bool:
        """True (and counted) when ``sentence`` repeats a kept one."""
        new = words(sentence)
        if any(is_repeat(new, kept) for kept in self.kept):
            self.dropped += 1
            return True
        return False

    def keep(self, sentence: str) -> None:
        self.kept.append(words(sentence))
