"""``newsdesk serve --workers 2`` on a Chroma server: each worker counts in the shared folder of
prometheus-client's multiprocess mode, and ``/metrics``, whichever worker answers it, shows the sum.

Questions and scrapes each come on a new connection, so the kernel hands them to either worker.
The counts in the folder are read back per worker process (its files name its pid) and must add up
to what every scrape shows.
"""

from __future__ import annotations

import shutil
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.assistant.conftest_api import SAMPLE_QUESTION, free_port
from tests.assistant.test_serve_hold import child_env
from tests.chroma_server import ChromaServer, chroma_server, new_collection
from tests.conftest import REPO, SAMPLE
from tests.server_process import ServerProcess

__all__ = ["chroma_server"]
pytestmark = pytest.mark.server
ASKS = 6


@pytest.fixture
def workers(chroma_server: ChromaServer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    counts = tmp_path / "metrics"
    env = child_env(
        **chroma_server.env(new_collection()),
        NEWSDESK_FEEDBACK_PATH=str(tmp_path / "feedback.jsonl"),
        NEWSDESK_FEEDS_SYNC="false",
        NEWSDESK_TORCH_THREADS="1",
        NEWSDESK_METRICS_MULTIPROC_DIR=str(counts),
    )
    server = ServerProcess(tmp_path / "serve.log")
    command = [sys.executable, "-m", "assistant", "serve", "--workers", "2", "--port", str(port)]
    server.spawn(
        command, lambda: server.tail().count("Application startup complete") >= 2, 600, env=env, cwd=REPO
    )
    try:
        yield f"http://127.0.0.1:{port}", counts
    finally:
        server.stop()


def scraped(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with httpx.Client(timeout=60) as fresh:  # a new connection: either worker
        text = fresh.get(f"{base}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def answers_by_worker(folder: Path, scratch: Path) -> dict[str, float]:
    """``newsdesk_answers_total`` (all modes) counted by each worker, from its own files."""
    files: dict[str, list[Path]] = defaultdict(list)
    for path in folder.glob("*.db"):
        files[path.stem.rsplit("_", 1)[-1]].append(path)
    found: dict[str, float] = {}
    for pid, paths in files.items():
        alone = scratch / pid
        alone.mkdir(parents=True)
        for path in paths:
            shutil.copy(path, alone / path.name)
        found[pid] = sum(
            s.value
            for family in MultiProcessCollector(None, path=str(alone)).collect()  # type: ignore[no-untyped-call]
            for s in family.samples
            if s.name == "newsdesk_answers_total"
        )
    return found


def test_two_workers_count_together_and_every_scrape_shows_the_sum(
    workers: tuple[str, Path], tmp_path: Path
) -> None:
    base, folder = workers
    document = {"id": "damascus", "title": "Damascus talks", "text": SAMPLE.read_text(encoding="utf-8")}
    assert httpx.post(f"{base}/api/ingest", json={"documents": [document]}, timeout=300).json()["added"] == 1
    for _ in range(ASKS):
        with httpx.Client(timeout=120) as fresh:
            assert fresh.post(f"{base}/api/ask", json={"question": SAMPLE_QUESTION}).json()["grounded"]
    key = ("newsdesk_answers_total", (("mode", "extractive"),))
    asks = ("newsdesk_http_requests_total", (("method", "POST"), ("route", "/api/ask"), ("status", "200")))
    for _ in range(4):
        metrics = scraped(base)
        assert (metrics[key], metrics[asks]) == (ASKS, ASKS)
        assert metrics[("newsdesk_archive_articles", ())] == 1
    per_worker = answers_by_worker(folder, tmp_path / "alone")
    assert len(per_worker) >= 2, per_worker  # both workers write their counts there
    assert sum(per_worker.values()) == ASKS, per_worker
