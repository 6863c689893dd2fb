"""Followed feeds as data, kept in the store (so backup/restore and a Chroma server carry them).

Three side collections of the store (:class:`ingest.storage.sidecar.SideCollection`):

* ``{collection}_feeds``: one record per followed feed, id :func:`feed_id` (a hash of its URL),
  metadata: the URL, its kind (an RSS/Atom ``feed`` or a ``sitemap``: ingest/feeds/sitemap_sync.py),
  interval, source name, conditional-GET validators and what the last sync did (:class:`Feed`).
* ``{collection}_feed_items``: the per-feed item memory, one record per entry seen, id
  ``feed_id|hash(key)``, metadata ``feed_id, key`` (the entry's guid, else its link), the entry's
  ``fingerprint`` (a hash of what the feed says about it), ``doc_id`` and whether it has left the
  feed (``gone``). An entry whose fingerprint is remembered is neither fetched nor embedded again.
* ``{collection}_feed_leases``: who syncs a feed (:class:`FeedLeases`).

Records carry no searchable vector (a placeholder), and retrieval never reads them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from assistant.core.errors import FeedError, FeedNotFoundError
from assistant.core.sections import IngestSettings
from assistant.core.types import MetaValue
from ingest.loading.articles import stable_id
from ingest.storage.records import ID_SEP
from ingest.storage.sidecar import SideCollection, placeholder_vectors
from ingest.storage.store import NewsStore

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def feed_id(url: str) -> str:
    """The id of a followed feed: 16 hex digits of a hash of its URL."""
    return stable_id(f"feed:{url}")


def check_feed_url(url: str) -> str:
    """The URL stripped; FeedError naming it unless it is an absolute http(s) URL with a host."""
    cleaned = url.strip()
    try:
        parsed = httpx.URL(cleaned)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FeedError(f"feed {url!r}: url is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FeedError(f"feed {url!r}: url must be an http(s) URL with a host")
    return cleaned


def parse_every(value: str, url: str, minimum_s: float) -> float:
    """Seconds of an interval like ``90s``, ``15m``, ``2h`` or ``1d``; FeedError naming the feed."""
    match = _EVERY.match(value)
    if not match:
        raise FeedError(f"feed {url}: every {value!r} is not an interval like 90s, 15m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < minimum_s:
        raise FeedError(
            f"feed {url}: every {value!r} is shorter than the {format_every(minimum_s)} minimum "
            "(NEWSDESK_FEED_MIN_EVERY_S)"
        )
    return seconds


def format_every(seconds: float) -> str:
    """``15m`` for 900 seconds: the largest unit that divides it, else seconds."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def format_time(epoch: float) -> str:
    """An epoch time as ``2026-11-29 17:03:04 UTC``; "" for 0 (never)."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_TIMES = ("added_at", "last_sync_at", "last_ok_at", "next_sync_at")
FEED, SITEMAP = "feed", "sitemap"


@dataclass(frozen=True)
class Feed:
    """A followed feed and what its last sync did (times are epoch seconds, 0 = never)."""

    url: str
    every_s: float
    source: str = ""  # overrides the outlet name the feed gives its items
    kind: str = FEED  # FEED (RSS/Atom) or SITEMAP (a sitemap or sitemap index)
    added_at: float = 0.0
    etag: str = ""
    last_modified: str = ""
    last_sync_at: float = 0.0
    last_ok_at: float = 0.0
    next_sync_at: float = 0.0
    status: str = "new"  # new | ok | not modified | failed
    added: int = 0  # articles the last sync added ...
    updated: int = 0  # ... changed (each a new version) ...
    unchanged: int = 0  # ... and entries it skipped as already stored
    items: int = 0  # entries in the feed at the last sync
    total_added: int = 0
    failures: int = 0  # consecutive failed syncs (the backoff grows with them)
    last_error: str = ""

    def __post_init__(self) -> None:
        for name in _TIMES:  # milliseconds: what a Chroma metadata float gives back unchanged
            object.__setattr__(self, name, round(float(getattr(self, name)), 3))

    @property
    def feed_id(self) -> str:
        return feed_id(self.url)

    def metadata(self) -> dict[str, MetaValue]:
        return dict(asdict(self))

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any]) -> Feed:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in meta.items() if k in fields})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with readable times and interval (what the API and ``feeds list --json`` show)."""
        return {
            "feed_id": self.feed_id,
            **asdict(self),
            "every": format_every(self.every_s),
            "last_sync": format_time(self.last_sync_at),
            "next_sync": format_time(self.next_sync_at),
        }


