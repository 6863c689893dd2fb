"""Dates in news: relative dates anchored to the article's publication, and dates in questions.

* :func:`anchor_dates` resolves "yesterday", "on Tuesday", "last week", "this month" ... in a
  sentence against the day its article was published. A day resolves to an ISO date
  (``2022-06-15``), a week to an ISO interval of days (``2022-06-06/2022-06-12``, weeks run Monday
  to Sunday), a month to ``2022-05`` and a year to ``2021``. A bare weekday ("on Tuesday") is the
  most recent such day up to the publication day, or the next one when the sentence speaks of the
  future ("will", "is expected to", "next Tuesday").
* :func:`annotate_dates` shows them: "on Tuesday [2023-01-03]".
* :func:`parse_question_dates` turns a date phrase of a question ("in January 2023", "since June
  2022", "on 16 June 2022", "last week") into an inclusive published-date range.
* :func:`asks_for_latest` tells questions about the latest or current state of things.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9

_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_SENTENCE_DATE = re.compile(
    r"\b(?:(?P<rel>last|next|this|past)\s+(?P<unit>week|month|year|weekend|" + _WEEKDAY + r")"
    r"|(?:(?P<on>on|by|since|until|from|before|after|late|early|last|next)\s+)?"
    r"(?<!good )(?<!black )(?<!cyber )(?P<day>" + _WEEKDAY + r")"
    r"|(?P<word>yesterday|today|tonight|tomorrow|this morning|this afternoon|this evening"
    r"|earlier this week|earlier this month|later this week|later this month))\b",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:will|won't|shall|is (?:set|expected|scheduled|due|slated|poised) to|are (?:set|expected|scheduled|"
    r"due|slated) to|plans? to|planned|upcoming|is going to|are going to)\b",
    re.IGNORECASE,
)


def parse_day(published: str) -> date | None:
    """The day of an ISO date or date-time ("2022-06-16", "2022-06-16T08:00:00Z", "2022/06/16")."""
    value = published.strip().replace("/", "-")
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None


def week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def month_of(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def shift_month(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _interval(first: date, last: date) -> str:
    return f"{first.isoformat()}/{last.isoformat()}"


def _weekday_date(name: str, published: date, future: bool, relative: str) -> date:
    target = WEEKDAYS.index(name.lower())
    if relative == "next" or (future and relative not in ("last", "past")):
        ahead = (target - published.weekday()) % 7
        return published + timedelta(days=ahead or (7 if relative == "next" else 0))
    back = (published.weekday() - target) % 7
    if relative in ("last", "past") and back == 0:
        back = 7
    return published - timedelta(days=back)


def _relative_unit(unit: str, rel: str, published: date, future: bool) -> str:
    unit = unit.lower()
    if unit in WEEKDAYS:
        return _weekday_date(unit, published, future, rel).isoformat()
    step = {"last": -1, "past": -1, "next": 1}.get(rel, 0)
    if unit in ("week", "weekend"):
        monday, sunday = week_of(published + timedelta(weeks=step))
        return (
            _interval(monday + timedelta(days=5), sunday) if unit == "weekend" else _interval(monday, sunday)
        )
    if unit == "month":
        return shift_month(published, step).strftime("%Y-%m")
    return str(published.year + step)


def _word_date(word: str, published: date) -> str:
    word = " ".join(word.lower().split())
    if word == "yesterday":
        return (published - timedelta(days=1)).isoformat()
    if word == "tomorrow":
        return (published + timedelta(days=1)).isoformat()
    if word.endswith("week"):
        return _interval(*week_of(published))
    if word.endswith("month"):
        return published.strftime("%Y-%m")
    return published.isoformat()


def anchor_dates(sentence: str, published: str | date) -> dict[str, str]:
    """Relative date phrase (as written in the sentence) -> the ISO date, week, month or year it means."""
    day = published if isinstance(published, date) else parse_day(published)
    if day is None:
        return {}
    out: dict[str, str] = {}
    for match in _SENTENCE_DATE.finditer(sentence):
        future = bool(_FUTURE.search(_clause(sentence, match.start(), match.end())))
        if match.group("unit"):
            value = _relative_unit(match.group("unit"), match.group("rel").lower(), day, future)
        elif match.group("day"):
            rel = (match.group("on") or "").lower()
            value = _weekday_date(match.group("day"), day, future or rel in ("until", "by"), rel).isoformat()
        else:
            value = _word_date(match.group("word"), day)
        out.setdefault(match.group(0), value)
    return out


def _clause(sentence: str, start: int, end: int) -> str:
    """The clause around ``sentence[start:end]`` (between commas, semicolons, colons or periods)."""
    before = max(sentence.rfind(mark, 0, start) for mark in ",;:.")
    after = [i for i in (sentence.find(mark, end) for mark in ",;:.") if i >= 0]
    return sentence[before + 1 : min(after, default=len(sentence))]


def annotate_dates(sentence: str, dates: Mapping[str, str]) -> str:
    """The sentence with each anchored phrase followed by its date: "on Tuesday [2023-01-03]"."""
    if not dates:
        return sentence
    pattern = re.compile("|".join(re.escape(p) for p in sorted(dates, key=len, reverse=True)))
    return pattern.sub(lambda m: f"{m.group(0)} [{dates[m.group(0)]}]", sentence)


# --- questions ------------------------------------------------------------------------------
DateRange = tuple[str | None, str | None]
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY_MONTH_YEAR = re.compile(
    r"\b(?:(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+"
    + _MONTH
    + r"|"
    + _MONTH.replace("month", "month2")
    + r"\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?)\s+(?P<year>(?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_MONTH_YEAR = re.compile(r"\b" + _MONTH + r",?\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)
_ISO_DAY = re.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b")
_YEAR = re.compile(r"\b(?P<year>(?:19|20)\d\d)\b")
_RELATIVE_Q = re.compile(
    r"\b(?:(?P<rel>last|this|past|previous)\s+(?P<unit>week|month|year)|(?P<word>yesterday|today)"
    r"|(?:in\s+)?the\s+(?:past|last)\s+(?P<n>\d{1,3})\s+(?P<nunit>days|weeks|months))\b",
    re.IGNORECASE,
)
_BETWEEN = re.compile(r"\bbetween\s+(?P<a>.+?)\s+and\s+(?P<b>.+?)(?:[?.!,;]|$)", re.IGNORECASE)
_LEAD = re.compile(
    r"\b(?P<prep>since|after|before|until|till|from|in|on|during|throughout|as of)\s+"
    r"(?:(?:early|late|mid|the (?:end|start|beginning|middle) of)[\s-]+)?$",
    re.IGNORECASE,
)


def _month_number(name: str) -> int:
    return MONTHS[name.lower().rstrip(".")]


def _spans_of(text: str) -> list[tuple[int, int, date, date]]:
    """Every absolute date expression in ``text``: (start, end, first day, last day)."""
    found: list[tuple[int, int, date, date]] = []
    taken: list[range] = []

    def add(m: re.Match[str], first: date, last: date) -> None:
        if not any(m.start() in r for r in taken):
            found.append((m.start(), m.end(), first, last))
            taken.append(range(m.start(), m.end()))

    for m in _ISO_DAY.finditer(text):
        day = _safe_date(int(m["year"]), int(m["m"]), int(m["d"]))
        if day:
            add(m, day, day)
    for m in _DAY_MONTH_YEAR.finditer(text):
        month = _month_number(m["month"] or m["month2"])
        day = _safe_date(int(m["year"]), month, int(m["d1"] or m["d2"]))
        if day:
            add(m, day, day)
    for m in _MONTH_YEAR.finditer(text):
        add(m, *month_of(date(int(m["year"]), _month_number(m["month"]), 1)))
    for m in _YEAR.finditer(text):
        add(m, date(int(m["year"]), 1, 1), date(int(m["year"]), 12, 31))
    return sorted(found)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _relative_range(m: re.Match[str], today: date) -> tuple[date, date]:
    if m["word"]:
        day = today - timedelta(days=1) if m["word"].lower() == "yesterday" else today
        return day, day
    if m["n"]:
        n = int(m["n"])
        days = {"days": n, "weeks": 7 * n, "months": 31 * n}[m["nunit"].lower()]
        return today - timedelta(days=days), today
    step = 0 if m["rel"].lower() == "this" else -1
    unit = m["unit"].lower()
    if unit == "week":
        return week_of(today + timedelta(weeks=step))
    if unit == "month":
        return month_of(shift_month(today, step))
    return date(today.year + step, 1, 1), date(today.year + step, 12, 31)


def _with_preposition(
    question: str, start: int, first: date, last: date, required: bool
) -> tuple[date | None, date | None] | None:
    """The range a date expression at ``start`` means after its preposition ("since" opens the end);
    None when a preposition is ``required`` and there is none ("the 2022 finals", "by 2025")."""
    lead = _LEAD.search(question[:start])
    prep = lead["prep"].lower() if lead else ""
    if required and not prep:
        return None
    if prep in ("since", "from"):
        return first, None
    if prep == "after":
        return last + timedelta(days=1), None
    if prep in ("before",):
        return None, first - timedelta(days=1)
    if prep in ("until", "till", "as of"):
        return None, last
    return first, last


def parse_question_dates(question: str, today: date) -> DateRange:
    """The inclusive published-date range (ISO dates; None = open) a question's date phrase asks
    for: "in January 2023", "on 16 June 2022", "since June 2022", "before 2021", "between March
    2022 and May 2022", "last week", "this month", "yesterday", "in the past 30 days"."""
    between = _BETWEEN.search(question)
    if between:
        a, b = _spans_of(between["a"]), _spans_of(between["b"])
        if a and b:
            return a[0][2].isoformat(), b[-1][3].isoformat()
    for start, _, first, last in _spans_of(question):
        bounds = _with_preposition(question, start, first, last, required=True)
        if bounds is not None:
            return _iso(bounds[0]), _iso(bounds[1])
    relative = _RELATIVE_Q.search(question)
    if relative:
        first, last = _relative_range(relative, today)
        bounds = _with_preposition(question, relative.start(), first, last, required=False)
        if bounds is not None:
            return _iso(bounds[0]), _iso(bounds[1])
    return None, None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


_LATEST = re.compile(
    r"\b(?:latest|current(?:ly)?|now|most recent(?:ly)?|as of (?:today|now)|so far|to date|newest"
    r"|up to date|still|these days|at the moment|right now|how many .* (?:so far|now))\b",
    re.IGNORECASE,
)


def asks_for_latest(question: str) -> bool:
    """True for questions about the latest or current state ("What is the current death toll?")."""
    return bool(_LATEST.search(question))


def newest(dates: list[str], parse: Callable[[str], date | None] = parse_day) -> date | None:
    """The newest of some ISO dates (unparseable ones ignored)."""
    days = [d for d in (parse(x) for x in dates) if d is not None]
    return max(days, default=None)
