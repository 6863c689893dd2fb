"""Helpers for the HTTP API tests: the real app served by uvicorn on 127.0.0.1, raw HTTP requests.

Imported by ``test_api.py`` and ``test_widget.py`` (not a pytest conftest: nothing here is
collected automatically). Model loading is expensive: each test module builds one real
:class:`Assistant` on a store in a temporary folder and serves it under several settings.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from assistant.core.settings import Settings
from ingest.embedding.embedder import Embedder
from tests.conftest import SAMPLE

if TYPE_CHECKING:
    from assistant.service import Assistant

RW_KEY = "rw-test-key-0123456789abcdef"
RO_KEY = "ro-test-key-0123456789abcdef"
OTHER_RW_KEY = "rw-other-key-0123456789abcdef"
SAMPLE_QUESTION = "Who led the Russian delegation to Damascus?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def api_settings(data: Path, **overrides: Any) -> Settings:
    """Settings for a served app: every data path in ``data``, every security knob explicit."""
    values: dict[str, Any] = {
        "store_dir": data / "store",
        "feedback_path": data / "feedback.jsonl",
        "upload_dir": data / "uploads",
        "host": "127.0.0.1",
        "api_keys": "",
        "allowed_origins": [],
        "trusted_user_header": "",
        "rate_limit_per_minute": 10_000,
        "root_path": "",
    }
    return Settings(**{**values, **overrides})


def sample_assistant(data: Path, embedder: Embedder) -> Assistant:
    """The real assistant (real model, real Chroma in ``data``) with the sample corpus ingested."""
    from assistant.service import create_assistant

    assistant = create_assistant(api_settings(data), embedder=embedder)
    report = assistant.ingest_sources([str(SAMPLE)])
    assert report.ok and report.added == 1, report.as_dict()
    return assistant


@dataclass
class Served:
    """An app served on ``base`` (``http://127.0.0.1:PORT``)."""

    base: str
    port: int
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def serve_app(assistant: Assistant, settings: Settings) -> Iterator[Served]:
    """``app.create_app(settings, assistant)`` served by uvicorn in a thread until the block ends, with
    the forwarded-header options of ``newsdesk serve``."""
    import uvicorn

    from assistant.server import create_app, proxy_options

    app = create_app(settings, assistant)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.port, log_level="warning", **proxy_options(settings)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
        if not server.started:
            raise RuntimeError(f"uvicorn could not start on 127.0.0.1:{settings.port} (port taken?)")
        yield Served(f"http://127.0.0.1:{settings.port}", settings.port, settings, {"app": app})
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> RawResponse:
    """One request with ``target`` sent exactly as given (no normalisation of ``..`` or ``%2e``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        lowered = {name.lower(): value for name, value in response.getheaders()}
        return RawResponse(response.status, lowered, response.read())
    finally:
        conn.close()


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """``(event, data)`` pairs of a text/event-stream body, data parsed as JSON."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for_health(
    server: subprocess.Popen[str], url: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The /api/health body once a ``newsdesk serve`` child answers 200 (fails if it exits first)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"newsdesk serve exited: {server.communicate()[0][-2000:]}")
        try:
            response = httpx.get(url, headers=headers, timeout=5)
            if response.status_code == 200:
                health: dict[str, Any] = response.json()
                return health
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("newsdesk serve did not answer /api/health in time")
