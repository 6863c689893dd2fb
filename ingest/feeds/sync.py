"""Syncing followed feeds: politely, incrementally, and on a schedule (docs/feeds.md).

One sync of a feed (:class:`FeedSyncer`):

1. a conditional GET of the feed through the SSRF-safe fetcher (``If-None-Match`` /
   ``If-Modified-Since`` from the last answer): a 304 ends the sync, nothing else is fetched;
2. the feed is parsed (ingest/loading/sources.py); each entry's key (guid, else link) and fingerprint (a
   hash of what the feed says about it) are compared with the feed's item memory
   (ingest/feeds/registry.py): remembered entries are skipped, neither fetched nor embedded;
3. new and changed entries become articles as ``newsdesk ingest FEED`` makes them (the linked page
   fetched for an entry carrying only a short summary), with the feed's title, date, link and
   outlet (or the feed's ``--source`` name) in their metadata, and go through the ingest pipeline:
   a changed article is a new version (ingest/storage/versions.py), an unchanged text is not embedded;
4. the item memory and the feed's record (validators, counts, next sync, error) are saved.

:class:`FeedScheduler` runs syncs in the serving process: each feed when due (its interval moved
by up to ``feeds_jitter``), at most ``feeds_concurrency`` at once, a failing feed retried after a
wait that doubles per failure (up to ``feeds_backoff_max_s``) with its error shown, and each sync
under the feed's lease (ingest/feeds/registry.py) so that with several processes exactly one syncs a feed.

A followed sitemap (``kind`` sitemap) is synced the same way, by ingest/feeds/sitemap_sync.py.
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
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.core.errors import NewsdeskError, StoreLockedError
from assistant.core.sections import IngestSettings
from assistant.core.types import Article, LoadFailure
from ingest.feeds.registry import SITEMAP, Feed, FeedRegistry, ItemMemory
from ingest.feeds.sitemap_sync import SitemapPoller
from ingest.loading.feed_entries import entry_link, parse_feed, wants_page
from ingest.loading.fetch import Fetcher, conditional_headers
from ingest.loading.sources import SourceLoader
from ingest.pipeline import IngestPipeline, IngestReport

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
        settings: IngestSettings,
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
        if feed.kind == SITEMAP:
            return self._poll_sitemap(feed, progress)
        with Fetcher(self.settings, self.pipeline.settings.server) as fetcher:
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
        loader = SourceLoader(self.settings, self.pipeline.settings.server, fetcher)  # shares the fetcher
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

    def _poll_sitemap(self, feed: Feed, progress: Progress | None) -> SyncResult:
        server = self.pipeline.settings.server
        polled = SitemapPoller(self.settings, server, self.registry, self._store).poll(feed, progress)
        if polled.report is None:
            return SyncResult(polled.feed, not_modified=True)
        return SyncResult(
            replace(polled.feed, items=polled.listed), report=polled.report, fetched_entries=polled.fetched
        )

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