@dataclass(frozen=True)
class ItemMemory:
    """What a feed's entry was when it was last stored."""

    key: str
    fingerprint: str
    doc_id: str
    seen_at: float
    gone: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "seen_at", round(float(self.seen_at), 3))


class FeedRegistry:
    """The followed feeds and their item memory, in the store's side collections."""

    def __init__(self, store: NewsStore, settings: IngestSettings) -> None:
        self.store = store
        self.settings = settings
        self._feeds: SideCollection | None = None
        self._items: SideCollection | None = None

    @property
    def feeds(self) -> SideCollection:
        if self._feeds is None:  # opened on first use: a store without feeds gets no collection
            self._feeds = SideCollection(self.store, "feeds")
        return self._feeds

    @property
    def item_records(self) -> SideCollection:
        if self._items is None:
            self._items = SideCollection(self.store, "feed_items")
        return self._items

    # --- feeds -------------------------------------------------------------------------------
    def add(
        self, url: str, every: str | None = None, source: str | None = None, kind: str | None = None
    ) -> Feed:
        """Follow ``url``, an RSS/Atom feed or (``kind`` SITEMAP) a sitemap (first sync due now);
        for a feed already followed, change its interval, source name and kind and keep its state."""
        url = check_feed_url(url)
        if kind not in (None, FEED, SITEMAP):
            raise FeedError(f"feed {url}: kind {kind!r} is neither {FEED!r} nor {SITEMAP!r}")
        seconds = parse_every(every or self.settings.feed_every, url, self.settings.feed_min_every_s)
        current = self.get(url)
        if current is None:
            now = time.time()
            feed = Feed(url, seconds, (source or "").strip(), kind or FEED, added_at=now, next_sync_at=now)
        else:
            kept_source = current.source if source is None else source.strip()
            feed = replace(current, every_s=seconds, source=kept_source, kind=kind or current.kind)
        self.save(feed)
        return feed

    def list(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        got = self.feeds.call("read", lambda: self.feeds.collection.get(include=["metadatas"]))
        feeds = [Feed.from_metadata(meta or {}) for meta in got["metadatas"] or []]
        return sorted(feeds, key=lambda f: (f.added_at, f.url))

    def get(self, url_or_id: str) -> Feed | None:
        """The feed with this URL or feed id, or None."""
        wanted = url_or_id.strip()
        ids = [wanted, feed_id(wanted)]
        got = self.feeds.call("read", lambda: self.feeds.collection.get(ids=ids, include=["metadatas"]))
        metas = got["metadatas"] or []
        return Feed.from_metadata(metas[0] or {}) if metas else None

    def require(self, url_or_id: str) -> Feed:
        feed = self.get(url_or_id)
        if feed is None:
            raise FeedNotFoundError(url_or_id)
        return feed

    def save(self, feed: Feed) -> None:
        self.feeds.call(
            "write",
            lambda: self.feeds.collection.upsert(
                ids=[feed.feed_id], embeddings=placeholder_vectors(1), metadatas=[feed.metadata()]
            ),
        )

    def remove(self, url_or_id: str) -> Feed:
        """Stop following a feed and forget its item memory; its articles stay in the archive."""
        feed = self.require(url_or_id)
        self.feeds.call("delete", lambda: self.feeds.collection.delete(ids=[feed.feed_id]))
        self.item_records.call(
            "delete", lambda: self.item_records.collection.delete(where={"feed_id": feed.feed_id})
        )
        return feed

    # --- item memory -------------------------------------------------------------------------
    def items(self, feed: Feed) -> dict[str, ItemMemory]:
        """The remembered entries of ``feed`` by key."""
        got = self.item_records.call(
            "read",
            lambda: self.item_records.collection.get(where={"feed_id": feed.feed_id}, include=["metadatas"]),
        )
        out: dict[str, ItemMemory] = {}
        for meta in got["metadatas"] or []:
            m = meta or {}
            out[str(m.get("key", ""))] = ItemMemory(
                str(m.get("key", "")),
                str(m.get("fingerprint", "")),
                str(m.get("doc_id", "")),
                float(m.get("seen_at", 0.0) or 0.0),  # type: ignore[arg-type]
                bool(m.get("gone", False)),
            )
        return out

    def remember(self, feed: Feed, items: Iterable[ItemMemory]) -> None:
        """Store (replace) the memory of these entries of ``feed``."""
        rows = list(items)
        if not rows:
            return
        ids = [f"{feed.feed_id}{ID_SEP}{stable_id(item.key)}" for item in rows]
        metas: list[Mapping[str, MetaValue]] = [{"feed_id": feed.feed_id, **asdict(item)} for item in rows]
        self.item_records.call(
            "write",
            lambda: self.item_records.collection.upsert(
                ids=ids,
                embeddings=placeholder_vectors(len(ids)),
                metadatas=[dict(m) for m in metas],  # type: ignore[misc]
            ),
        )


@dataclass(frozen=True)
class Lease:
    feed_id: str
    seq: int
    owner: str
    until: float


class FeedLeases:
    """Who syncs a feed: a lease in the store, so exactly one process syncs a feed at a time.

    Chroma has no transactions, but ``add`` of an id that exists keeps the first record and
    ignores the second. Each lease is a record ``feed_id|seq``; the current lease is the one with
    the highest ``seq``. To take a feed whose current lease is free (expired or released), a
    process adds ``seq + 1`` with itself as owner and reads it back: of several processes doing
    this at once exactly one finds itself the owner. A lease lasts ``feeds_lease_s`` (longer
    than a sync) unless released, so a crashed process blocks its feeds for at most that long.
    """

    def __init__(self, store: NewsStore, settings: IngestSettings) -> None:
        self.store = store
        self.ttl_s = settings.feeds_lease_s
        self._records: SideCollection | None = None

    @property
    def records(self) -> SideCollection:
        if self._records is None:
            self._records = SideCollection(self.store, "feed_leases")
        return self._records

    def current(self, feed: str) -> Lease | None:
        """The lease with the highest seq of ``feed`` (a feed id), or None."""
        got = self.records.call(
            "read", lambda: self.records.collection.get(where={"feed_id": feed}, include=["metadatas"])
        )
        leases = [_lease(meta or {}) for meta in got["metadatas"] or []]
        return max(leases, key=lambda lease: lease.seq, default=None)

    def acquire(self, feed: str, owner: str) -> bool:
        """True when ``owner`` now holds the lease of ``feed`` (taken, or renewed)."""
        now = time.time()
        current = self.current(feed)
        if current is not None and current.until > now:
            if current.owner != owner:
                return False
            self._write(replace(current, until=now + self.ttl_s), add=False)
            return True
        wanted = Lease(feed, (current.seq if current else 0) + 1, owner, now + self.ttl_s)
        self._write(wanted, add=True)
        won = self.current(feed)
        if won is None or won.owner != owner:
            return False
        self._forget_before(feed, won.seq)
        return True

    def release(self, feed: str, owner: str) -> None:
        """Give the lease up (when ``owner`` holds it), so another process may sync at once."""
        current = self.current(feed)
        if current is not None and current.owner == owner:
            self._write(replace(current, until=0.0), add=False)

    def _write(self, lease: Lease, add: bool) -> None:
        collection = self.records.collection
        write = collection.add if add else collection.upsert
        self.records.call(
            "write",
            lambda: write(
                ids=[f"{lease.feed_id}{ID_SEP}{lease.seq:010d}"],
                embeddings=placeholder_vectors(1),
                metadatas=[asdict(lease)],
            ),
        )

    def _forget_before(self, feed: str, seq: int) -> None:
        where: dict[str, Any] = {"$and": [{"feed_id": feed}, {"seq": {"$lt": seq}}]}
        self.records.call("delete", lambda: self.records.collection.delete(where=where))


def _lease(meta: Mapping[str, Any]) -> Lease:
    return Lease(
        str(meta.get("feed_id", "")),
        int(meta.get("seq", 0)),
        str(meta.get("owner", "")),
        float(meta.get("until", 0.0)),
    )
