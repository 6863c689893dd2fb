"""Several workers share one rate limit: two uvicorn workers count in a real ``redis-server``.

A client spreading its requests over the workers of ``uvicorn --workers 2`` (a new connection each,
so the kernel hands them to either) must still get only ``rate_limit_per_minute`` requests a minute
when ``rate_limit_storage`` names a shared storage. Debian's ``redis-server`` is started on
127.0.0.1 by the test (``scripts/run-tests`` installs it); without it the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.assistant.conftest_api import free_port
from tests.conftest import REPO
from tests.server_process import ServerProcess

pytestmark = pytest.mark.server
redis = pytest.importorskip("redis")
LIMIT = 5


class RedisServer(ServerProcess):
    def start(self, binary: str, port: int, folder: Path) -> None:
        self.port = port
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.spawn([*command, "--dir", str(folder)], self._answers, 30)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping())
        except redis.exceptions.ConnectionError:
            return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/run-tests installs Debian's)")
    server = RedisServer(tmp_path / "redis.log")
    server.start(binary, free_port(), tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_two_workers_share_one_rate_limit_in_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NEWSDESK_STORE_DIR": str(tmp_path / "store"),
        "NEWSDESK_FEEDBACK_PATH": str(tmp_path / "feedback.jsonl"),
        "NEWSDESK_FEEDS_SYNC": "false",
        "NEWSDESK_TORCH_THREADS": "1",
        "NEWSDESK_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "NEWSDESK_RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{redis_server.port}",
    }
    command = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--workers", "2"]
    base = f"http://127.0.0.1:{port}"
    workers = ServerProcess(tmp_path / "uvicorn.log")
    workers.spawn(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        lambda: workers.tail().count("Application startup complete") >= 2,  # both workers listen
        300,
        env=env,
        cwd=REPO,
    )
    try:
        statuses = []
        for _ in range(3 * LIMIT):
            with httpx.Client(base_url=base, timeout=60) as fresh:  # a new connection: either worker
                statuses.append(fresh.get("/api/stats").status_code)
        assert statuses.count(200) == LIMIT and set(statuses[LIMIT:]) == {429}, statuses
        counts = redis.Redis(host="127.0.0.1", port=redis_server.port).keys("LIMITS*")
        assert counts, "the counts are not in redis"
    finally:
        workers.stop()
