"""Polite fetching for crawling a site (sitemaps and their pages): robots.txt and a delay per host.

:class:`PoliteFetcher` wraps the SSRF-safe :class:`~ingest.loading.fetch.Fetcher` (every request,
robots.txt included, goes through it). Before the first request to a host (scheme, host and
port) it reads that host's ``/robots.txt`` once, with ``urllib.robotparser``, and then refuses
every URL the rules disallow for its user agent (``fetch_user_agent``) with :class:`RobotsRefusal`.
A robots.txt that is missing (another 4xx answer) allows everything; one that answers 401/403, a
5xx error, or cannot be fetched at all, disallows everything on that host (as the robots.txt
standard, RFC 9309, asks: a server in trouble is left alone). Between the starts of two requests to
one host it waits ``crawl_delay_s``, or the host's ``Crawl-delay`` when that is longer (at most
:data:`MAX_CRAWL_DELAY_S`). It is safe to share between threads (``crawl_concurrency``): each host's
rules are read once and its requests are spaced under a lock of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from assistant.core.errors import FetchError
from assistant.core.sections import IngestSettings
from ingest.loading.fetch import ACCEPTED_TYPES, Fetched, Fetcher

MAX_CRAWL_DELAY_S = 60.0
ROBOTS_MAX_BYTES = 512 * 1024  # what RFC 9309 asks a crawler to read at least
DISALLOWED = "disallowed by robots.txt"


class RobotsRefusal(FetchError):
    """The host's robots.txt disallows the URL (or robots.txt could not be read: the reason says)."""


@dataclass
class _Host:
    """What is known of one host: its rules, its delay, when a request last started, and a lock."""

    lock: threading.Lock
    rules: RobotFileParser | None = None
    unreadable: str = ""  # why robots.txt disallows everything, when it could not be read
    delay_s: float = 0.0
    last_start: float = float("-inf")


class PoliteFetcher:
    """A :class:`Fetcher` that honours robots.txt and spaces its requests to each host."""

    def __init__(
        self,
        fetcher: Fetcher,
        settings: IngestSettings,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._fetcher = fetcher
        self._agent = settings.fetch_user_agent
        self._delay_s = settings.crawl_delay_s
        self._clock, self._sleep = clock, sleep
        self._hosts: dict[str, _Host] = {}
        self._hosts_lock = threading.Lock()

    def fetch(
        self,
        url: str,
        validators: Mapping[str, str] | None = None,
        *,
        types: frozenset[str] = ACCEPTED_TYPES,
        max_bytes: int | None = None,
    ) -> Fetched:
        """GET ``url`` (as :meth:`Fetcher.fetch`) once robots.txt allows it and the host's delay
        has passed; RobotsRefusal when robots.txt disallows it."""
        host = self._host(url)
        if host.unreadable:
            raise RobotsRefusal(url, f"{DISALLOWED} ({host.unreadable})")
        if host.rules is not None and not host.rules.can_fetch(self._agent, url):
            raise RobotsRefusal(url, DISALLOWED)
        self._wait_turn(host)
        return self._fetcher.fetch(url, validators, types=types, max_bytes=max_bytes)

    def _host(self, url: str) -> _Host:
        """The host of ``url``, its robots.txt read on first use (under the host's lock)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self._hosts_lock:
            host = self._hosts.setdefault(origin, _Host(threading.Lock(), delay_s=self._delay_s))
        with host.lock:
            if host.rules is None and not host.unreadable:
                self._read_robots(origin, host)
        return host

    def _read_robots(self, origin: str, host: _Host) -> None:
        rules = RobotFileParser(origin + "/robots.txt")
        host.last_start = self._clock()
        try:
            fetched = self._fetcher.fetch(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403):
                rules.parse([])  # no robots.txt: everything is allowed
                host.rules = rules
            else:
                host.unreadable = f"robots.txt could not be read: {exc.reason}"
            return
        rules.parse(fetched.body.decode("utf-8", errors="replace").splitlines())
        asked = rules.crawl_delay(self._agent)
        if asked is not None:
            host.delay_s = max(host.delay_s, min(float(asked), MAX_CRAWL_DELAY_S))
        host.rules = rules

    def _wait_turn(self, host: _Host) -> None:
        """Sleep until ``delay_s`` has passed since the host's last request started; mark this one."""
        with host.lock:
            wait = host.last_start + host.delay_s - self._clock()
            if wait > 0:
                self._sleep(wait)
            host.last_start = self._clock()
