"""Syncing followed feeds: politely, incrementally, and on a schedule (docs/feeds.md).

One sync of a feed (:class:`FeedSyncer`):

1. a conditional GET of the feed through the SSRF-safe fetcher (``If-None-Match`` /
   ``If-Modified-Since`` from the last answer): a 304 ends the sync, nothing else is fetched;
2. the feed is parsed (ingest/sources.py); each entry's key (guid, else link) and fingerprint (a
   hash of what the feed says about it) are compared with the feed's item memory
   (ingest/feeds.py): remembered entries are skipped, neither fetched nor embedded;
3. new and changed entries become articles as ``newsdesk ingest FEED`` makes them (the linked page
   fetched for an entry carrying only a short summary), with the feed's title, date, link and
   outlet (or the feed's ``--source`` name) in their metadata, and go through the ingest pipeline:
   a changed article is a new version (ingest/versions.py), an unchanged text is not embedded;
4. the item memory and the feed's record (validators, counts, next sync, error) are saved.

:class:`FeedScheduler` runs syncs in the serving process: each feed when due (its interval moved
by up to ``feeds_jitter``), at most ``feeds_concurrency`` at once, a failing feed retried after a
wait that doubles per failure (up to ``feeds_backoff_max_s``) with its error shown, and each sync
under the feed's lease (ingest/feeds.py) so that with several processes exactly one syncs a feed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.errors import FeedError, NewsdeskError, StoreLockedError
from ingest.feeds import Feed, FeedLeases, FeedRegistry, ItemMemory
from ingest.fetch import Fetcher, conditional_headers
from ingest.pipeline import IngestPipeline, IngestReport
from ingest.settings import Settings
from ingest.sources import SourceLoader, entry_link, parse_feed, wants_page
from ingest.types import Article, LoadFailure

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (entries done, entries to do)
BUSY_RETRY_S = 5.0  # the store was being written by someone else: try again this soon


def owner_name() -> str:
    """This process's name in leases: host, pid and a random part (unique per scheduler)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def entry_key(entry: Mapping[str, Any]) -> str:
    """What identifies an entry across polls: its guid/id, else its link, else its title."""
    return str(entry.get("id") or entry_link(entry) or entry.get("title") or "").strip()


def entry_fingerprint(entry: Mapping[str, Any]) -> str:
    """A hash of what the feed says about an entry: any edit of it changes the fingerprint."""
    plain = dict(entry)  # feedparser's dict warns about (and maps) some missing keys
    said = {name: plain.get(name) for name in ("id", "link", "title", "summary", "published", "updated")}
    said["content"] = [str(part.get("value", "")) for part in plain.get("content") or []]
    return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass
class SyncResult:
    """What one sync did (also saved on the feed record)."""

    feed: Feed
    not_modified: bool = False
    report: IngestReport = field(default_factory=IngestReport)
    fetched_entries: int = 0
    error: str = ""
    skipped: bool = False  # another process holds the feed's lease
    partial: list[str] = field(default_factory=list)  # entries stored from their summary: page failed

    @property
    def ok(self) -> bool:
        return not self.error


