"""Stage 4, read: the candidates scored by the learned ranker, best first, and whether they answer
the question at all (the refusal test, :class:`~assistant.answering.reading.Reader`). A reading the
retrieve stage already made to decide the date scope is taken as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from assistant.answering.reading import Ranking, Reader
from assistant.pipeline.condense import Standalone
from assistant.pipeline.request import Request, Trail
from assistant.pipeline.retrieve import Retrieved
from assistant.types import Filters


@dataclass(frozen=True)
class Reading:
    """The ranked candidates of a request (``ranking``) and the filters their search used."""

    request: Request
    standalone: Standalone
    ranking: Ranking
    filters_applied: Filters | None
    trail: Trail


class Read:
    """The read stage (see the module doc)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def __call__(self, found: Retrieved) -> Reading:
        clock = time.perf_counter()
        ranking = found.ranking or self.reader.read(found.retrieval, found.request.today)
        trail = found.trail.timed("read", clock)
        return Reading(found.request, found.standalone, ranking, found.filters_applied, trail)
