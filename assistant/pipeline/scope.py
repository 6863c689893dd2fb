"""Stage 2, scope: which articles the question is about (docs/news.md).

The caller's filters bound every search; a backwards date range is told to the reader (nothing can
match it). A date phrase of the question ("in January 2023", "since June 2022", "last week") gives
a narrower date range to try when the caller named no dates: :func:`question_filters`. Whether the
answer comes from that range is decided by the retrieve stage, which searches both
(:mod:`assistant.pipeline.retrieve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from assistant.pipeline.condense import Condensed, Standalone
from assistant.pipeline.request import Request, Trail
from assistant.retrieval.filters import empty_range_notice
from assistant.text.dates import parse_question_dates
from assistant.text.question import Question, read_question
from assistant.types import Filters


@dataclass(frozen=True)
class Scoped:
    """The standalone question read for search, the caller's filters, and the question's own date
    range when it names one (``dated``; None: it names none, or the caller's dates win)."""

    request: Request
    standalone: Standalone
    question: Question
    filters: Filters | None
    dated: Filters | None
    trail: Trail


class Scope:
    """The scope stage (see the module doc); ``question_dates``: the ``question_date_filters`` setting."""

    def __init__(self, question_dates: bool) -> None:
        self.question_dates = question_dates

    def __call__(self, condensed: Condensed) -> Scoped:
        request, text = condensed.request, condensed.standalone.text
        trail = condensed.trail
        if notice := empty_range_notice(request.filters):
            trail = trail.notice(notice)
        dated = question_filters(text, request.filters, request.day) if self.question_dates else None
        if dated is request.filters:
            dated = None
        return Scoped(request, condensed.standalone, read_question(text), request.filters, dated, trail)


def question_filters(question: str, filters: Filters | None, today: date) -> Filters | None:
    """The filters with a date range read from the question ("in January 2023", "since June 2022",
    "last week") when the caller gave none; explicit dates always win."""
    if filters is not None and (filters.published_from or filters.published_to):
        return filters
    lo, hi = parse_question_dates(question, today)
    if (lo is None and hi is None) or (lo and hi and lo > hi):  # none, or "between May and March"
        return filters
    sources = list(filters.sources) if filters else []
    return Filters(published_from=lo, published_to=hi, sources=sources)
