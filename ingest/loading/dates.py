"""Dates as ISO 8601 text: what every loader stores as ``published`` (and ``modified``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from dateutil import parser as date_parser

_DEFAULTS = (datetime(2000, 1, 1, 0, 0, 0), datetime(2001, 2, 2, 1, 1, 1))


def iso_date(value: str) -> str:
    """Normalise a date or date-time string to ISO 8601; raise ValueError if it is not one.

    A value without a time of day becomes a date (``2022/06/12`` -> ``2022-06-12``); with one, a
    date-time that keeps its UTC offset when it has one.
    """
    value = value.strip()
    try:
        first, second = (date_parser.parse(value, default=d) for d in _DEFAULTS)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a date: {value!r}") from exc
    if first.date() != second.date():
        raise ValueError(f"incomplete date: {value!r}")
    if first.time() != second.time():
        return first.date().isoformat()
    return first.isoformat()


def safe_iso(value: str | None) -> str:
    """:func:`iso_date` of ``value``, or "" when it is empty or not a date."""
    try:
        return iso_date(value) if value else ""
    except ValueError:
        return ""


def iso_from_struct_time(value: time.struct_time | None) -> str:
    """ISO 8601 date-time (UTC) of a ``time.struct_time`` in UTC, as feedparser gives; "" for None."""
    if value is None:
        return ""
    return datetime(*value[:6], tzinfo=UTC).isoformat()


def timestamp(value: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 date or date-time (UTC when it has no offset), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
