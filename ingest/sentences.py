"""Sentence splitting with exact character offsets into an article's canonical text.

Every line break is a sentence boundary (scraped news has one paragraph or one sentence per line,
and headlines or bylines without final punctuation must not be glued to the next paragraph).
Inside a line, an engine proposes where sentences start; a thin layer of rules then removes the
engine's known mistakes (a split after a title such as "Sen." or an initial such as "W.", before a
lowercase continuation such as '"Why?" he asked', or around a piece without letters or digits).
Spans are built from the kept start positions, so every character of a line that has letters or
digits ends up in exactly one span. Spans longer than ``max_chars`` are cut at whitespace.

The default engine is Bling Fire, chosen by accuracy on a hand-annotated news sample and speed;
``docs/sentence-splitting.md`` has the measurements and ``benchmarks/splitters.py`` repeats them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import pairwise
from typing import Any, Protocol

from assistant.core.errors import ConfigError
from assistant.core.types import Span

ENGINES: tuple[str, ...] = ("blingfire", "pysbd", "syntok")
DEFAULT_ENGINE = "blingfire"
DEFAULT_MAX_CHARS = 1000

# Runs of characters between line breaks (the line breaks of str.splitlines).
_LINE = re.compile(r"[^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")
_SPACE_RUN = re.compile(r"\s+")
_OPENER = r"(?:^|[\s(\[\"'“‘])"
# Titles and words that precede a name or a noun and (almost) never end a sentence.
_TITLE_END = re.compile(
    _OPENER + r"(?:Mr|Mrs|Ms|Messrs|Dr|Gov|Govs|Sen|Sens|Rep|Reps|Lt|Gen|Col|Maj|Sgt|Capt|Cmdr|Adm"
    r"|Prof|Rev|Hon|Supt|Det|Atty|Pres|vs|v)\.$"
)
_INITIAL_END = re.compile(_OPENER + r"[A-HJ-Z]\.$")  # not "I.": "World War I."
# Abbreviations that are followed by a number: "No. 2", "Jan. 6", "Sept. 11".
_NUMBERED_END = re.compile(_OPENER + r"(?:No|Nos|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$")
_LIST_MARKER = re.compile(r"\d{1,3}\.$")  # "1." of a numbered list item
# A piece that starts with one of these continues the previous one ("LOUISVILLE, Ky. — A ...").
_CONTINUATION_CHARS = ",;:)]—–"
_CLOSERS = "\"'”’)]"
_WINDOW = 64  # characters of the previous piece that the rules look at


class SentenceEngine(Protocol):
    """Proposes the start offsets of the sentences of one line (no line breaks in it)."""

    def starts(self, line: str) -> list[int]: ...


class BlingfireEngine:
    """Bling Fire's rule-based sentence breaker (C++, fast); sentences located in the line."""

    def __init__(self) -> None:
        self._split = _import_engine("blingfire").text_to_sentences

    def starts(self, line: str) -> list[int]:
        return locate_starts(line, self._split(line).split("\n"))


class PysbdEngine:
    """pySBD's rule-based segmenter; its own char_span offsets are unreliable, so they are not used."""

    def __init__(self) -> None:
        self._segmenter = _import_engine("pysbd").Segmenter(language="en", clean=False)

    def starts(self, line: str) -> list[int]:
        return locate_starts(line, self._segmenter.segment(line))


class SyntokEngine:
    """syntok's tokenizer-based segmenter, whose tokens carry their own offsets."""

    def __init__(self) -> None:
        self._process = _import_engine("syntok.segmenter").process

    def starts(self, line: str) -> list[int]:
        return [int(sentence[0].offset) for paragraph in self._process(line) for sentence in paragraph]


