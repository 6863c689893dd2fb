"""The question's date scope (docs/news.md): :func:`question_filters` turns a date phrase of the
question into filters, and :func:`prefer_dated` decides whether the search restricted to them is kept.
"""

from __future__ import annotations

from datetime import date

from assistant.text.dates import parse_question_dates
from assistant.types import Filters


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


def prefer_dated(plain_best: float | None, dated_best: float | None, margin: float) -> bool:
    """Whether to keep the search restricted to the question's dates: its best sentence is good
    enough to answer (not None) and scores within ``margin`` of the best of all articles. The date
    phrase is so a soft preference: "What happened on January 6, 2021?" asked of articles published
    in 2022 falls back to them when the articles of that day answer clearly worse."""
    if dated_best is None:
        return False
    return plain_best is None or dated_best >= plain_best - margin


def range_phrase(filters: Filters) -> str:
    """'published 2022-06-13 to 2022-06-19', 'published since 2022-06-01', 'published until ...'."""
    lo, hi = filters.published_from, filters.published_to
    if lo and hi:
        return f"published {lo} to {hi}" if lo != hi else f"published on {lo}"
    return f"published since {lo}" if lo else f"published until {hi}"


def date_phrase_notice(filters: Filters, kept: bool) -> str:
    """The notice telling which articles the question's date phrase restricted the search to."""
    if kept:
        return f"Searched articles {range_phrase(filters)}, the dates named in the question."
    return (
        f"The question names dates ({range_phrase(filters)}) but the articles of those dates do not "
        "answer it as well; searched all dates."
    )
