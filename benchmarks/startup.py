"""Cold start: time from process start to the first answer, and memory after loading.

    .venv/bin/python -m benchmarks.startup [--store DIR | --limit N] [--repeat R] [--serve] [--out FILE]

Without ``--store``, the first ``--limit`` shared dev articles (default 50) are ingested into a
temporary store first (not timed). Then, ``--repeat`` times, a new process runs
``python -m assistant --store DIR ask QUESTION --json``: the time from starting it to its answer on
stdout, its CPU seconds (user + system, a figure that other jobs on the machine barely change),
its peak RSS, and the answer's own timings are recorded. Also measured: ``newsdesk --help``
(wall time, and whether it imported torch or sentence-transformers, which it must not), and with
``--serve`` the HTTP server (``python -m assistant serve``): time to its first answer over
``POST /api/ask``, and its RSS after answering ``--serve-questions`` questions. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEV_ARTICLES,
    DEV_QUESTIONS,
    REPO,
    emit,
    load_average,
    median,
    read_jsonl,
    worker_env,
    write_slice,
)

TARGETS = {"first_answer_s": 8.0, "serving_rss_mb": 1500.0}
HEAVY_MODULES = ("torch", "sentence_transformers", "chromadb", "gradio", "transformers")
DEFAULT_QUESTION = "Which wildly popular show was recently green lit for a new season?"


def prepare_store(articles: Path, limit: int | None, store: Path) -> dict[str, Any]:
    """Ingest the first ``limit`` articles into ``store`` with the CLI (not timed)."""
    slice_path = store.parent / "startup-articles.jsonl"
    write_slice(articles, limit, slice_path)
    out = run_cli(["--store", str(store), "ingest", str(slice_path), "--quiet", "--json"])
    return dict(json.loads(out.strip().splitlines()[-1]))


def run_cli(argv: Sequence[str], timeout_s: float = 1800.0) -> str:
    cmd = [sys.executable, "-m", "assistant", *argv]
    done = subprocess.run(
        cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode not in (0, 1):  # 1 = not grounded: still an answer
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def time_ask(store: Path, question: str) -> dict[str, Any]:
    """Start ``python -m assistant ask``; seconds until its answer line, its peak RSS, its timings."""
    cmd = [sys.executable, "-m", "assistant", "--store", str(store), "ask", question, "--json"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    first_answer = time.perf_counter() - started
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    answer = json.loads(line) if line.strip() else {}
    return {
        "first_answer_s": round(first_answer, 3),
        "exit_s": round(time.perf_counter() - started, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "grounded": bool(answer.get("grounded", False)),
        "timings_ms": answer.get("timings_ms", {}),
    }


def time_help() -> dict[str, Any]:
    """``python -m assistant --help``: wall seconds and which heavy modules it imported."""
    cmd = [sys.executable, "-X", "importtime", "-m", "assistant", "--help"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    return {
        "seconds": round(seconds, 3),
        "imports": {name: name in imported for name in HEAVY_MODULES},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_rss_mb(pid: int) -> float:
    """Current RSS of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def time_serve(store: Path, questions: list[str], timeout_s: float = 300.0) -> dict[str, Any]:
    """Start the server; seconds to its first answer over HTTP, RSS after answering ``questions``."""
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "assistant", "serve", "--store", str(store), "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=timeout_s) as client:
            _wait_ready(client, proc, started + timeout_s)
            ready = time.perf_counter() - started
            client.post("/api/ask", json={"question": questions[0]}).raise_for_status()
            first_answer = time.perf_counter() - started
            rss_loaded = process_rss_mb(proc.pid)
            for question in questions[1:]:
                client.post("/api/ask", json={"question": question}).raise_for_status()
            rss_serving = process_rss_mb(proc.pid)
    finally:
        _stop(proc)
    return {
        "ready_s": round(ready, 3),
        "first_answer_s": round(first_answer, 3),
        "rss_after_first_answer_mb": rss_loaded,
        "rss_after_questions_mb": rss_serving,
        "questions": len(questions),
    }


def _wait_ready(client: Any, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before it was ready")
        try:
            if client.get("/api/health").status_code < 500:
                return
        except Exception:  # not listening yet
            pass
        time.sleep(0.05)
    raise RuntimeError("the server was not ready in time")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summarize_asks(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("first_answer_s", "exit_s", "cpu_s", "peak_rss_mb")
    out: dict[str, Any] = {k: median([r[k] for r in runs]) for k in keys}
    out["first_answer_s_each"] = [r["first_answer_s"] for r in runs]
    out["grounded"] = all(r["grounded"] for r in runs)
    names = sorted({k for r in runs for k in r["timings_ms"]})
    out["answer_timings_ms"] = {k: median([float(r["timings_ms"].get(k, 0.0)) for r in runs]) for k in names}
    return out


def dev_questions(n: int) -> list[str]:
    if not DEV_QUESTIONS.is_file():
        return [DEFAULT_QUESTION] * n
    questions = [str(row["question"]) for row in read_jsonl(DEV_QUESTIONS)]
    return (questions * (n // max(1, len(questions)) + 1))[:n]


def measure(args: argparse.Namespace, store: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"help": time_help()}
    runs = [time_ask(store, args.question) for _ in range(args.repeat)]
    result["ask"] = summarize_asks(runs)
    if args.serve:
        result["serve"] = time_serve(store, dev_questions(args.serve_questions))
    met = {"first_answer_s": result["ask"]["first_answer_s"] <= TARGETS["first_answer_s"]}
    met["help_imports_nothing_heavy"] = not any(result["help"]["imports"].values())
    if args.serve:
        met["serving_rss_mb"] = result["serve"]["rss_after_questions_mb"] <= TARGETS["serving_rss_mb"]
    return {**result, "targets": TARGETS, "meets_targets": met}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "store"
        prepared = None if args.store else prepare_store(Path(args.articles), args.limit, store)
        result: dict[str, Any] = {"benchmark": "startup", "store": str(args.store or "temporary")}
        result["prepared"] = prepared
        result.update(measure(args, store))
    result.update(repeat=args.repeat, load_average_start=started, load_average_end=load_average())
    emit(result, args.out)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks.startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--store", help="existing store folder (default: a temporary one, prepared)")
    p.add_argument("--articles", default=str(DEV_ARTICLES), help="JSONL to prepare the store from")
    p.add_argument("--limit", type=int, default=50, help="articles ingested into the prepared store")
    p.add_argument("--question", default=DEFAULT_QUESTION, help="the question asked")
    p.add_argument("--repeat", type=int, default=3, help="cold starts measured (median reported)")
    p.add_argument("--serve", action="store_true", help="also measure the HTTP server")
    p.add_argument("--serve-questions", type=int, default=20, help="questions asked the server")
    p.add_argument("--out", type=Path, help="also write the JSON (indented) to this file")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.limit < 1 or args.serve_questions < 1:
        p.error("--repeat, --limit and --serve-questions must be at least 1")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
