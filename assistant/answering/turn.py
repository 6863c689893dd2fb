"""The state of one question as it flows through the answering chain."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from assistant.answering.condense import Standalone
from assistant.retrieval.retrieve import Retrieval
from assistant.types import ChatTurn, Filters

Mode = Literal["extractive", "llm"]


@dataclass
class Turn:
    """State of one question as it flows through the chain."""

    question: str
    history: Sequence[ChatTurn]
    filters: Filters | None
    mode: Mode
    today: date | None = None  # what "last week" in the question is relative to (None: today)
    started: float = field(default_factory=time.perf_counter)
    filters_applied: Filters | None = None
    standalone: Standalone | None = None
    retrieval: Retrieval | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    suspect: int = 0  # retrieved sentences left out: they address the reader or a model
