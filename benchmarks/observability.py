"""What metrics and tracing cost an answer: ``Assistant.ask`` p50 with both on, and with both off.

    .venv/bin/python -m benchmarks.observability --store DIR --questions FILE
        [--collection NAME] [--max-questions N] [--rounds R] [--out FILE]

One process builds the assistant on the store (``--store``: an embedded store folder, already
ingested; or the settings of the environment, a Chroma server included), warms it up, then asks
every question once unmeasured (the query vectors are cached afterwards in both conditions, so
the difference is the instrumentation's, not the embedding's). Then ``--rounds`` rounds, each
asking every question once with metrics and tracing off and once on, in an order that alternates
per round. "On" is what ``newsdesk serve`` runs: the Prometheus families counting (in-process
values) and an SDK tracer provider whose spans go through a ``BatchSpanProcessor`` to an exporter
that keeps them in memory (the OTLP exporter's network time is spent in its own thread, off the
answer's path). Prints one JSON object: p50/p95 of each condition, the overhead of the p50 (ms and
%), and the spans one answer makes.

``--questions``: JSONL with a ``question`` field (the shared dev set's format) or one question a
line. Run it at archive scale only on a machine that is otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import emit, load_average, percentile, quiet_logs


def read_questions(path: Path, limit: int) -> list[str]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text:
            questions.append(str(json.loads(text)["question"]) if text.startswith("{") else text)
    return questions[:limit]


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "n": len(values),
    }


def measure(store: Path | None, collection: str | None, questions: list[str], rounds: int) -> dict[str, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from assistant.core.settings import Settings
    from assistant.core.telemetry.metrics import disable_metrics, enable_metrics
    from assistant.core.telemetry.tracing import use_tracer_provider
    from assistant.service import create_assistant

    overrides: dict[str, Any] = {"feeds_sync": False, "answer_cache_size": 0}  # every ask walks the pipeline
    if store is not None:
        overrides["store_dir"] = store
    if collection:
        overrides["collection"] = collection
    assistant = create_assistant(Settings.load(None, **overrides))
    assistant.warm_up()
    for question in questions:  # every query vector cached, in both conditions alike
        assistant.ask(question)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    timings: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(rounds):
        for condition in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
            if condition == "on":
                enable_metrics()
                use_tracer_provider(provider)
            for question in questions:
                started = time.perf_counter()
                assistant.ask(question)
                timings[condition].append((time.perf_counter() - started) * 1000)
            disable_metrics()
            use_tracer_provider(None)
    provider.force_flush()
    spans = len(exporter.get_finished_spans())
    provider.shutdown()
    off, on = stats(timings["off"]), stats(timings["on"])
    return {
        "off_ms": off,
        "on_ms": on,
        "overhead_p50_ms": round(on["p50"] - off["p50"], 2),
        "overhead_p50_pct": round(100 * (on["p50"] - off["p50"]) / off["p50"], 2) if off["p50"] else 0.0,
        "spans_per_answer": round(spans / max(1, len(timings["on"])), 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, help="embedded store folder (else NEWSDESK_* settings)")
    parser.add_argument("--collection", help="collection name (NEWSDESK_COLLECTION)")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with 'question', or one a line")
    parser.add_argument("--max-questions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4, help="rounds of off/on (alternating order)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    questions = read_questions(args.questions, args.max_questions)
    if not questions:
        parser.error(f"no questions in {args.questions}")
    with quiet_logs():
        result = measure(args.store, args.collection, questions, args.rounds)
    emit(
        {
            "benchmark": "observability",
            "store": str(args.store) if args.store else "from settings",
            "questions": len(questions),
            "rounds": args.rounds,
            "load_average": load_average(),
            **result,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
