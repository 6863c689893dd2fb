"""Latency of ``Assistant.ask`` on a store: warm p50/p95/p99 and cold (fresh process), as one JSON object.

    .venv/bin/python benchmarks/query.py --store /tmp/newsdesk-dev-store \\
        --questions ../shared/data/realtimeqa-dev/questions.jsonl [--limit 94] [--cold-runs 3]

* warm: after ``warm_up()``, every question once (distinct questions, so no query-vector cache hit);
  per-stage medians come from the answers' ``timings_ms``.
* cold: in a fresh process each time, ``create_assistant`` + the first ``ask`` (model load, index build),
  reported as ``first_ask`` and ``start_to_answer`` (including importing the assistant).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {
        "p50": round(float(np.percentile(arr, 50)), 1),
        "p95": round(float(np.percentile(arr, 95)), 1),
        "p99": round(float(np.percentile(arr, 99)), 1),
        "mean": round(float(arr.mean()), 1),
        "n": len(values),
    }


def questions(path: Path, limit: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [str(r["question"]) for r in rows][:limit]


def cold_once(store: Path, question: str) -> dict[str, float]:
    started = time.perf_counter()
    from assistant.service import create_assistant
    from ingest.settings import Settings

    imported = time.perf_counter()
    assistant = create_assistant(Settings(store_dir=store))
    clock = time.perf_counter()
    assistant.ask(question)
    done = time.perf_counter()
    return {
        "imports": (imported - started) * 1000,
        "first_ask": (done - clock) * 1000,
        "start_to_answer": (done - started) * 1000,
    }


def warm(store: Path, items: list[str]) -> dict[str, object]:
    from assistant.service import create_assistant
    from ingest.settings import Settings

    assistant = create_assistant(Settings(store_dir=store))
    assistant.warm_up()
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for question in items:
        clock = time.perf_counter()
        answer = assistant.ask(question)
        totals.append((time.perf_counter() - clock) * 1000)
        for stage, ms in answer.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    articles, sentences = assistant.components.store.count()
    return {
        "articles": articles,
        "sentences": sentences,
        "warm_ms": stats(totals),
        "stage_p50_ms": {k: round(float(np.percentile(v, 50)), 2) for k, v in stages.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=94)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--cold-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    items = questions(args.questions, args.limit)
    if args.cold_once:
        print(json.dumps(cold_once(args.store, items[0])))
        return
    result: dict[str, object] = {"store": str(args.store)}
    result.update(warm(args.store, items))
    colds = [_cold_subprocess(args, i) for i in range(args.cold_runs)]
    for key in ("first_ask", "start_to_answer"):
        result[f"cold_{key}_ms"] = stats([c[key] for c in colds])
    print(json.dumps(result))


def _cold_subprocess(args: argparse.Namespace, run: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--store", str(args.store), "--questions", str(args.questions)]
    cmd += ["--limit", str(args.limit), "--cold-once"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    row: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return row


if __name__ == "__main__":
    main()
