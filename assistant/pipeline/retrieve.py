"""Stage 3, retrieve: the candidate sentences the answer is read from.

The hybrid search (:class:`~assistant.retrieval.retrieve.HybridSearch`) finds them within the
caller's filters. Sentences that address the reader or a model (possible prompt injection) are
left out: they are neither evidence nor an answer. In a follow-up, the sentences the last answer
already gave are marked (the reader puts them last).

When the question names dates (the scope stage's ``dated`` range), the search is made again within
them, and the date scope is decided here: the narrower search is kept when it answers about as well
as the search of all dates (:func:`prefer_dated`, by the reader's ranking of both, which the read
stage then takes over instead of ranking again). "What happened on January 6, 2021?" asked of
articles published in 2022 so falls back to them when the articles of that day answer clearly worse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date
from typing import Protocol

from assistant.answering.reading import Ranking
from assistant.pipeline.condense import Standalone
from assistant.pipeline.request import Request, Trail
from assistant.pipeline.scope import Scoped
from assistant.retrieval.retrieve import Candidate, HybridSearch, Retrieval
from assistant.text.injection import screen, suspect_notice
from assistant.text.question import Question
from assistant.types import Filters


class Judge(Protocol):
    """How well a search's candidates answer: the reader (:class:`~assistant.answering.reading.Reader`)."""

    def read(self, retrieval: Retrieval, today: date | None = None) -> Ranking: ...


@dataclass(frozen=True)
class Retrieved:
    """The candidates found (``retrieval``), the filters their search used (``filters_applied``:
    the caller's, or the question's dates) and, when the date scope was decided by reading both
    searches, the reading of the one kept (``ranking``)."""

    request: Request
    standalone: Standalone
    retrieval: Retrieval
    filters_applied: Filters | None
    ranking: Ranking | None
    trail: Trail


class Retrieve:
    """The retrieve stage (see the module doc); ``date_margin``: the ``date_phrase_margin`` setting."""

    def __init__(self, search: HybridSearch, judge: Judge, date_margin: float) -> None:
        self.search = search
        self.judge = judge
        self.date_margin = date_margin

    def __call__(self, scoped: Scoped) -> Retrieved:
        previous = scoped.standalone.previous_answer
        retrieval, suspect = self._search(scoped.question, scoped.filters, (previous, scoped.request.day))
        trail = scoped.trail.with_timings(retrieval.timings_ms)
        found = Retrieved(scoped.request, scoped.standalone, retrieval, scoped.filters, None, trail)
        if scoped.dated is not None:
            found, suspect = self._date_scope(found, scoped.question, scoped.dated, suspect)
        if suspect:
            found = replace(found, trail=found.trail.notice(suspect_notice(suspect)))
        return found

    def _search(
        self,
        question: Question,
        filters: Filters | None,
        asked: tuple[str, date],
        known: Retrieval | None = None,
    ) -> tuple[Retrieval, int]:
        """The search's candidates without the suspect sentences, repeats of the last answer marked;
        and how many were suspect. ``asked``: the last answer and the question's day; ``known``: an
        earlier search of the question, whose articles are not read again."""
        previous, today = asked
        retrieval = self.search.search(question, filters, known.view if known else None, today)
        kept, suspect = screen(retrieval.candidates)
        return replace(retrieval, candidates=mark_repeats(kept, previous)), len(suspect)

    def _date_scope(
        self, found: Retrieved, question: Question, dated: Filters, suspect: int
    ) -> tuple[Retrieved, int]:
        """The search within the question's dates when it answers about as well, else the first."""
        clock = time.perf_counter()
        today = found.request.today
        previous = found.standalone.previous_answer
        asked = (previous, found.request.day)
        narrow, narrow_suspect = self._search(question, dated, asked, found.retrieval)
        everywhere, within = self.judge.read(found.retrieval, today), self.judge.read(narrow, today)
        kept = prefer_dated(everywhere.strength, within.strength, self.date_margin)
        trail = found.trail.notice(date_phrase_notice(dated, kept)).timed("date_phrase", clock)
        if kept:
            return replace(found, retrieval=narrow, filters_applied=dated, ranking=within, trail=trail), (
                narrow_suspect
            )
        return replace(found, ranking=everywhere, trail=trail), suspect


def mark_repeats(candidates: list[Candidate], previous_answer: str) -> list[Candidate]:
    """In a follow-up, the candidates the last answer already gave, marked ``repeat`` (they should
    not be the new answer)."""
    if not previous_answer:
        return candidates
    flat = " ".join(previous_answer.split())
    return [replace(c, repeat=" ".join(c.text.split()) in flat) for c in candidates]


def prefer_dated(plain_best: float | None, dated_best: float | None, margin: float) -> bool:
    """Whether to keep the search restricted to the question's dates: its best sentence is good
    enough to answer (not None) and scores within ``margin`` of the best of all articles. The date
    phrase is so a soft preference."""
    if dated_best is None:
        return False
    return plain_best is None or dated_best >= plain_best - margin


def date_phrase_notice(filters: Filters, kept: bool) -> str:
    """The notice telling which articles the question's date phrase restricted the search to."""
    if kept:
        return f"Searched articles {range_phrase(filters)}, the dates named in the question."
    return (
        f"The question names dates ({range_phrase(filters)}) but the articles of those dates do not "
        "answer it as well; searched all dates."
    )


def range_phrase(filters: Filters) -> str:
    """'published 2022-06-13 to 2022-06-19', 'published since 2022-06-01', 'published until ...'."""
    lo, hi = filters.published_from, filters.published_to
    if lo and hi:
        return f"published {lo} to {hi}" if lo != hi else f"published on {lo}"
    return f"published since {lo}" if lo else f"published until {hi}"
