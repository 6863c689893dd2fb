"""A real Prometheus (Debian's ``prometheus`` binary) on 127.0.0.1 scraping a test's server, and a
receiver of OTLP/HTTP traces, for the observability tests (``scripts/run-tests`` installs
Prometheus as it installs chromium and redis-server).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http_thread import serving
from tests.server_process import ServerProcess


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(
            "Debian's prometheus is not installed: apt-get install -y prometheus (scripts/run-tests does)"
        )
    return found


class PrometheusServer(ServerProcess):
    """One Prometheus scraping ``target`` (host:port) every second, its data in ``folder``."""

    def __init__(self, folder: Path, port: int) -> None:
        super().__init__(folder / "prometheus.log")
        self.folder, self.port = folder, port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, target: str, bearer: str = "", metrics_path: str = "/metrics") -> None:
        auth = f"    authorization:\n      credentials: {bearer}\n" if bearer else ""
        config = self.folder / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: newsdesk\n"
            f"    metrics_path: {metrics_path}\n{auth}"
            f"    static_configs:\n      - targets: ['{target}']\n",
            encoding="utf-8",
        )
        command = [
            prometheus_binary(),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.spawn(command, lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, 60)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query (``/api/v1/query``)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def target_health(self) -> str:
        targets = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return str(targets[0]["health"]) if targets else "none"


@dataclass
class OtlpReceiver:
    """The OTLP/HTTP traces posted to ``url`` (``/v1/traces``), decoded: (trace id, span id, name,
    attributes) of every span."""

    url: str = ""
    spans: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = [
            (s.trace_id.hex(), s.span_id.hex(), s.name, {a.key: _value(a.value) for a in s.attributes})
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for s in scope.spans
        ]
        with self.lock:
            self.spans.extend(found)


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    received = OtlpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.path == "/v1/traces":
                received.add(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler, poll_s=0.05) as base_url:
        received.url = f"{base_url}/v1/traces"
        yield received
