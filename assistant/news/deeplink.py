"""Deep links to a cited sentence: URL text fragments (``#:~:text=[prefix-,]start[,end][,-suffix]``).

A browser scrolls to (and highlights) the first place in the page where the fragment's terms
match at word boundaries, case-insensitively and with runs of whitespace treated as one space.
The terms are chosen against the article's canonical text, the closest copy of the page text we
have, so that their first match there is exactly the cited sentence:

* a short sentence is given whole (``text=start``);
* a long one by its first and last words (``text=start,end``), the end term growing until its
  first match after the start term is the sentence's end;
* when the sentence's opening occurs earlier in the article, the words before it are added as a
  ``prefix-``; when even that is ambiguous, the words after it as a ``-suffix``.

Every term is percent-encoded, including ``-``, ``,`` and ``&``, which the fragment syntax uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

EXACT_MAX_CHARS = 120  # sentences up to this long are given whole
EDGE_WORDS = 4  # words of the start and end terms of a longer sentence
CONTEXT_WORDS = 3  # most words of a prefix or suffix
_SPACE = re.compile(r"\s+")


def encode_term(term: str) -> str:
    """Percent-encode one fragment term: everything but letters, digits and ``._~`` (so ``-``, ``,``
    and ``&`` too), UTF-8 first."""
    return quote(term, safe="").replace("-", "%2D")


def normalize(text: str) -> str:
    """Whitespace runs collapsed to one space, lower-cased where that keeps the length (so that
    positions in a normalized text and in a normalized prefix of it agree)."""
    collapsed = _SPACE.sub(" ", text)
    lowered = collapsed.lower()
    if len(lowered) == len(collapsed):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in collapsed)


def first_match(haystack: str, term: str, start: int = 0) -> int:
    """Index of the first match of ``term`` at word boundaries in ``haystack`` from ``start``; -1."""
    pattern = (r"(?<!\w)" if term[:1].isalnum() else "") + re.escape(term)
    pattern += r"(?!\w)" if term[-1:].isalnum() else ""
    found = re.compile(pattern).search(haystack, start)
    return found.start() if found else -1


@dataclass(frozen=True)
class TextFragment:
    """The terms of a text directive; :meth:`directive` encodes them."""

    start: str
    end: str = ""
    prefix: str = ""
    suffix: str = ""

    def directive(self) -> str:
        parts = [encode_term(self.prefix) + "-"] if self.prefix else []
        parts.append(encode_term(self.start))
        if self.end:
            parts.append(encode_term(self.end))
        if self.suffix:
            parts.append("-" + encode_term(self.suffix))
        return "text=" + ",".join(parts)


def text_fragment(text: str, char_start: int, char_end: int) -> TextFragment:
    """The fragment whose first match in ``text`` is ``text[char_start:char_end]``."""
    raw = text[char_start:char_end]
    char_start += len(raw) - len(raw.lstrip())
    sentence = _SPACE.sub(" ", raw).strip()
    page = normalize(text)
    at = len(normalize(text[:char_start]))
    words = sentence.split(" ")
    if len(sentence) <= EXACT_MAX_CHARS or len(words) <= 2 * EDGE_WORDS:
        fragment = TextFragment(sentence)
    else:
        fragment = _start_end(page, at, words)
    return _disambiguate(page, at, fragment, text[:char_start], text[char_end:])


def _key(term: str) -> str:
    return normalize(term)


def _start_end(page: str, begin: int, words: list[str]) -> TextFragment:
    start = " ".join(words[:EDGE_WORDS])
    after_start = begin + len(_key(start))
    sentence_end = begin + len(_key(" ".join(words)))
    for n in range(EDGE_WORDS, len(words) - EDGE_WORDS + 1):
        end = _key(" ".join(words[-n:]))
        at = first_match(page, end, after_start)
        if at >= 0 and at + len(end) == sentence_end:
            return TextFragment(start, " ".join(words[-n:]))
    return TextFragment(" ".join(words))


def _disambiguate(
    page: str, begin: int, fragment: TextFragment, before_text: str, after_text: str
) -> TextFragment:
    if first_match(page, _key(fragment.start)) == begin:
        return fragment
    before = before_text.split()
    for n in range(1, min(CONTEXT_WORDS, len(before)) + 1):
        prefix = " ".join(before[-n:])
        at = first_match(page, _key(f"{prefix} {fragment.start}"))
        if at >= 0 and at + len(_key(prefix)) + 1 == begin:
            return TextFragment(fragment.start, fragment.end, prefix)
    suffix = " ".join(after_text.split()[:CONTEXT_WORDS])
    return TextFragment(fragment.start, fragment.end, " ".join(before[-CONTEXT_WORDS:]), suffix)


def deep_link(url: str, text: str, char_start: int, char_end: int) -> str:
    """``url`` with a text fragment opening at the sentence; "" without a URL, the URL unchanged for an
    empty sentence. An existing ``#fragment`` is kept before the ``:~:`` directive."""
    if not url or not text[char_start:char_end].strip():
        return url
    base, _, anchor = url.partition("#")
    anchor = anchor.split(":~:", 1)[0]
    return f"{base}#{anchor}:~:{text_fragment(text, char_start, char_end).directive()}"
