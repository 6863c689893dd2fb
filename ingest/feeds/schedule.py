"""The feed scheduler: syncs the followed feeds on their schedule, one feed at a time, with
leases so that several processes do not sync the same feed at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from assistant.core.errors import FeedError, NewsdeskError, StoreLockedError
from assistant.core.sections import IngestSettings
from assistant.core.telemetry.metrics import record_feed_sync
from assistant.core.telemetry.tracing import add_attributes, span
from ingest.feeds.registry import Feed, FeedLeases, FeedRegistry
from ingest.feeds.sync import BUSY_RETRY_S, FeedSyncer, Progress, SyncResult, owner_name
from ingest.pipeline import IngestPipeline

logger = logging.getLogger(__name__)


class FeedScheduler:
    """Syncs the followed feeds when due, in threads of this process (see the module doc).

    Nothing runs until :meth:`start`; :meth:`sync_now` syncs at once (the CLI, the API, the UI).
    """

    def __init__(self, settings: IngestSettings, pipeline: IngestPipeline, owner: str | None = None) -> None:
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
        """Sync ``feed`` if this process gets its lease: a span, counted by result
        (``newsdesk_feed_syncs_total``)."""
        with span("newsdesk.feed.sync", {"newsdesk.feed_id": feed.feed_id}):
            result = self._sync_leased(feed, progress)
            add_attributes({"newsdesk.result": sync_result(result), "newsdesk.added": result.report.added})
        record_feed_sync(sync_result(result))
        return result

    def _sync_leased(self, feed: Feed, progress: Progress | None) -> SyncResult:
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

    @property
    def running(self) -> bool:
        """Whether it syncs on the schedule (started, not stopped)."""
        return self._thread is not None

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


def sync_result(result: SyncResult) -> str:
    """The result label of a sync: skipped, failed, not_modified or ok."""
    if result.skipped:
        return "skipped"
    if result.error:
        return "failed"
    return "not_modified" if result.not_modified else "ok"
