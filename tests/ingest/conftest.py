"""A real HTTP server on 127.0.0.1 (in a thread) serving canned pages, feeds and misbehaviour."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    send_length: bool = True


class LocalServer:
    """Routes (path -> Route) and the log of request paths of a running test server."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path, Route(b"not found", "text/plain", 404))
                time.sleep(route.delay_s)
                etag = route.headers.get("ETag")
                if etag and self.headers.get("If-None-Match") == etag:  # a conditional GET: unchanged
                    self.send_response(304)
                    self.end_headers()
                    return
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    if route.send_length:
                        self.send_header("Content-Length", str(len(route.body)))
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(route.body)
                except OSError:
                    pass  # the client gave up (timeout or size limit tests)

            def log_message(self, format: str, *args: object) -> None:
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family})
        self._httpd = server_class((host, 0), Handler)
        self.port = port = self._httpd.server_address[1]
        self.host_port = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # fetch_allowed_hosts
        self.base_url = f"http://{self.host_port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def add(
        self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8", **kw: object
    ) -> str:
        """Serve ``body`` at ``path``; returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(data, content_type, **kw)  # type: ignore[arg-type]
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    running = LocalServer("127.0.0.1")
    yield running
    running.stop()


@pytest.fixture
def ipv6_server() -> Iterator[LocalServer]:
    """A server on [::1], to prove that nothing is ever sent to it; skipped without IPv6."""
    try:
        running = LocalServer("::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    yield running
    running.stop()


def fill_template(name: str, base_url: str) -> str:
    """A fixture file with ``{base}`` replaced by the test server's base URL."""
    return (FIXTURES / name).read_text(encoding="utf-8").replace("{base}", base_url)
