"""The "latest" answer policy (docs/news.md): :func:`prefer_newest` leads a composed answer with the
newest sentence that answers about as well as the best (:func:`answers_as_well`), never changing
whether the question is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from assistant.retrieval.retrieve import Candidate
from assistant.retrieval.syndicated import HasDocId


class Scored(HasDocId, Protocol):
    @property
    def score(self) -> float: ...


S = TypeVar("S", bound=Scored)
DENSE_SLACK = 0.05  # how much less similar to the question a newer lead sentence may be
COVERAGE_SLACK = 0.1  # how much less of the question may be found around it
QUOTE_MARKS = ('"', "“", "‘", "'", "«")


@dataclass(frozen=True)
class NewestFirst(Generic[S]):
    """How a "latest" answer picks its lead sentence: candidates are compared by ``published_ts``
    (seconds, negative = undated), must score within ``margin`` of the best and be
    ``eligible(candidate, best)``; ``repeats(a, b)`` tells near-repeats; answers keep at most
    ``limit`` sentences."""

    published_ts: Callable[[S], int]
    eligible: Callable[[S, S], bool]
    repeats: Callable[[S, S], bool]
    margin: float
    limit: int


def prefer_newest(chosen: Sequence[S], ranked: Sequence[S], policy: NewestFirst[S]) -> list[S]:
    """For questions about the latest state: the chosen answer sentences led by the newest ranked
    candidate that is newer than the best chosen one and answers about as well (see
    :class:`NewestFirst`); chosen sentences it repeats are dropped, the others follow in their
    order. Without such a candidate the chosen sentences come back unchanged, so this never turns
    an answer into a refusal or the reverse."""
    if not chosen:
        return []
    best, ts = chosen[0], policy.published_ts
    newer = [
        c
        for c in ranked
        if c.score >= best.score - policy.margin and ts(c) > ts(best) >= 0 and policy.eligible(c, best)
    ]
    if not newer:
        return list(chosen)
    lead = max(newer, key=lambda c: (ts(c), c.score))
    return [lead, *(c for c in chosen if not policy.repeats(lead, c))][: policy.limit]


def answers_as_well(cand: Candidate, best: Candidate) -> bool:
    """A candidate makes the point of the best sentence about as well: it holds the kind of
    expression the question asks for whenever the best does, is about as close to the question
    (dense similarity) and about as much of the question is found around it (coverage); and it is
    no boilerplate, fragment, headline, echo of the question, repeat of the last answer or quotation."""
    f, b = cand.features, best.features
    if any(f.get(name, 0.0) > 0 for name in ("boilerplate", "fragment", "headline", "echo", "repeat")):
        return False
    if cand.text.lstrip().startswith(QUOTE_MARKS):  # a quoted opinion does not state the news
        return False
    return (
        f.get("answer_type", 0.0) >= b.get("answer_type", 0.0)
        and cand.dense >= best.dense - DENSE_SLACK
        and f.get("coverage", 0.0) >= b.get("coverage", 0.0) - COVERAGE_SLACK
    )
