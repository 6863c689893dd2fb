"""Helpers shared by the benchmarks: worker subprocesses, peak RSS, data slices, medians, output.

Each contender of a benchmark runs in its own Python process (``python -m benchmarks.X --worker``)
so its peak RSS is its own and no contender inherits another's warm caches or threads. A worker
prints exactly one JSON object on its last stdout line; the parent collects and combines them.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEV_ARTICLES = REPO / ".." / "shared" / "data" / "realtimeqa-dev" / "articles.jsonl"
DEV_QUESTIONS = REPO / ".." / "shared" / "data" / "realtimeqa-dev" / "questions.jsonl"
WORKER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "NEWSDESK_ANSWER_CACHE_SIZE": "0",  # the pipeline measured, not the answer cache (unless a worker says)
}


class BenchmarkError(RuntimeError):
    """A worker failed; the message carries the end of its stderr."""


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def current_rss_mb() -> float:
    """Resident set size of this process now, in MB (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def cpu_seconds() -> float:
    """User plus system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Stopwatch:
    """Wall and CPU seconds of a block (``with Stopwatch() as w: ...; w.wall, w.cpu``)."""

    wall: float = 0.0
    cpu: float = 0.0
    _start: tuple[float, float] = field(default=(0.0, 0.0), repr=False)

    def __enter__(self) -> Stopwatch:
        self._start = (time.perf_counter(), cpu_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._start[0]
        self.cpu = cpu_seconds() - self._start[1]


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (how busy the shared machine was)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **WORKER_ENV, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def run_worker(module: str, args: Sequence[str], timeout_s: float = 3600.0) -> dict[str, Any]:
    """Run ``python -m module args`` from the repo root; its last stdout line is a JSON object."""
    cmd = [sys.executable, "-m", module, *args]
    done = subprocess.run(
        cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BenchmarkError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


Worker = Callable[[Any], dict[str, Any]]


def work_as_worker(name: str | None, args: Any, workers: Mapping[str, Worker]) -> bool:
    """When ``name`` is set (the process is a worker): run that worker quietly, print its JSON result
    as the one line of stdout, and say True; else False (the process is the parent)."""
    if not name:
        return False
    with quiet_logs():
        print(json.dumps(workers[name](args)), flush=True)
    return True


def write_slice(source: Path, limit: int | None, dest: Path) -> int:
    """Copy the first ``limit`` lines (all when None) of a JSONL file to ``dest``; the line count."""
    count = 0
    with source.open(encoding="utf-8") as src, dest.open("w", encoding="utf-8") as out:
        for line in src:
            if limit is not None and count >= limit:
                break
            if line.strip():
                out.write(line)
                count += 1
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 4) if values else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0-100) of ``values``."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return round(ordered[rank - 1], 4)


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print the result as one JSON line, and write it (indented) to ``out`` when given."""
    text = json.dumps(result, sort_keys=True)
    print(text, flush=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Silence progress bars and library chatter of a worker (its stdout must stay one JSON line)."""
    import logging

    os.environ.setdefault("TQDM_DISABLE", "1")
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
