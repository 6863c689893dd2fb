"""Thumbs up/down on answers, kept in a local JSONL file (``settings.feedback_path``) for review.

One JSON object per line with the rating, the question, the answer text and its citations. Each
append holds a file lock (``<path>.lock``), so several server processes can share one file; a
reader skips any line that is not a complete record.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, Field, ValidationError

from assistant.core.errors import ConfigError, FeedbackError
from assistant.types import Answer, Citation

Rating = Literal["up", "down"]


class FeedbackRecord(BaseModel):
    """One rating of one answer."""

    rating: Rating
    question: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    grounded: bool = True
    mode: str = "extractive"
    session: str = ""
    message_index: int = -1
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @classmethod
    def of(cls, rating: Rating, answer: Answer, session: str = "", message_index: int = -1) -> FeedbackRecord:
        return cls(
            rating=rating,
            question=answer.question,
            answer=answer.answer,
            citations=answer.citations,
            grounded=answer.grounded,
            mode=answer.mode,
            session=session,
            message_index=message_index,
        )


class FeedbackLog:
    """Appends and reads feedback records in a JSONL file."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0) -> None:
        if path.is_dir():
            raise ConfigError(f"feedback_path {path} is a folder; it must name a file")
        if lock_timeout_s <= 0:
            raise ConfigError(f"feedback lock timeout must be positive, got {lock_timeout_s}")
        self.path = path
        self.lock = FileLock(str(path) + ".lock", timeout=lock_timeout_s)

    def record(
        self, rating: Rating, answer: Answer, session: str = "", message_index: int = -1
    ) -> FeedbackRecord:
        """Store a rating of ``answer`` and return the stored record."""
        record = FeedbackRecord.of(rating, answer, session, message_index)
        self.append(record)
        return record

    def append(self, record: FeedbackRecord) -> None:
        line = record.model_dump_json() + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.lock, self.path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except (OSError, Timeout) as exc:
            raise FeedbackError(f"cannot write feedback to {self.path}: {exc}") from exc

    def read(self) -> list[FeedbackRecord]:
        """Every complete record, oldest first ([] when nothing was stored yet)."""
        if not self.path.exists():
            return []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FeedbackError(f"cannot read feedback from {self.path}: {exc}") from exc
        records = []
        for line in lines:
            try:
                records.append(FeedbackRecord.model_validate_json(line))
            except ValidationError:
                continue
        return records
