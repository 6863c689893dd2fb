"""The passage shown around a cited sentence: whole sentences or paragraphs of the article up
to a number of characters, clipped at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.frontends.ui.html import BLANK_LINE, NEWLINE, esc
from assistant.types import Citation


@dataclass(frozen=True)
class Passage:
    """The text around a cited sentence: ``before + sentence + after`` is a slice of the article."""

    before: str
    sentence: str
    after: str
    clipped_start: bool = False
    clipped_end: bool = False


# --- the passage around a cited sentence ----------------------------------------------------
Unit = tuple[int, int]


def units_of(text: str, lo: int, hi: int, separator: re.Pattern[str]) -> list[Unit]:
    """The spans of ``text[lo:hi]`` between separators (paragraphs between blank lines, or lines)."""
    spans: list[Unit] = []
    start = lo
    for match in separator.finditer(text, lo, hi):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, hi))
    return spans


def unit_index(units: Sequence[Unit], offset: int) -> int:
    """The index of the unit holding ``offset`` (or the last one starting before it)."""
    return max((i for i, (start, _) in enumerate(units) if start <= offset), default=0)


def grow(units: Sequence[Unit], first: int, last: int, max_chars: int) -> Unit:
    """Add whole neighbouring units (previous first) to ``units[first..last]`` while under ``max_chars``."""
    while True:
        grown = False
        if first > 0 and units[last][1] - units[first - 1][0] <= max_chars:
            first, grown = first - 1, True
        if last < len(units) - 1 and units[last + 1][1] - units[first][0] <= max_chars:
            last, grown = last + 1, True
        if not grown:
            return units[first][0], units[last][1]


def clip_to_words(text: str, start: int, end: int, limit: Unit, max_chars: int) -> Unit:
    """A window of about ``max_chars`` around the sentence, cut at whitespace."""
    budget = max(0, max_chars - (end - start))
    lo = max(limit[0], start - budget // 2)
    hi = min(limit[1], end + budget - (start - lo))
    if lo > limit[0]:
        space = text.find(" ", lo, start)
        lo = start if space < 0 else space + 1
    if hi < limit[1]:
        space = text.rfind(" ", end, hi)
        hi = end if space < 0 else space
    return lo, hi


def covering(units: Sequence[Unit], start: int, end: int) -> tuple[int, int, Unit]:
    """The first and last units holding ``[start, end)``, and the span they cover."""
    first, last = unit_index(units, start), unit_index(units, end - 1)
    return first, last, (units[first][0], units[last][1])


def context_bounds(text: str, start: int, end: int, max_chars: int) -> Unit:
    """Whole paragraphs around the sentence; else whole lines of its paragraph; else a word window."""
    paragraphs = units_of(text, 0, len(text), BLANK_LINE)
    first, last, para = covering(paragraphs, start, end)
    if para[1] - para[0] <= max_chars:
        return grow(paragraphs, first, last, max_chars)
    lines = units_of(text, para[0], para[1], NEWLINE)
    first, last, block = covering(lines, start, end)
    if block[1] - block[0] <= max_chars:
        return grow(lines, first, last, max_chars)
    return clip_to_words(text, start, end, block, max_chars)


def passage_around(text: str, start: int, end: int, max_chars: int = 700) -> Passage:
    """The sentence ``text[start:end]`` with as much of its paragraph (and neighbours) as fits."""
    if not 0 <= start < end <= len(text):
        raise ValueError(f"offsets {start}:{end} are outside a text of {len(text)} characters")
    lo, hi = context_bounds(text, start, end, max_chars)
    before, after = text[lo:start], text[end:hi]
    return Passage(
        before.lstrip(), text[start:end], after.rstrip(), bool(text[:lo].strip()), bool(text[hi:].strip())
    )


def citation_passage(citation: Citation, text: str | None, max_chars: int) -> Passage:
    """The passage of a citation in its article text; just the sentence when they disagree."""
    start, end = citation.char_start, citation.char_end
    if text is None or not 0 <= start < end <= len(text) or text[start:end] != citation.sentence:
        return Passage("", citation.sentence, "")
    return passage_around(text, start, end, max_chars)


def passage_html(passage: Passage) -> str:
    """The passage as a quote with the sentence in ``<mark>``."""
    lead = "… " if passage.clipped_start else ""
    tail = " …" if passage.clipped_end else ""
    return (
        f'<blockquote class="nd-passage">{lead}{esc(passage.before)}'
        f'<mark class="nd-hl">{esc(passage.sentence)}</mark>{esc(passage.after)}{tail}</blockquote>'
    )
