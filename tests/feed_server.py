"""A real RSS server on 127.0.0.1 (in a thread) whose feed changes between polls.

The feed at ``/feed.xml`` lists :attr:`FeedServer.items`; its ETag is a hash of the body and it
answers ``If-None-Match`` with 304. Articles whose item has no ``content`` are served as HTML
pages at their link. ``status``, ``delay_s`` and ``malformed`` make it misbehave. Every request
is logged with its headers and status.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

import pytest

from tests.http_thread import serving

FEED_PATH = "/feed.xml"


@dataclass
class FeedItem:
    """One entry: ``content`` is the full text in the feed; without it the feed carries only the
    short ``summary`` and the article is a page at ``/articles/{guid}.html``."""

    guid: str
    title: str
    text: str
    in_feed: bool = True  # the full text in the feed's content:encoded, or only a summary
    published: str = "Mon, 23 Nov 2026 08:00:00 GMT"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int
    started: float = 0.0  # time.monotonic() when it came in ...
    ended: float = 0.0  # ... and when its answer was ready


@dataclass
class FeedServer:
    """The running server: change ``items`` (or ``status``, ``delay_s``, ``malformed``) between polls."""

    title: str = "Testville Gazette"
    items: list[FeedItem] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    malformed: bool = False
    conditional: bool = True  # answer If-None-Match with 304 (False: always the whole feed)
    missing_pages: set[str] = field(default_factory=set)  # guids whose page answers 404
    log: list[Request] = field(default_factory=list)
    base_url: str = ""
    in_flight: int = 0  # feed requests being answered now ...
    most_in_flight: int = 0  # ... and the most at once so far
    lock: threading.Lock = field(default_factory=threading.Lock)

    def link(self, item: FeedItem) -> str:
        return f"{self.base_url}/articles/{item.guid}.html"

    def feed_url(self) -> str:
        return self.base_url + FEED_PATH

    def feed_body(self) -> bytes:
        if self.malformed:
            return b"<html><body>this is not <b>a feed"
        entries = "".join(self._entry(item) for item in self.items)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{html.escape(self.title)}</title><link>{self.base_url}/</link>"
            f"<description>News of Testville</description>{entries}</channel></rss>"
        ).encode()

    def _entry(self, item: FeedItem) -> str:
        content = (
            f"<content:encoded>{html.escape('<p>' + item.text + '</p>')}</content:encoded>"
            if item.in_feed
            else ""
        )
        return (
            f"<item><guid isPermaLink='false'>{item.guid}</guid><title>{html.escape(item.title)}</title>"
            f"<link>{self.link(item)}</link><pubDate>{item.published}</pubDate>"
            f"<description>{html.escape(item.text[:80])}</description>{content}</item>"
        )

    def page(self, guid: str) -> bytes | None:
        for item in self.items:
            if item.guid == guid and not item.in_feed and guid not in self.missing_pages:
                return (
                    f"<html><head><title>{html.escape(item.title)}</title></head><body><article>"
                    f"<h1>{html.escape(item.title)}</h1><p>{html.escape(item.text)}</p>"
                    "</article></body></html>"
                ).encode()
        return None

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


def _handler(feed: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            started = time.monotonic()
            status, body, ctype, extra = self._answer(headers)
            feed.log.append(Request(self.path, headers, status, started, time.monotonic()))
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (the slow-server test)

        def _answer(self, headers: dict[str, str]) -> tuple[int, bytes, str, dict[str, str]]:
            if self.path == FEED_PATH:
                with feed.lock:
                    feed.in_flight += 1
                    feed.most_in_flight = max(feed.most_in_flight, feed.in_flight)
                try:
                    time.sleep(feed.delay_s)
                finally:
                    with feed.lock:
                        feed.in_flight -= 1
                if feed.status != 200:
                    return feed.status, b"server error", "text/plain", {}
                body = feed.feed_body()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                validators = {"ETag": etag, "Last-Modified": formatdate(usegmt=True)}
                if feed.conditional and headers.get("if-none-match") == etag:
                    return 304, b"", "application/rss+xml", validators
                return 200, body, "application/rss+xml; charset=utf-8", validators
            if self.path.startswith("/articles/") and self.path.endswith(".html"):
                page = feed.page(self.path.removeprefix("/articles/").removesuffix(".html"))
                if page is not None:
                    return 200, page, "text/html; charset=utf-8", {}
            return 404, b"not found", "text/plain", {}

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A :class:`FeedServer` on a free 127.0.0.1 port, for one test."""
    yield from run_feed_server()


def run_feed_server(title: str = "Testville Gazette") -> Generator[FeedServer]:
    feed = FeedServer(title=title)
    with serving(_handler(feed)) as base_url:
        feed.base_url = base_url
        yield feed
