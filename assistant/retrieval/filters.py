"""Search filters (published date range, outlets) as bounds: a Chroma ``where`` for the dense query
and :class:`~ingest.storage.lexical_records.SearchFilters` for the lexical index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from assistant.core.errors import FilterError
from assistant.types import Filters
from ingest.storage.lexical_records import SearchFilters


def parse_day(value: str, end_of_day: bool) -> int:
    """Seconds since the epoch (UTC) of an ISO date or date-time; ``end_of_day`` for inclusive ends."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            clock = (23, 59, 59) if end_of_day else (0, 0, 0)  # no day after 9999-12-31 to count back from
            return int(datetime(day.year, day.month, day.day, *clock, tzinfo=UTC).timestamp())
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"invalid date {value!r}: use YYYY-MM-DD") from exc
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


@dataclass(frozen=True)
class FilterSpec:
    """Filters as bounds: a Chroma ``where`` for the dense query and bounds for the lexical index."""

    ts_from: int | None = None
    ts_to: int | None = None
    sources: frozenset[str] = frozenset()

    @classmethod
    def from_filters(cls, filters: Filters | None) -> FilterSpec:
        if filters is None or filters.is_empty():
            return cls()
        ts_from = parse_day(filters.published_from, False) if filters.published_from else None
        ts_to = parse_day(filters.published_to, True) if filters.published_to else None
        return cls(ts_from, ts_to, frozenset(s for s in filters.sources if s))  # from > to: nothing passes

    @property
    def impossible(self) -> bool:
        """A date range that ends before it starts: no article can pass."""
        return self.ts_from is not None and self.ts_to is not None and self.ts_from > self.ts_to

    @property
    def empty(self) -> bool:
        return self.ts_from is None and self.ts_to is None and not self.sources

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.ts_from is not None:
            clauses.append({"published_ts": {"$gte": self.ts_from}})
        if self.ts_to is not None:
            clauses.append({"published_ts": {"$lte": self.ts_to}})
        if self.sources:
            clauses.append({"source": {"$in": sorted(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def search_filters(self) -> SearchFilters:
        """The same bounds for the lexical index."""
        return SearchFilters(self.ts_from, self.ts_to, self.sources)


def empty_range_notice(filters: Filters | None) -> str | None:
    """The notice for a date range that ends before it starts (the search then finds nothing), else None."""
    if filters is None or not FilterSpec.from_filters(filters).impossible:
        return None
    return (
        f"published_from {filters.published_from} is after published_to {filters.published_to}: "
        "no article can match these filters."
    )
