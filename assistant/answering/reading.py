"""Reading the candidates: every candidate sentence scored by the learned ranker
(:mod:`assistant.answering.ranking`), best first, and whether the best of them answer the question
at all (the refusal test). The extractive answer composes from this :class:`Ranking`; the LLM
answer takes its first sentences as evidence; the retrieve stage compares two searches by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from assistant.answering.ranking import LearnedRanker
from assistant.retrieval.retrieve import Candidate, Retrieval

REFUSAL_PEERS = 3  # the best-ranked sentences of which one must be supported to answer


@dataclass(frozen=True)
class Ranking:
    """The candidates of a retrieval scored (``retrieval``: the same search, its candidates carrying
    their features and scores), best first without boilerplate (``ranked``), and whether they
    answer the question (``answerable``: one of the first few is supported)."""

    retrieval: Retrieval
    ranked: tuple[Candidate, ...]
    answerable: bool

    @property
    def strength(self) -> float | None:
        """The score of the sentence an extractive answer would lead with; None for a refusal."""
        return self.ranked[0].score if self.answerable and self.ranked else None


def score_candidates(
    retrieval: Retrieval, ranker: LearnedRanker, today: date | None = None
) -> list[Candidate]:
    """Fill each candidate's features and score (the learned ranker); best first, boilerplate out,
    repeats of the previous answer last."""
    ranked = [c for c in ranker.score(retrieval, today) if c.features.get("boilerplate", 0.0) < 1.0]
    # A follow-up's candidates that the previous answer already gave go after the others: the model
    # is fitted on single questions, where no sentence is a repeat, so this stays a rule.
    return [c for c in ranked if not c.repeat] + [c for c in ranked if c.repeat]


def support(cand: Candidate) -> float:
    """How well a sentence is backed: mean of its dense similarity and the question-term coverage."""
    return (cand.features.get("dense", 0.0) + cand.features.get("coverage", 0.0)) / 2


class Reader:
    """Scores a retrieval's candidates and applies the refusal test; ``min_support``: the
    ``refusal_min_support`` setting."""

    def __init__(self, min_support: float, ranker: LearnedRanker | None = None) -> None:
        self.min_support = min_support
        self.ranker = ranker or LearnedRanker()

    def read(self, retrieval: Retrieval, today: date | None = None) -> Ranking:
        """The ranking of the retrieval's candidates on the day ``today`` (their age counts); the
        retrieval given is not changed (its candidates are scored as copies)."""
        scored = replace(retrieval, candidates=[replace(c, features={}) for c in retrieval.candidates])
        ranked = score_candidates(scored, self.ranker, today)
        return Ranking(scored, tuple(ranked), self.answerable(ranked))

    def answerable(self, ranked: Sequence[Candidate]) -> bool:
        """Whether the evidence around the best-ranked sentences is strong enough to answer: one of
        the first few is supported. (The ranker may put first the sentence after the one that matches
        the question's words, which alone is weakly supported.)"""
        return any(self.supported(c) for c in ranked[:REFUSAL_PEERS])

    def supported(self, cand: Candidate) -> bool:
        """Evidence test: the sentence is close to the question and enough of the question is found."""
        return support(cand) >= self.min_support
