"""A real ``chroma run`` server on 127.0.0.1 for the server-mode tests, one per test module.

Import the fixture into a test module (``from tests.chroma_server import chroma_server``) and mark
its tests ``@pytest.mark.server``. The server keeps its data under the module's tmp folder; the
handle can kill and restart it on the same port and folder (for crash tests).
"""

from __future__ import annotations

import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.core.settings import Settings
from tests.server_process import ServerProcess

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def chroma_cli() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    return str(beside_python) if beside_python.is_file() else shutil.which("chroma")


class ChromaServer(ServerProcess):
    """One ``chroma run`` process: start, kill (SIGKILL, like a crash), pause/resume, stop, restart."""

    def __init__(self, cli: str, path: Path, port: int) -> None:
        super().__init__(path.parent / f"chroma-{port}.log")
        self.cli, self.path, self.port = cli, path, port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        command = [self.cli, "run", "--path", str(self.path), "--host", HOST, "--port", str(self.port)]
        self.spawn(command, self._answers, START_TIMEOUT_S)

    def _answers(self) -> bool:
        return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200

    @property
    def lexical_dir(self) -> Path:
        """The lexical index folder of every process using this server (all on this machine)."""
        return self.path.parent / f"lexical-{self.port}"

    def settings(self, tmp_path: Path, collection: str | None = None, **overrides: Any) -> Settings:
        """Settings for this server, with a fresh collection unless one is named."""
        return Settings(
            **{
                "chroma_host": HOST,
                "chroma_port": self.port,
                "collection": collection or new_collection(),
                "store_dir": tmp_path / "unused-store",
                "feedback_path": tmp_path / "feedback.jsonl",
                "lexical_dir": self.lexical_dir,
                **overrides,
            }
        )

    def env(self, collection: str) -> dict[str, str]:
        """Environment for a ``python -m assistant`` child using this server and collection."""
        return {
            "NEWSDESK_CHROMA_HOST": HOST,
            "NEWSDESK_CHROMA_PORT": str(self.port),
            "NEWSDESK_COLLECTION": collection,
            "NEWSDESK_LEXICAL_DIR": str(self.lexical_dir),
        }


def new_collection() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A ``chroma run`` on a free loopback port for the whole test module, stopped after it."""
    cli = chroma_cli()
    if cli is None:
        pytest.skip("the chroma CLI (shipped with chromadb) is not installed")
    server = ChromaServer(cli, tmp_path_factory.mktemp("chroma") / "data", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
