"""The operator's view of the web app: ``GET /metrics`` (Prometheus), each request counted and
timed by its route template and a span around it (so its log lines and its answer's trace join).

- :class:`RequestMetrics` (outermost middleware): ``newsdesk_http_requests_total`` and
  ``newsdesk_http_request_duration_seconds`` by route template (``/api/documents/{doc_id:path}``,
  never the raw path: the number of series stays bounded), method and status, refusals by the
  guards inside it included; and a server span ``METHOD ROUTE`` current while the app answers.
- :class:`ArchiveCollector`: what is read at scrape time, cheaply: the archive size (two counts),
  whether the store answers, and each followed feed's time since its last good sync (labelled with
  its archive: the default's and, in the app, each named archive's the server schedules).
- :func:`add_metrics_route`: ``/metrics``, behind the API keys when keys are set
  (:mod:`~assistant.frontends.http.security`), not counted against the rate limit.
- :func:`serve_metrics_port`: the same on a separate port (``metrics_port``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.core.errors import NewsdeskError
from assistant.core.telemetry.metrics import exposition, record_request
from assistant.core.telemetry.tracing import span, untraced
from assistant.frontends.http.responses import route_path
from ingest.storage.archives import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

    from ingest.feeds.registry import Feed, FeedRegistry
    from ingest.storage.store import NewsStore

logger = logging.getLogger(__name__)
METRICS_PATH = "/metrics"


def route_template(scope: Scope, routes: Sequence[BaseRoute] = ()) -> str:
    """The template of the route that answered (``/api/documents/{doc_id:path}``), or that would
    have, for a request refused before it reached one (401, 429); ``ui`` for the UI's requests
    that matched no route of it, ``unmatched`` for an API path of no route."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path and not isinstance(route, Mount):
        return path
    for candidate in _flat(routes):
        if candidate.matches(scope)[0] is not Match.NONE:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched" if route_path(scope).startswith("/api/") else "ui"


def _flat(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes with a path template, those of included routers too (FastAPI keeps an included
    router as one route, whose ``original_router`` has them); not the UI's mount."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat(included.routes)
        elif isinstance(getattr(route, "path", None), str) and not isinstance(route, Mount):
            yield route


class RequestMetrics:
    """Counts and times every HTTP request by route template, method and status, in a span."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app = app
        self.router = router  # read per request: routes added after the middleware count too

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        method = str(scope["method"])
        try:
            if route_path(scope) == METRICS_PATH:  # a scrape a second: no trace of each
                await self.app(scope, receive, send_status)
                return
            with span(f"{method} request", {"http.request.method": method}) as current:
                await self.app(scope, receive, send_status)
                if current is not None:
                    route = route_template(scope, self.router.routes)
                    current.update_name(f"{method} {route}")
                    current.set_attributes({"http.route": route, "http.response.status_code": status[0]})
        finally:
            route = route_template(scope, self.router.routes)
            record_request(route, method, status[0], time.perf_counter() - started)


class ArchiveCollector:
    """The gauges read at scrape time (see the module doc); a store that does not answer gives
    ``newsdesk_store_up 0`` and no sizes, never a failed scrape. ``named`` gives the feed registries
    of the named archives (:meth:`assistant.archives.Archives.feed_registries`)."""

    def __init__(
        self,
        store: NewsStore,
        feeds: FeedRegistry | None,
        named: Callable[[], Mapping[str, FeedRegistry]] | None = None,
    ) -> None:
        self.store = store
        self.feeds = feeds
        self.named = named

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        with untraced():
            try:
                articles, sentences = self.store.count()
                feeds = [(DEFAULT_ARCHIVE, f) for f in self.feeds.list()] if self.feeds is not None else []
                up = 1.0
            except NewsdeskError as exc:
                logger.warning("metrics: the store did not answer: %s", exc)
                up, articles, sentences, feeds = 0.0, -1, -1, []
            feeds += self._named_feeds()
        yield GaugeMetricFamily("newsdesk_store_up", "1 when the store answered the scrape", value=up)
        if up:
            yield GaugeMetricFamily("newsdesk_archive_articles", "Articles stored", value=articles)
            yield GaugeMetricFamily("newsdesk_archive_sentences", "Sentences stored", value=sentences)
        age = GaugeMetricFamily(
            "newsdesk_feed_last_success_age_seconds",
            "Seconds since each followed feed last synced without error (feeds that never did: none)",
            labels=("feed", "source", "archive"),
        )
        failures = GaugeMetricFamily(
            "newsdesk_feed_consecutive_failures",
            "Failed syncs in a row of each followed feed",
            labels=("feed", "source", "archive"),
        )
        now = time.time()
        for archive, feed in feeds:
            labels = [feed.feed_id, feed.source, archive]
            if feed.last_ok_at:
                age.add_metric(labels, max(0.0, now - feed.last_ok_at))
            failures.add_metric(labels, feed.failures)
        yield age
        yield failures

    def _named_feeds(self) -> list[tuple[str, Feed]]:
        """The feeds of each named archive (one whose store does not answer: none of its)."""
        found: list[tuple[str, Feed]] = []
        for archive, registry in (self.named() if self.named is not None else {}).items():
            try:
                found += [(archive, feed) for feed in registry.list()]
            except NewsdeskError as exc:
                logger.warning("metrics: the feeds of archive %r did not answer: %s", archive, exc)
        return found


def add_metrics_route(api: FastAPI, collectors: list[Collector]) -> None:
    """``GET /metrics``: the Prometheus text (OpenMetrics when asked for) of every family."""

    def metrics(request: Request) -> Response:
        body, content_type = exposition(collectors, request.headers.get("accept", ""))
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    api.add_api_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)


def serve_metrics_port(host: str, port: int, collectors: list[Collector]) -> ThreadingHTTPServer:
    """``/metrics`` on its own port, in a daemon thread of this process (plain HTTP, no keys)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != METRICS_PATH:
                self.send_error(404)
                return
            body, content_type = exposition(collectors, self.headers.get("accept", ""))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="newsdesk-metrics", daemon=True).start()
    return server
