"""Checks of an LLM reply before it is shown: its sentences, their citation markers, that each
is supported by the evidence it cites and does not repeat one already shown
(:mod:`assistant.answering.reply_repeats`); links and markup are removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answering.evidence import Evidence, evidence_label
from assistant.answering.reply_repeats import RepeatFilter
from assistant.answering.support import Embed, SupportCheck

NOT_FOUND = "NOT_FOUND"


MARKER_RE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


SPLIT_RE = re.compile(r"(?<=[.!?\]\"”])\s+(?=[A-Z0-9“\"'(])")


URL_RE = re.compile(r"(?:https?://|www\.)[^\s\])>\"']+", re.IGNORECASE)


MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")


HTML_TAG_RE = re.compile(r"</?[A-Za-z][^>]*>")


MD_MARKUP_RE = re.compile(r"(\*\*|__|`{1,3}|^#{1,6}\s+|^\s*[-*+]\s+|^\s*>\s*)", re.MULTILINE)


class ReplyChecker:
    """Checks reply sentences against the evidence and renumbers their markers."""

    def __init__(self, evidence: Sequence[Evidence], embed: Embed | None = None) -> None:
        self.numbers = {e.n for e in evidence}
        self.evidence_text = " ".join(e.text for e in evidence)
        self.labels = {f"({evidence_label(e)})" for e in evidence}
        self.support = SupportCheck({e.n: e.text for e in evidence}, embed)
        self.repeats = RepeatFilter()
        self.order: list[int] = []
        self.dropped_sentences = 0
        self.unsupported = 0
        self.dropped_markers = 0
        self.removed_markup = 0

    def check(self, sentence: str) -> str | None:
        """The sentence as shown (markers renumbered), or None when it cites no evidence that
        supports it (:mod:`assistant.answering.support`) or repeats a sentence already shown."""
        cleaned = self._clean_markup(sentence)
        cited: list[int] = []
        for match in MARKER_RE.finditer(cleaned):
            for number in (int(x) for x in re.split(r"[,;]", match.group(1))):
                if number in self.numbers:
                    cited.append(number)
                else:
                    self.dropped_markers += 1
        body = " ".join(MARKER_RE.sub("", cleaned).split())
        body = re.sub(r"\s+([.,;:!?])", r"\1", body)
        if not cited or not re.search(r"\w", body):
            self.dropped_sentences += 1 if re.search(r"\w", body) else 0
            return None
        if self.repeats.repeats(body):  # before the support check: a loop costs no embedding
            return None
        verdict = self.support.verdict(body, cited)
        if not verdict.supported:
            self.unsupported += 1
            return None
        self.repeats.keep(body)
        marks = "".join(f"[{self._renumber(n)}]" for n in verdict.cited)
        return f"{body} {marks}"

    def _renumber(self, number: int) -> int:
        if number not in self.order:
            self.order.append(number)
        return self.order.index(number) + 1

    def _clean_markup(self, text: str) -> str:
        for label in self.labels:  # "(outlet, date)" copied from the evidence block
            text = text.replace(label, "")
        before = text
        text = MD_LINK_RE.sub(
            lambda m: m.group(1) if m.group(2) not in self.evidence_text else m.group(0), text
        )
        text = URL_RE.sub(lambda m: m.group(0) if m.group(0) in self.evidence_text else "", text)
        text = HTML_TAG_RE.sub(lambda m: m.group(0) if m.group(0) in self.evidence_text else "", text)
        text = MD_MARKUP_RE.sub("", text)
        if text != before:
            self.removed_markup += 1
        return text

    def notices(self) -> list[str]:
        out = []
        if self.dropped_sentences:
            out.append(
                f"Removed {self.dropped_sentences} sentence(s) of the LLM reply that cited no evidence."
            )
        if self.unsupported:
            out.append(
                f"Removed {self.unsupported} sentence(s) of the LLM reply that the evidence they cite "
                "does not support."
            )
        if self.repeats.dropped:
            out.append(f"Removed {self.repeats.dropped} repeated sentence(s) of the LLM reply.")
        if self.dropped_markers:
            out.append(f"Removed {self.dropped_markers} citation marker(s) naming no evidence sentence.")
        if self.removed_markup:
            out.append("Removed links or markup that are not in the evidence.")
        return out


class ReplySplitter:
    """Collects streamed text and releases it sentence by sentence, each with its markers after it.

    Models place markers two ways: after the sentence ("Evkurov led it [1]. He met ... [3].") as
    the prompt asks, or before it, copying the evidence block's layout ("[1] Evkurov led it.
    [3] He met ..."). The first marker tells which: when it starts a line, every marker belongs to
    the text after it, up to the next marker. Reading such a reply the first way would give each
    sentence the marker of the next one. Nothing is released before the first marker comes (a
    sentence without one would be dropped anyway)."""

    def __init__(self) -> None:
        self.text = ""
        self.leading: bool | None = None  # markers before their sentences; None: not known yet

    def feed(self, piece: str) -> list[str]:
        self.text += piece
        if self.leading is None:
            self.leading = _markers_lead(self.text)
            if self.leading is None:
                return []
        return self._release(final=False)

    def flush(self, complete_only: bool = False) -> list[str]:
        """The rest; with ``complete_only`` (a reply cut off) a last sentence without its end is dropped."""
        if self.leading is None:
            self.leading = False
        complete = COMPLETE_RE.search(self.text) is not None
        sentences = self._release(final=True)
        if complete_only and sentences and not complete:
            sentences.pop()
        return sentences

    def _release(self, final: bool) -> list[str]:
        """Complete sentences; the text after the last boundary is kept (unless ``final``)."""
        cuts = _unit_starts(self.text) if self.leading else _boundaries(self.text)
        if final:
            cuts.append(len(self.text))
        pieces = [self.text[begin:end] for begin, end in zip([0, *cuts], cuts)]
        self.text = self.text[cuts[-1] :] if cuts else self.text
        if self.leading:
            return [s for piece in pieces for s in _marked_sentences(piece)]
        return [" ".join(p.split()) for p in pieces if p.strip()]


COMPLETE_RE = re.compile(r"(?:[.!?][\"'”’)]*|\])\s*$")


MARKER_RUN_RE = re.compile(rf"(?:{MARKER_RE.pattern}\s*)+")


BOUNDARY_RE = re.compile(rf"{SPLIT_RE.pattern}|\n\s*\n")


SENTENCE_END = ".!?\"”’')"


def _markers_lead(text: str) -> bool | None:
    """Whether the reply's markers open their sentences: True when its first marker starts a line,
    False when it follows text on its line, None while no marker has come."""
    first = MARKER_RE.search(text)
    if first is None:
        return None
    return text[: first.start()].rpartition("\n")[2].strip() == ""


def _boundaries(text: str) -> list[int]:
    """Where sentences start: after terminal punctuation or a marker, and after blank lines."""
    return [m.end() for m in BOUNDARY_RE.finditer(text)]


def _unit_starts(text: str) -> list[int]:
    """Where a run of markers opens a sentence (at a line start or after a sentence's end)."""
    starts = []
    for match in MARKER_RUN_RE.finditer(text):
        before = text[: match.start()].rstrip(" \t")
        if before and (before.endswith("\n") or before[-1] in SENTENCE_END):
            starts.append(match.start())
    return starts


def _marked_sentences(unit: str) -> list[str]:
    """A unit opening with markers as sentences, each followed by the unit's markers:
    "[1] A. B." -> ["A. [1]", "B. [1]"]."""
    unit = unit.strip()
    run = MARKER_RUN_RE.match(unit)
    marks = " ".join(run.group(0).split()) if run else ""
    rest = unit[run.end() :] if run else unit
    cuts = _boundaries(rest)
    pieces = [rest[begin:end] for begin, end in zip([0, *cuts], [*cuts, len(rest)])]
    return [f"{' '.join(p.split())} {marks}".strip() for p in pieces if p.strip()]