class FeedSyncer:
    """Syncs one feed at a time into the store through the ingest pipeline."""

    def __init__(
        self,
        settings: Settings,
        pipeline: IngestPipeline,
        registry: FeedRegistry,
        write_guard: threading.Lock | None = None,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.registry = registry
        self._write_guard = write_guard or threading.Lock()  # this process writes one feed at a time

    def sync(self, feed: Feed, progress: Progress | None = None) -> SyncResult:
        """Sync ``feed`` and save its new state; a failure is recorded on the feed, not raised
        (StoreLockedError excepted: the store is busy, nothing is recorded, try again soon)."""
        try:
            result = self._poll(feed, progress)
        except StoreLockedError:
            raise
        except NewsdeskError as exc:
            result = SyncResult(feed, error=str(exc))
        current = self.registry.get(feed.feed_id)
        if current is None:  # unfollowed while it synced: do not bring the record back
            return result
        result.feed = replace(self._finish(feed, result), every_s=current.every_s, source=current.source)
        self.registry.save(result.feed)
        return result

    def _poll(self, feed: Feed, progress: Progress | None) -> SyncResult:
        with Fetcher(self.settings) as fetcher:
            fetched = fetcher.fetch(feed.url, conditional_headers(feed.etag, feed.last_modified))
            if fetched.not_modified:
                kept = replace(
                    feed,
                    etag=fetched.etag or feed.etag,
                    last_modified=fetched.last_modified or feed.last_modified,
                )
                return SyncResult(kept, not_modified=True)
            parsed = parse_feed(fetched.body, feed.url, fetched.url)
            feed = replace(feed, etag=fetched.etag, last_modified=fetched.last_modified)
            entries = _unique_entries(parsed.entries)
            memory = self.registry.items(feed)
            todo = [(i, e) for i, e in enumerate(entries, 1) if _changed(e, memory)]
            articles, failures, remembered = self._articles(fetcher, feed, parsed.outlet, todo, progress)
        stored_whole = {m.doc_id for m in remembered}
        partial = [a.url for a in articles if a.doc_id not in stored_whole]
        report = self._store(articles)
        report.failed.extend(failures)
        report.unchanged += len(entries) - len(todo)
        seen = {entry_key(e) for e in entries}
        gone = [replace(m, gone=True) for k, m in memory.items() if k not in seen and not m.gone]
        self.registry.remember(feed, [*remembered, *gone])
        result = SyncResult(replace(feed, items=len(entries)), report=report, fetched_entries=len(todo))
        result.partial = partial
        return result

    def _articles(
        self,
        fetcher: Fetcher,
        feed: Feed,
        outlet: str,
        todo: Sequence[tuple[int, Mapping[str, Any]]],
        progress: Progress | None,
    ) -> tuple[list[Article], list[LoadFailure], list[ItemMemory]]:
        """The articles of the new and changed entries (pages fetched for summary-only ones), the
        entries that failed, and the memory of the ones that worked. An entry whose page could not
        be fetched is stored from its summary but not remembered: the next sync tries its page again."""
        loader = SourceLoader(self.settings, fetcher)  # shares the fetcher: closed with it
        articles: list[Article] = []
        failures: list[LoadFailure] = []
        remembered: list[ItemMemory] = []
        for done, (index, entry) in enumerate(todo, 1):
            item = loader.feed_entry(entry, feed.url, index, outlet)
            if isinstance(item, LoadFailure):
                failures.append(item)
            else:
                articles.append(replace(item, source=feed.source or item.source))
                if item.extra.get("text_from") == "page" or not wants_page(entry):
                    remembered.append(
                        ItemMemory(entry_key(entry), entry_fingerprint(entry), item.doc_id, time.time())
                    )
            if progress is not None:
                progress(done, len(todo))
        return articles, failures, remembered

    def _store(self, articles: Sequence[Article]) -> IngestReport:
        if not articles:
            return IngestReport()
        with self._write_guard:
            return self.pipeline.ingest_articles(articles)

    def _finish(self, feed: Feed, result: SyncResult) -> Feed:
        """The feed's record after ``result``: counts, error, and when to sync next."""
        now = time.time()
        if result.error:
            failures = feed.failures + 1
            return replace(
                feed,
                last_sync_at=now,
                status="failed",
                added=0,
                updated=0,
                unchanged=0,
                failures=failures,
                last_error=result.error,
                next_sync_at=now + self.backoff(feed.every_s, failures),
            )
        report = result.report
        retry = bool(report.failed or result.partial)  # get the whole feed next time to retry them
        notes = [f"{f.source}: {f.error}" for f in report.failed]
        notes += [f"{url}: page not fetched, stored the feed's summary for now" for url in result.partial]
        return replace(
            result.feed,
            etag="" if retry else result.feed.etag,
            last_modified="" if retry else result.feed.last_modified,
            last_sync_at=now,
            last_ok_at=now,
            status="not modified" if result.not_modified else "ok",
            added=report.added,
            updated=report.updated,
            unchanged=result.feed.items if result.not_modified else report.unchanged,
            total_added=feed.total_added + report.added,
            failures=0,
            last_error="; ".join(notes)[:1000],
            next_sync_at=now + self.jittered(feed.every_s),
        )

    def jittered(self, seconds: float) -> float:
        spread = self.settings.feeds_jitter
        return seconds * (1.0 + random.uniform(-spread, spread))

    def backoff(self, every_s: float, failures: int) -> float:
        """Wait before retrying a feed that failed ``failures`` times in a row: the interval,
        doubled per further failure, at most ``feeds_backoff_max_s`` (never below the interval)."""
        wait = min(every_s * 2 ** min(failures - 1, 20), max(self.settings.feeds_backoff_max_s, every_s))
        return self.jittered(wait)


def _unique_entries(entries: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The entries with a key, the first of several with the same key."""
    unique: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        key = entry_key(entry)
        if key and key not in unique:
            unique[key] = entry
    return list(unique.values())


def _changed(entry: Mapping[str, Any], memory: Mapping[str, ItemMemory]) -> bool:
    known = memory.get(entry_key(entry))
    return known is None or known.fingerprint != entry_fingerprint(entry)


class FeedScheduler:
    """Syncs the followed feeds when due, in threads of this process (see the module doc).

    Nothing runs until :meth:`start`; :meth:`sync_now` syncs at once (the CLI, the API, the UI).
    """

    def __init__(self, settings: Settings, pipeline: IngestPipeline, owner: str | None = None) -> None:
        self.settings = settings
        self.registry = FeedRegistry(pipeline.store, settings)
        self.leases = FeedLeases(pipeline.store, settings)
        self.syncer = FeedSyncer(settings, pipeline, self.registry)
        self.owner = owner or owner_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running: set[str] = set()
        self._not_before: dict[str, float] = {}  # feeds another process is syncing: look again then
        self._running_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # --- at once -----------------------------------------------------------------------------
    def sync_now(
        self, url: str | None = None, progress: Callable[[Feed], Progress | None] | None = None
    ) -> list[SyncResult]:
        """Sync one feed (by URL or id) or all of them now, each under its lease; a feed another
        process is syncing is reported as such (its error), not synced twice."""
        feeds = [self.registry.require(url)] if url else self.registry.list()
        return [self.sync_leased(feed, progress(feed) if progress else None) for feed in feeds]

    def sync_leased(self, feed: Feed, progress: Progress | None = None) -> SyncResult:
        """Sync ``feed`` if this process gets its lease."""
        if not self.leases.acquire(feed.feed_id, self.owner):
            holder = self.leases.current(feed.feed_id)
            who = holder.owner if holder else "another process"
            return SyncResult(feed, error=f"feed {feed.url}: being synced by {who}; skipped", skipped=True)
        try:
            return self.syncer.sync(feed, self.renewing(feed, progress))
        finally:
            self.leases.release(feed.feed_id, self.owner)

    def renewing(self, feed: Feed, progress: Progress | None) -> Progress:
        """``progress``, renewing the feed's lease after each entry once a third of it has passed,
        so a long sync (many pages to fetch) keeps its feed to itself."""
        renewed = time.monotonic()

        def step(done: int, total: int) -> None:
            nonlocal renewed
            if time.monotonic() - renewed > self.leases.ttl_s / 3:
                self.leases.acquire(feed.feed_id, self.owner)
                renewed = time.monotonic()
            if progress is not None:
                progress(done, total)

        return step

    # --- on a schedule -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the scheduling thread and the worker pool (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.settings.feeds_concurrency, thread_name_prefix="newsdesk-feed")
        self._thread = threading.Thread(target=self._loop, name="newsdesk-feeds", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop scheduling and wait for the syncs in progress (up to ``timeout_s`` for the loop)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def wake(self) -> None:
        """Look at the feed list now (after a feed was added or changed)."""
        self._wake.set()

    def run_due(self, now: float | None = None) -> list[Future[None]]:
        """Submit every feed that is due and not being synced by this process."""
        assert self._pool is not None, "start() the scheduler first"
        now = time.time() if now is None else now
        started: list[Future[None]] = []
        for feed in self.registry.list():
            if max(feed.next_sync_at, self._not_before.get(feed.feed_id, 0.0)) <= now and self._claim(
                feed.feed_id
            ):
                started.append(self._pool.submit(self._job, feed))
        return started

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before looking: a wake-up while it looks is not lost
            try:
                self.run_due()
                wait = self._seconds_to_next()
            except NewsdeskError as exc:
                logger.warning("feed schedule: %s", exc)
                wait = self.settings.feeds_check_s
            self._wake.wait(wait)

    def _seconds_to_next(self) -> float:
        now = time.time()
        due = [
            max(f.next_sync_at, self._not_before.get(f.feed_id, 0.0)) - now
            for f in self.registry.list()
            if f.feed_id not in self._running
        ]
        return max(0.2, min([self.settings.feeds_check_s, *due]))

    def _claim(self, feed_id: str) -> bool:
        with self._running_lock:
            if feed_id in self._running:
                return False
            self._running.add(feed_id)
            return True

    def _job(self, feed: Feed) -> None:
        try:
            fresh = self.registry.get(feed.feed_id)  # removed or changed since it was listed?
            if fresh is not None and not self._stop.is_set():
                result = self.sync_leased(fresh)
                if result.skipped:
                    self._not_before[feed.feed_id] = time.time() + min(
                        self.settings.feeds_check_s, fresh.every_s
                    )
                elif result.error:
                    logger.warning("feed sync: %s", result.error)
        except StoreLockedError:
            self._retry_soon(feed)
        except NewsdeskError as exc:  # the store itself failed (its lease, its record): look later
            logger.warning("feed sync of %s: %s", feed.url, exc)
            self._not_before[feed.feed_id] = time.time() + self.settings.feeds_check_s
        except Exception:  # a bug in one sync must not end the schedule of the others
            logger.exception("feed sync of %s failed", feed.url)
            self._retry_soon(feed, FeedError(f"feed {feed.url}: internal error while syncing"))
        finally:
            with self._running_lock:
                self._running.discard(feed.feed_id)
            self._wake.set()

    def _retry_soon(self, feed: Feed, error: Exception | None = None) -> None:
        """Sync ``feed`` again shortly (the store was busy), or after its backoff (``error``)."""
        try:
            current = self.registry.get(feed.feed_id)
            if current is None:
                return
            later = replace(current, next_sync_at=time.time() + BUSY_RETRY_S)
            if error is not None:
                failures = current.failures + 1
                wait = self.syncer.backoff(current.every_s, failures)
                later = replace(
                    current,
                    status="failed",
                    last_error=str(error),
                    failures=failures,
                    next_sync_at=time.time() + wait,
                )
            self.registry.save(later)
        except NewsdeskError as exc:
            logger.warning("feed schedule: %s", exc)
