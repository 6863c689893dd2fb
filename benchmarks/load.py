"""Load test: N concurrent chat users against ``POST /api/ask`` for T seconds, optionally while an
ingest job writes to the same store; prints one JSON object.

Each user sends one question at a time (a closed loop, so at most N requests are in flight) and
sends the next as soon as the answer arrives; questions come round-robin from a JSONL file with a
``question`` field. An error is any response other than 200, or a transport failure or timeout.

    python benchmarks/load.py --url http://127.0.0.1:7860 --users 8 --duration 60 \\
        --ingest ".venv/bin/newsdesk ingest --json --quiet /tmp/load/new-articles.jsonl"

The server must not rate-limit the test client (``NEWSDESK_RATE_LIMIT_PER_MINUTE=0``), and the
ingest command must see the same store as the server (same NEWSDESK_CHROMA_* settings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

DEFAULT_QUESTIONS = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "realtimeqa-dev" / "questions.jsonl"
)


@dataclass
class Results:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    grounded: int = 0

    def record(self, started: float, outcome: str, grounded: bool = False) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if outcome != "ok":
            self.errors[outcome] += 1
        self.grounded += grounded


def load_questions(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        questions = [str(json.loads(line)["question"]) for line in fh if line.strip()]
    if not questions:
        raise SystemExit(f"no questions in {path}")
    return questions


async def ask_once(client: httpx.AsyncClient, question: str, results: Results) -> None:
    started = time.perf_counter()
    try:
        response = await client.post("/api/ask", json={"question": question})
    except httpx.HTTPError as exc:
        results.record(started, type(exc).__name__)
        return
    if response.status_code != 200:
        results.record(started, f"HTTP {response.status_code}")
        return
    results.record(started, "ok", bool(response.json().get("grounded")))


async def user(
    number: int, client: httpx.AsyncClient, questions: list[str], deadline: float, results: Results
) -> None:
    turn = number * 7  # users start at different questions
    while time.perf_counter() < deadline:
        await ask_once(client, questions[turn % len(questions)], results)
        turn += 1


async def run_ingest(command: str) -> dict[str, Any]:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *shlex.split(command), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    lines = (out or err).decode(errors="replace").strip().splitlines()
    return {
        "command": command,
        "exit": proc.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "last_line": lines[-1] if lines else "",
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    questions = load_questions(args.questions)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.users, max_keepalive_connections=args.users)
    async with httpx.AsyncClient(
        base_url=args.url, headers=headers, timeout=args.timeout, limits=limits
    ) as client:
        for question in questions[: args.warmup]:  # not measured: first-request costs
            await client.post("/api/ask", json={"question": question})
        ingest = asyncio.create_task(run_ingest(args.ingest)) if args.ingest else None
        if ingest:
            await asyncio.sleep(args.ingest_delay)  # let the job load its model and start writing
        articles_before = await article_count(client)
        results = Results()
        started = time.perf_counter()
        deadline = started + args.duration
        await asyncio.gather(*(user(i, client, questions, deadline, results) for i in range(args.users)))
        elapsed = time.perf_counter() - started
        articles_after = await article_count(client)
        still_running = ingest is not None and not ingest.done()
        ingest_report = await ingest if ingest else None
    if ingest_report is not None:
        ingest_report["running_when_load_ended"] = still_running
    out = report(args, results, elapsed, ingest_report)
    out["articles"] = {"at_start": articles_before, "at_end": articles_after}
    return out


async def article_count(client: httpx.AsyncClient) -> int | None:
    try:
        response = await client.get("/api/stats")
        return int(response.json()["articles"]) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def report(
    args: argparse.Namespace, results: Results, elapsed: float, ingest: dict[str, Any] | None
) -> dict[str, Any]:
    lat = np.array(results.latencies_ms or [0.0])
    return {
        "url": args.url,
        "users": args.users,
        "duration_s": round(elapsed, 1),
        "requests": len(results.latencies_ms),
        "errors": sum(results.errors.values()),
        "error_kinds": dict(results.errors),
        "grounded": results.grounded,
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1),
            "p95": round(float(np.percentile(lat, 95)), 1),
            "p99": round(float(np.percentile(lat, 99)), 1),
            "max": round(float(lat.max()), 1),
            "mean": round(float(lat.mean()), 1),
        },
        "throughput_rps": round(len(results.latencies_ms) / elapsed, 2),
        "ingest": ingest,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="base URL of the Newsdesk server")
    parser.add_argument("--users", type=int, default=8, help="concurrent users (requests in flight)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument(
        "--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL with a question field"
    )
    parser.add_argument("--ingest", default="", help="command run during the load (e.g. newsdesk ingest ...)")
    parser.add_argument(
        "--ingest-delay", type=float, default=0.0, help="seconds between ingest start and load"
    )
    parser.add_argument("--api-key", default="", help="Bearer key, when the server requires one")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a request is an error")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests before the load")
    args = parser.parse_args()
    if args.users < 1 or args.duration <= 0:
        parser.error("--users must be at least 1 and --duration positive")
    return args


def main() -> None:
    print(json.dumps(asyncio.run(main_async(parse_args()))))


if __name__ == "__main__":
    main()
