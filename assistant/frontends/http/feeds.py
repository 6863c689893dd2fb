"""Followed feeds in the web app: the ``/api/feeds`` routes and the schedule run while serving.

- ``GET /api/feeds``: the followed feeds and what their last sync did;
- ``POST /api/feeds`` ``{"url", "every"?, "source"?, "sitemap"?}``: follow a feed, or a sitemap (or
  change it); write key;
- ``DELETE /api/feeds/{feed_id}``: stop following it (its articles stay); write key;
- ``POST /api/feeds/sync`` ``{"url"?}``: sync one feed or all now; write key.

:func:`sync_feeds_while_serving` starts the :class:`FeedScheduler` when the app starts serving and
stops it at shutdown (the app's lifespan): the process that serves is the one that syncs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from assistant.core.errors import FeedNotFoundError
from assistant.frontends.http.api import api_router
from assistant.frontends.http.errors import errors
from assistant.frontends.http.permissions import require_read, require_write

if TYPE_CHECKING:
    from ingest.feeds.schedule import FeedScheduler
    from ingest.feeds.sync import SyncResult

T = TypeVar("T")


class FeedIn(BaseModel):
    """A feed to follow."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(..., description="http(s) URL of an RSS or Atom feed")
    every: str | None = Field(None, description="interval between syncs: 90s, 15m, 2h, 1d")
    source: str | None = Field(None, description="outlet name for its articles (default: the feed's title)")
    sitemap: bool = Field(
        False, description="the URL is a sitemap or sitemap index: its new pages are synced"
    )


class FeedSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="only this feed (URL or id); default: every feed")


class FeedOut(BaseModel):
    """A followed feed; times as epoch seconds and as text (``last_sync``, ``next_sync``)."""

    feed_id: str
    url: str
    kind: str = Field("feed", description="feed (RSS/Atom) or sitemap")
    every: str
    every_s: float
    source: str
    status: str = Field(..., description="new, ok, not modified or failed")
    last_sync: str
    next_sync: str
    last_sync_at: float
    next_sync_at: float
    added: int = Field(..., description="articles the last sync added")
    updated: int = Field(..., description="articles the last sync changed (each a new version)")
    unchanged: int
    items: int = Field(..., description="entries in the feed at the last sync")
    total_added: int
    failures: int = Field(..., description="failed syncs in a row")
    last_error: str


class FeedSyncOut(BaseModel):
    feed: FeedOut
    not_modified: bool
    sentences: int
    error: str


class FeedRoutes:
    """The ``/api/feeds`` handlers, bound to one scheduler."""

    def __init__(self, feeds: FeedScheduler) -> None:
        self.feeds = feeds
        self.sync_limiter = anyio.CapacityLimiter(1)  # one sync-now at a time: they are long

    async def run(self, fn: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
        except FeedNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc

    async def feeds_list(self, request: Request) -> list[FeedOut]:
        require_read(request)  # the default archive's feeds
        feeds = await self.run(self.feeds.registry.list)
        return [FeedOut.model_validate(feed.as_dict()) for feed in feeds]

    async def add(self, body: FeedIn, request: Request) -> FeedOut:
        require_write(request)
        kind = "sitemap" if body.sitemap else None  # None: a followed feed keeps its kind
        feed = await self.run(self.feeds.registry.add, body.url, body.every, body.source, kind)
        self.feeds.wake()  # its first sync is due now
        return FeedOut.model_validate(feed.as_dict())

    async def remove(self, feed_id: str, request: Request) -> dict[str, str]:
        require_write(request)
        feed = await self.run(self.feeds.registry.remove, feed_id)
        return {"removed": feed.url}

    async def sync(self, body: FeedSyncIn, request: Request) -> list[FeedSyncOut]:
        require_write(request)
        results = await self.run(self.feeds.sync_now, body.url, limiter=self.sync_limiter)
        return [_sync_out(result) for result in results]


def _sync_out(result: SyncResult) -> FeedSyncOut:
    return FeedSyncOut(
        feed=FeedOut.model_validate(result.feed.as_dict()),
        not_modified=result.not_modified,
        sentences=result.report.sentences,
        error=result.error,
    )


def add_feed_routes(api: FastAPI, feeds: FeedScheduler) -> None:
    """Add the ``/api/feeds`` routes (behind the same keys and limits as the rest of ``/api``)."""
    handlers = FeedRoutes(feeds)
    responses = errors(400, 403, 404, 409, 413, 422, 503)  # 422 bodies as the rest of /api gives them
    router = api_router(api.state.keyring.enabled, responses=responses)
    router.add_api_route("/feeds", handlers.feeds_list, methods=["GET"], response_model=list[FeedOut])
    router.add_api_route("/feeds", handlers.add, methods=["POST"], response_model=FeedOut)
    router.add_api_route("/feeds/sync", handlers.sync, methods=["POST"], response_model=list[FeedSyncOut])
    router.add_api_route("/feeds/{feed_id}", handlers.remove, methods=["DELETE"])
    api.include_router(router)


def sync_feeds_while_serving(app: FastAPI, feeds: FeedScheduler) -> None:
    """Run ``feeds`` on its schedule from the app's start to its shutdown."""
    serving = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(started: Any) -> AsyncIterator[Any]:
        async with serving(started) as state:
            feeds.start()
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(feeds.stop)

    app.router.lifespan_context = lifespan
