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
* ``candidate_recall``: gold answer in any candidate sentence the answerer ranked (retrieval's
  share, so retrieval and ranking can be improved separately);
* ``short_answer_given`` / ``_exact`` / ``_contains``: share of questions whose answer has a short
  answer, whose short answer equals the gold answer, and whose short answer contains it;
* ``interval_95``: a 95% bootstrap interval (resampling questions) of each rate;
* ``weeks``: the rates of each quiz week (the question id's prefix);
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
import numpy.typing as npt

from assistant.core.errors import InvalidQuestionError, SourceError
from assistant.pipeline.condense import strip_markers
from assistant.pipeline.request import Mode, Request
from assistant.text.dates import parse_day
from assistant.text.lexical import contains_answer, contains_normalized, normalize_for_match
from assistant.text.question import check_text
from assistant.types import Answer

if TYPE_CHECKING:
    from assistant.service import Assistant

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


def short_answer_hits(answer: Answer, gold: str) -> dict[str, bool]:
    """Whether the answer gave a short answer, whether it equals the gold answer, and whether it
    contains it (normalized as the other hits)."""
    short = normalize_for_match(answer.short_answer.text) if answer.short_answer else ""
    wanted = normalize_for_match(gold)
    return {
        "short_answer_given": bool(short),
        "short_answer_exact": bool(short) and short == wanted,
        "short_answer_contains": bool(short and wanted) and wanted in short,
    }


def _hits(answer: Answer, gold: str, contains: Callable[[str, str], bool], suffix: str) -> dict[str, bool]:
    first = answer.citations[0].sentence if answer.citations else ""
    opening = strip_markers(answer.answer)[:FIRST_CHARS]
    return {
        f"first_sentence_hit{suffix}": contains(first, gold),
        f"first_300_hit{suffix}": answer.grounded and contains(opening, gold),
        f"any_citation_hit{suffix}": any(contains(c.sentence, gold) for c in answer.citations),
    }


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome: hits, refusal, whether the gold was among the candidates, timing."""

    item: QuestionItem
    answer: Answer
    hits: dict[str, bool]
    candidate_hit: bool
    ms: float

    @property
    def week(self) -> str:
        """The quiz week of the question (its id's prefix, ``20240105`` of ``20240105_3``)."""
        return self.item.id.split("_")[0]

    def miss(self) -> dict[str, Any]:
        """What error analysis needs of a question whose first cited sentence missed the gold."""
        first = self.answer.citations[0] if self.answer.citations else None
        return {
            "id": self.item.id,
            "date": self.item.date,
            "question": self.item.question,
            "gold": self.item.answer,
            "grounded": self.answer.grounded,
            "first_citation": first.sentence if first else "",
            "first_doc_id": first.doc_id if first else "",
            "short_answer": self.answer.short_answer.text if self.answer.short_answer else "",
            "gold_in_candidates": self.candidate_hit,
            "gold_in_any_citation": self.hits.get("any_citation_hit", False),
        }


def run_questions(
    assistant: Assistant, items: Iterable[QuestionItem], mode: Mode | None = None
) -> Iterator[QuestionResult]:
    """Each item asked with its own date as "today", with its outcome."""
    for item in items:
        started = time.perf_counter()
        answer, retrieval = assistant.trace(Request(item.question, mode=mode, today=parse_day(item.date)))
        ms = (time.perf_counter() - started) * 1000
        found = bool(item.answer) and any(
            contains_normalized(c.text, item.answer) for c in retrieval.candidates
        )
        hits = {**answer_hits(answer, item.answer), **short_answer_hits(answer, item.answer)}
        yield QuestionResult(item, answer, hits, found, ms)


def percentile(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0


RATES = (
    "first_sentence_hit",
    "first_300_hit",
    "any_citation_hit",
    "candidate_recall",
    "refusal_rate",
    "short_answer_exact",
    "short_answer_contains",
)


def evaluate(
    assistant: Assistant,
    items: Sequence[QuestionItem],
    mode: Mode | None = None,
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """Metrics of the assistant on question items with gold answers."""
    return summarize(list(run_questions(assistant, items, mode)), bootstrap)


def summarize(results: Sequence[QuestionResult], bootstrap: int = 1000) -> dict[str, Any]:
    """Rates with 95% bootstrap intervals, per-week rates, and latency of a list of results."""
    metrics: dict[str, Any] = {"questions": len(results)}
    table = _outcomes(results)
    metrics.update({k: round(float(v.mean()), 4) if len(v) else 0.0 for k, v in table.items()})
    metrics["interval_95"] = {k: bootstrap_interval(table[k], bootstrap) for k in RATES}
    latencies = [r.ms for r in results]
    chain = [r.answer.timings_ms.get("total", r.ms) for r in results]
    metrics["latency_ms"] = {
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "mean": round(sum(latencies) / len(latencies), 1) if latencies else 0.0,
    }
    metrics["answer_ms"] = {"p50": percentile(chain, 50), "p95": percentile(chain, 95)}
    metrics["weeks"] = per_week(results)
    return metrics


def _outcomes(results: Sequence[QuestionResult]) -> dict[str, npt.NDArray[np.float64]]:
    """One 0/1 column per rate (and per hit key), one row per question."""
    columns: dict[str, list[float]] = {}
    for r in results:
        for key, hit in r.hits.items():
            columns.setdefault(key, []).append(float(hit))
        columns.setdefault("candidate_recall", []).append(float(r.candidate_hit))
        columns.setdefault("refusal_rate", []).append(float(not r.answer.grounded))
    for key in RATES:
        columns.setdefault(key, [])
    return {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}


def bootstrap_interval(outcomes: npt.NDArray[np.float64], samples: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of a rate, resampling questions."""
    if not len(outcomes) or samples < 1:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    means = outcomes[rng.integers(0, len(outcomes), size=(samples, len(outcomes)))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def per_week(results: Sequence[QuestionResult]) -> dict[str, dict[str, float]]:
    """Questions and rates of each quiz week."""
    weeks: dict[str, list[QuestionResult]] = {}
    for r in results:
        weeks.setdefault(r.week, []).append(r)
    out = {}
    for week, group in sorted(weeks.items()):
        table = _outcomes(group)
        rates = {k: round(float(table[k].mean()), 3) if len(table[k]) else 0.0 for k in RATES}
        out[week] = {"questions": len(group), **rates}
    return out
