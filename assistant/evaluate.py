"""Quality and latency of the assistant on a question set with gold answers.

Matching: the gold answer and the text are normalized (lowercase, punctuation dropped, whitespace
folded) and the gold answer must occur in the text, the definition the project's targets use. Each
hit metric is also reported stricter, with ``_word_boundary`` appended: there the gold answer must
occur on word boundaries (no credit for "Putin" in "Putin’s" or "101" in "101-year-old", nor for "25"
in "2025-26"). Metrics:

* ``first_sentence_hit``: gold answer in the first cited sentence;
* ``first_300_hit``: gold answer in the first 300 characters of the answer text (markers removed);
* ``any_citation_hit``: gold answer in any cited sentence;
* ``refusal_rate``: share of questions answered with ``grounded: false``;
* ``latency_ms``: p50 / p95 / mean of ``ask`` (wall clock, per question);
* ``answer_ms``: p50 / p95 of the answer's own ``timings_ms["total"]`` (question to composed answer,
  before the news enrichment of citations).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.chat import strip_markers
from assistant.dates import parse_day
from assistant.lexical import contains_answer, contains_normalized
from assistant.question import InvalidQuestionError, check_text
from assistant.types import Answer
from ingest.errors import SourceError

if TYPE_CHECKING:
    from assistant.service import Assistant, Mode

FIRST_CHARS = 300


@dataclass(frozen=True)
class QuestionItem:
    id: str
    question: str
    answer: str = ""
    date: str = ""  # the day the question was asked: "this week" in it is relative to it


def read_questions(path: Path, limit: int | None = None) -> list[QuestionItem]:
    """Question lines ``{"id", "question"[, "answer", "date"]}``; SourceError names a bad line."""
    items: list[QuestionItem] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SourceError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        items.append(_item(path, number, line))
        if limit is not None and len(items) >= limit:
            break
    return items


def _item(path: Path, number: int, line: str) -> QuestionItem:
    where = f"{path}:{number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(where, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        raise SourceError(where, "expected an object with a string `question`")
    try:
        check_text(row["question"], "`question`")
    except InvalidQuestionError as exc:
        raise SourceError(where, str(exc)) from exc
    answer, day = str(row.get("answer", "") or ""), str(row.get("date", "") or "")
    if day.strip() and parse_day(day) is None:
        raise SourceError(where, f"`date` {day[:40]!r} is not a date like 2024-11-18")
    return QuestionItem(str(row.get("id", number)), row["question"], answer, day)


def answer_hits(answer: Answer, gold: str) -> dict[str, bool]:
    """Whether the gold answer is in the first cited sentence, the first 300 chars, any citation
    (each also on word boundaries only, keys ending in ``_word_boundary``)."""
    hits: dict[str, bool] = {}
    for suffix, contains in (("", contains_normalized), ("_word_boundary", contains_answer)):
        hits.update(_hits(answer, gold, contains, suffix))
    return hits


def _hits(answer: Answer, gold: str, contains: Callable[[str, str], bool], suffix: str) -> dict[str, bool]:
    first = answer.citations[0].sentence if answer.citations else ""
    opening = strip_markers(answer.answer)[:FIRST_CHARS]
    return {
        f"first_sentence_hit{suffix}": contains(first, gold),
        f"first_300_hit{suffix}": answer.grounded and contains(opening, gold),
        f"any_citation_hit{suffix}": any(contains(c.sentence, gold) for c in answer.citations),
    }


def run_questions(
    assistant: Assistant, items: Iterable[QuestionItem], mode: Mode | None = None
) -> Iterator[tuple[QuestionItem, Answer, float]]:
    """Each item with its answer and the wall-clock milliseconds ``ask`` took."""
    for item in items:
        started = time.perf_counter()
        answer = assistant.ask(item.question, mode=mode, today=parse_day(item.date))
        yield item, answer, (time.perf_counter() - started) * 1000


def percentile(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0


def evaluate(assistant: Assistant, items: Sequence[QuestionItem], mode: Mode | None = None) -> dict[str, Any]:
    """Metrics of the assistant on question items with gold answers."""
    counts: dict[str, int] = {}
    refused = 0
    latencies: list[float] = []
    chain: list[float] = []
    for item, answer, ms in run_questions(assistant, items, mode):
        latencies.append(ms)
        chain.append(answer.timings_ms.get("total", ms))
        refused += not answer.grounded
        for key, hit in answer_hits(answer, item.answer).items():
            counts[key] = counts.get(key, 0) + hit
    n = len(latencies)
    metrics: dict[str, Any] = {"questions": n}
    metrics.update({k: round(v / n, 4) if n else 0.0 for k, v in counts.items()})
    metrics["refusal_rate"] = round(refused / n, 4) if n else 0.0
    metrics["latency_ms"] = {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "mean": round(sum(latencies) / n, 1) if n else 0.0,
    }
    metrics["answer_ms"] = {"p50": percentile(chain, 50), "p95": percentile(chain, 95)}
    return metrics