def _import_engine(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        package = module.split(".")[0]
        raise ConfigError(f"sentence engine {package!r} is not installed (pip install {package})") from exc


def make_engine(name: str) -> SentenceEngine:
    """The engine called ``name``; ConfigError naming the value if there is no such engine."""
    engines: dict[str, type[BlingfireEngine | PysbdEngine | SyntokEngine]] = {
        "blingfire": BlingfireEngine,
        "pysbd": PysbdEngine,
        "syntok": SyntokEngine,
    }
    if name not in engines:
        raise ConfigError(f"sentence engine {name!r} is unknown; choose one of {', '.join(ENGINES)}")
    return engines[name]()


def locate_starts(line: str, sentences: Iterable[str]) -> list[int]:
    """Start offsets of ``sentences`` found in order in ``line``; ones not found are left out."""
    starts: list[int] = []
    cursor = 0
    for sentence in sentences:
        found = _find(line, sentence.strip(), cursor)
        if found is not None:
            starts.append(found[0])
            cursor = found[1]
    return starts


def _find(line: str, sentence: str, cursor: int) -> tuple[int, int] | None:
    """(start, end) of ``sentence`` in ``line`` from ``cursor``, allowing changed whitespace."""
    if not sentence:
        return None
    start = line.find(sentence, cursor)
    if start >= 0:
        return start, start + len(sentence)
    pattern = r"\s+".join(re.escape(part) for part in _SPACE_RUN.split(sentence))
    match = re.compile(pattern).search(line, cursor)
    return (match.start(), match.end()) if match else None


def refine_starts(line: str, starts: Iterable[int]) -> list[int]:
    """Drop proposed starts that the rules of this module reject; the first start is always 0."""
    candidates = _absorb_blank_pieces(line, sorted({s for s in starts if 0 < s < len(line)}))
    kept = [0]
    for index, start in enumerate(candidates):
        next_start = candidates[index + 1] if index + 1 < len(candidates) else len(line)
        # The rules look at the end of the piece before: a bounded window keeps long lines linear.
        if not _joins(line[max(kept[-1], start - _WINDOW) : start], line[start:next_start]):
            kept.append(start)
    return kept


def _absorb_blank_pieces(line: str, candidates: list[int]) -> list[int]:
    """Drop the end of each piece without letters or digits ('“…', '***') so it joins the next piece."""
    kept: list[int] = []
    previous = 0
    for start in candidates:
        if _LETTER_OR_DIGIT.search(line, previous, start):
            kept.append(start)
            previous = start
    return kept


def _joins(before: str, after: str) -> bool:
    """True when the pieces ``before`` and ``after`` belong to one sentence."""
    before, after = before.rstrip(), after.strip()
    if not _LETTER_OR_DIGIT.search(before) or not _LETTER_OR_DIGIT.search(after):
        return True
    if _TITLE_END.search(before) or _INITIAL_END.search(before):
        return True
    if after[0] in _CONTINUATION_CHARS or after[0].islower() or _LIST_MARKER.match(before):
        return True
    if before.rstrip(_CLOSERS).endswith((",", ";")):  # '"Why?," she asked.'
        return True
    return after[0].isdigit() and _NUMBERED_END.search(before) is not None


def iter_lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``text`` without surrounding whitespace, if it has letters or digits."""
    for match in _LINE.finditer(text):
        line = match.group()
        if _LETTER_OR_DIGIT.search(line):
            start = match.start() + len(line) - len(line.lstrip())
            yield start, match.start() + len(line.rstrip())


def cut_long(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    """``text[start:end]`` in pieces of at most ``max_chars``, cut at whitespace where possible."""
    while end - start > max_chars:
        cut = _last_space(text, start, start + max_chars)
        piece_end = cut if cut is not None else start + max_chars
        yield from _nonblank_span(text, start, piece_end)
        start = piece_end
        while start < end and text[start].isspace():
            start += 1
    yield from _nonblank_span(text, start, end)


def _last_space(text: str, start: int, limit: int) -> int | None:
    for position in range(limit, start, -1):
        if text[position].isspace():
            return position
    return None


def _nonblank_span(text: str, start: int, end: int) -> Iterator[Span]:
    piece = text[start:end]
    stripped = piece.strip()
    if _LETTER_OR_DIGIT.search(stripped):
        offset = start + len(piece) - len(piece.lstrip())
        yield Span(offset, offset + len(stripped))


class SentenceSplitter:
    """Splits a canonical text into sentence spans; see the module docstring for the rules."""

    def __init__(self, engine: str = DEFAULT_ENGINE, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise ConfigError(f"sentence max_chars must be a whole number of at least 1, got {max_chars!r}")
        self.engine_name = engine
        self.max_chars = max_chars
        self.engine = make_engine(engine)

    def split(self, text: str) -> list[Span]:
        """Sentence spans of ``text`` in order: ``text[span.start:span.end]`` is the sentence."""
        spans: list[Span] = []
        for line_start, line_end in iter_lines(text):
            line = text[line_start:line_end]
            bounds = [*refine_starts(line, self.engine.starts(line)), len(line)]
            for start, end in pairwise(bounds):
                span = Span(line_start + start, line_start + start + len(line[start:end].rstrip()))
                if span.end - span.start <= self.max_chars:
                    spans.append(span)
                else:
                    spans.extend(cut_long(text, span.start, span.end, self.max_chars))
        return spans


@lru_cache(maxsize=1)
def _default_splitter() -> SentenceSplitter:
    return SentenceSplitter()


def split_sentences(text: str) -> list[Span]:
    """Sentence spans of ``text`` with the default splitter (built on first use)."""
    return _default_splitter().split(text)
