"""Answering subcommands of ``newsdesk``: ask, batch and eval (``serve`` belongs to the API)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from assistant.core.errors import ConfigError
from assistant.core.settings import Settings
from assistant.frontends.cli.commands import Handler
from assistant.types import Answer, Citation, Filters


def add_commands(sub: Any) -> None:
    """Register the answering subcommands on the ``newsdesk`` parser."""
    p = sub.add_parser("ask", help="answer a question with cited sentences")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer object as JSON")
    p.add_argument(
        "--today", type=_iso_day, help='YYYY-MM-DD that "last week" in the question is relative to'
    )
    _add_answer_options(p)
    p = sub.add_parser("batch", help="answer every question of a JSONL file (one answer a line)")
    p.add_argument(
        "--questions",
        type=Path,
        required=True,
        help='JSONL lines {"id", "question"[, "date"]}; "this week" in a question is relative to its date',
    )
    p.add_argument("--out", type=Path, required=True, help="JSONL answers, id copied")
    _add_answer_options(p)
    p = sub.add_parser("eval", help="quality and latency metrics on questions with gold answers")
    p.add_argument(
        "--questions",
        type=Path,
        action="append",
        required=True,
        help='JSONL lines {"id", "question", "answer", "date"}; repeat for several splits',
    )
    p.add_argument(
        "--split-store",
        type=Path,
        action="append",
        default=[],
        help="the store of each --questions file, in the same order (default: --store for all)",
    )
    p.add_argument("--limit", type=int, help="only the first N questions of each file")
    p.add_argument("--misses", type=Path, help="write the questions whose first citation missed (JSONL)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap samples of the intervals")
    _add_answer_options(p, filters=False)


def _add_answer_options(p: argparse.ArgumentParser, filters: bool = True) -> None:
    p.add_argument("--mode", choices=["extractive", "llm"], help="answerer (default: answer_mode setting)")
    if not filters:
        return
    p.add_argument("--from", dest="published_from", type=_iso_day, help="published on or after YYYY-MM-DD")
    p.add_argument("--to", dest="published_to", type=_iso_day, help="published on or before YYYY-MM-DD")
    p.add_argument(
        "--source", dest="sources", action="append", default=[], help="only this outlet (repeatable)"
    )


def _iso_day(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date YYYY-MM-DD") from exc
    return value


def _filters(args: argparse.Namespace) -> Filters | None:
    filters = Filters(
        published_from=args.published_from, published_to=args.published_to, sources=args.sources
    )
    return None if filters.is_empty() else filters


def _print_answer(answer: Answer) -> None:
    print(answer.answer)
    for note in answer.notices:
        print(f"note: {note}")
    if answer.citations:
        print()
    for c in answer.citations:
        print(f"[{c.n}] {c.title or c.doc_id} ({c.source or '-'}, {c.published or 'undated'})")
        print(f"    {c.doc_id} chars {c.char_start}-{c.char_end}{'  ' + c.url if c.url else ''}")
        news = news_line(c)
        if news:
            print(f"    {news}")


def news_line(citation: Citation) -> str:
    """Corroboration, syndicated copies and resolved dates of a citation, on one line."""
    parts = []
    if citation.corroboration is not None:
        count = citation.corroboration.count
        parts.append(f"reported by {count} independent outlets" if count > 1 else "single source so far")
    if citation.also_published_by:
        parts.append("also published by: " + ", ".join(citation.also_published_by))
    if citation.dates:
        parts.append("dates: " + ", ".join(f'"{k}" = {v}' for k, v in citation.dates.items()))
    return "; ".join(parts)


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.frontends.cli.archives import archive_path
    from assistant.frontends.cli.forward import ask_through, served_address
    from assistant.pipeline.request import Request

    today = date.fromisoformat(args.today) if args.today else None
    request = Request(args.question, filters=_filters(args), mode=args.mode, today=today)
    served = served_address(settings) or getattr(args, "archive_server", None)
    if served is not None:  # the server has the model and the store loaded: ask it
        answer = ask_through(served, request, settings, archive_path(args, "ask"))
    else:
        answer = _ask_here(request, settings)
    if args.json:
        print(answer.model_dump_json())
    else:
        _print_answer(answer)
    return 0 if answer.grounded else 1


def _ask_here(request: Any, settings: Settings) -> Answer:
    """The answer of an assistant built in this process (no server holds the store)."""
    from assistant.service import create_assistant

    assistant = create_assistant(settings)
    assistant.prepare()  # the question encoder's load and the index check side by side
    return assistant.ask(request)


def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.evaluate import read_questions
    from assistant.pipeline.request import Request
    from assistant.service import create_assistant
    from assistant.text.dates import parse_day

    items = read_questions(args.questions)
    assistant = create_assistant(settings)
    assistant.prepare()
    filters = _filters(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for item in items:
            request = Request(item.question, filters=filters, mode=args.mode, today=parse_day(item.date))
            answer = assistant.ask(request)
            out.write(json.dumps({"id": item.id, **answer.model_dump()}, ensure_ascii=False) + "\n")
    print(f"answered {len(items)} questions -> {args.out}", file=sys.stderr)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    """One JSON line of metrics per split (question file) on stdout, a summary table on stderr."""
    from assistant.evaluate import read_questions, run_questions, summarize
    from assistant.service import create_assistant

    if args.split_store and len(args.split_store) != len(args.questions):
        raise ConfigError("give one --split-store for each --questions file, or none")
    stores = args.split_store or [settings.store_dir] * len(args.questions)
    misses = args.misses.open("w", encoding="utf-8") if args.misses else None
    try:
        for path, store in zip(args.questions, stores):
            items = read_questions(path, args.limit)
            assistant = create_assistant(settings.model_copy(update={"store_dir": store}))
            assistant.warm_up()
            results = list(run_questions(assistant, items, args.mode))
            metrics = {"split": path.parent.name, **summarize(results, args.bootstrap)}
            print(json.dumps(metrics), flush=True)
            print(summary_table(metrics), file=sys.stderr)
            for result in results:
                if misses is not None and not result.hits.get("first_sentence_hit", False):
                    misses.write(json.dumps({"split": metrics["split"], **result.miss()}) + "\n")
    finally:
        if misses is not None:
            misses.close()
    return 0


def summary_table(metrics: dict[str, Any]) -> str:
    """The rates of one split with their intervals, then one line per week."""
    from assistant.evaluate import RATES as rates

    lines = [f"{metrics['split']}: {metrics['questions']} questions"]
    for key in rates:
        lo, hi = metrics["interval_95"][key]
        lines.append(f"  {key:<20} {metrics[key]:.3f}  [{lo:.3f}, {hi:.3f}]")
    lines.append("  per week (questions): " + " ".join(rates))
    for week, row in metrics["weeks"].items():
        cells = " ".join(f"{row[k]:.2f}" for k in rates)
        lines.append(f"  week {week} ({row['questions']:>3}): {cells}")
    return "\n".join(lines)


COMMANDS: dict[str, Handler] = {"ask": _ask, "batch": _batch, "eval": _eval}
