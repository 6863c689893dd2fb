"""What a question brings into the pipeline (:class:`Request`) and what every stage adds to
(:class:`Trail`: the notices shown with the answer and where the time went).

Both are frozen: a stage returns a new value, it never changes the one it was given.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from assistant.text.question import check_history, check_question
from assistant.types import ChatTurn, Filters

Mode = Literal["extractive", "llm"]


@dataclass(frozen=True)
class Request:
    """One question to answer: its text, the conversation before it, the caller's filters, the
    answer mode (None: the ``answer_mode`` setting) and the day it is asked on (``today``: what
    "last week" is relative to; None: the current date)."""

    question: str
    history: tuple[ChatTurn, ...] = ()
    filters: Filters | None = None
    mode: Mode | None = None
    today: date | None = None
    started: float = field(default_factory=time.perf_counter, compare=False)

    @classmethod
    def of(
        cls,
        question: str,
        history: Sequence[ChatTurn] = (),
        filters: Filters | None = None,
        mode: Mode | None = None,
        today: date | None = None,
    ) -> Request:
        return cls(question, tuple(history), filters, mode, today)

    def accepted(self, max_question_chars: int, default_mode: Mode) -> Request:
        """The request as the pipeline takes it: the question's white space folded, the mode set;
        an empty, too long or malformed question or history turn is refused
        (:class:`InvalidQuestionError`)."""
        question = check_question(self.question, max_question_chars)
        history = tuple(check_history(self.history))
        return replace(self, question=question, history=history, mode=self.mode or default_mode)

    @property
    def day(self) -> date:
        """The day the question is asked on."""
        return self.today or date.today()


@dataclass(frozen=True)
class Trail:
    """The notices for the reader and the time each step took (ms), in the order they happened."""

    notices: tuple[str, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()

    def notice(self, *texts: str) -> Trail:
        return replace(self, notices=self.notices + texts)

    def timed(self, name: str, since: float) -> Trail:
        """The trail with the time since ``since`` (a ``perf_counter`` reading) as step ``name``."""
        return replace(self, timings=(*self.timings, (name, ms_since(since))))

    def with_timings(self, timings: dict[str, float]) -> Trail:
        return replace(self, timings=(*self.timings, *timings.items()))

    def timings_ms(self) -> dict[str, float]:
        return dict(self.timings)


def ms_since(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
