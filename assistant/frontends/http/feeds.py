"""Followed feeds in the web app: the ``/api/feeds`` routes and the schedule run while serving.

- ``GET /api/feeds``: the followed feeds and what their last sync did;
- ``POST /api/feeds`` ``{"url", "every"?, "source"?, "sitemap"?}``: follow a feed, or a sitemap (or
  change it); write key;
- ``DELETE /api/feeds/{feed_id}``: stop following it (its articles stay); write key;
- ``POST /api/feeds/sync`` ``{"url"?}``: sync one feed or all now; write key;
- ``/api/archives/{name}/feeds``, ``.../feeds/{feed_id}`` and ``.../feeds/sync``: the same on a
  named archive, with read (to list) or write on it; 404 for no such archive, 403 without the
  permission (whether it exists or not).

:func:`sync_feeds_while_serving` starts every archive's :class:`FeedScheduler` when the app starts
serving and stops them at shutdown (the app's lifespan, :meth:`Archives.start_feeds`): the process
that serves is the one that syncs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from assistant.core.errors import FeedNotFoundError
from assistant.frontends.http.api import api_router
from assistant.frontends.http.archives import ArchiveName
from assistant.frontends.http.errors import errors
from assistant.frontends.http.permissions import require_read, require_write
from ingest.storage.archives import DEFAULT_ARCHIVE

if TYPE_CHECKING:
    from assistant.archives import Archives
    from ingest.feeds.schedule import FeedScheduler
    from ingest.feeds.sync import SyncResult

T = TypeVar("T")
NO_FEED = "no archive of that name, or no followed feed with that id"


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
    """The feed handlers of every archive: ``/api/feeds`` the default's, ``/api/archives/{name}/feeds``
    a named archive's (each checked before the archive is opened: 403, then 404 for no such archive)."""

    def __init__(self, archives: Archives) -> None:
        self.archives = archives
        self.sync_limiter = anyio.CapacityLimiter(1)  # one sync-now at a time: they are long

    async def run(self, fn: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
        except FeedNotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc

    async def scheduler(self, archive: str) -> FeedScheduler:
        """The scheduler of ``archive`` (its assistant built in a worker thread on first use)."""
        return await self.run(self.archives.feeds, archive)

    async def listed(self, archive: str, request: Request) -> list[FeedOut]:
        require_read(request, archive)
        feeds = await self.run((await self.scheduler(archive)).registry.list)
        return [FeedOut.model_validate(feed.as_dict()) for feed in feeds]

    async def added(self, archive: str, body: FeedIn, request: Request) -> FeedOut:
        require_write(request, archive)
        scheduler = await self.scheduler(archive)
        kind = "sitemap" if body.sitemap else None  # None: a followed feed keeps its kind
        feed = await self.run(scheduler.registry.add, body.url, body.every, body.source, kind)
        scheduler.wake()  # its first sync is due now
        return FeedOut.model_validate(feed.as_dict())

    async def removed(self, archive: str, feed_id: str, request: Request) -> dict[str, str]:
        require_write(request, archive)
        feed = await self.run((await self.scheduler(archive)).registry.remove, feed_id)
        return {"removed": feed.url}

    async def synced(self, archive: str, body: FeedSyncIn, request: Request) -> list[FeedSyncOut]:
        require_write(request, archive)
        scheduler = await self.scheduler(archive)
        results = await self.run(scheduler.sync_now, body.url, limiter=self.sync_limiter)
        return [_sync_out(result) for result in results]

    # --- /api/feeds: the default archive's ------------------------------------------------------
    async def feeds_list(self, request: Request) -> list[FeedOut]:
        return await self.listed(DEFAULT_ARCHIVE, request)

    async def add(self, body: FeedIn, request: Request) -> FeedOut:
        return await self.added(DEFAULT_ARCHIVE, body, request)

    async def remove(self, feed_id: str, request: Request) -> dict[str, str]:
        return await self.removed(DEFAULT_ARCHIVE, feed_id, request)

    async def sync(self, body: FeedSyncIn, request: Request) -> list[FeedSyncOut]:
        return await self.synced(DEFAULT_ARCHIVE, body, request)

    # --- /api/archives/{name}/feeds: a named archive's --------------------------------------------
    async def archive_list(self, name: ArchiveName, request: Request) -> list[FeedOut]:
        return await self.listed(name, request)

    async def archive_add(self, name: ArchiveName, body: FeedIn, request: Request) -> FeedOut:
        return await self.added(name, body, request)

    async def archive_remove(self, name: ArchiveName, feed_id: str, request: Request) -> dict[str, str]:
        return await self.removed(name, feed_id, request)

    async def archive_sync(self, name: ArchiveName, body: FeedSyncIn, request: Request) -> list[FeedSyncOut]:
        return await self.synced(name, body, request)


def _sync_out(result: SyncResult) -> FeedSyncOut:
    return FeedSyncOut(
        feed=FeedOut.model_validate(result.feed.as_dict()),
        not_modified=result.not_modified,
        sentences=result.report.sentences,
        error=result.error,
    )


def add_feed_routes(api: FastAPI, archives: Archives) -> None:
    """Add the ``/api/feeds`` routes (the default archive's) and ``/api/archives/{name}/feeds``
    (behind the same keys and limits as the rest of ``/api``)."""
    handlers = FeedRoutes(archives)
    responses = errors(400, 403, 404, 409, 413, 422, 503)  # 422 bodies as the rest of /api gives them
    router = api_router(api.state.keyring.enabled, responses=responses)
    router.add_api_route("/feeds", handlers.feeds_list, methods=["GET"], response_model=list[FeedOut])
    router.add_api_route("/feeds", handlers.add, methods=["POST"], response_model=FeedOut)
    router.add_api_route("/feeds/sync", handlers.sync, methods=["POST"], response_model=list[FeedSyncOut])
    router.add_api_route("/feeds/{feed_id}", handlers.remove, methods=["DELETE"])
    named = "/archives/{name}/feeds"
    missing: dict[int | str, dict[str, Any]] = {404: {**responses[404], "description": NO_FEED}}
    add = functools.partial(router.add_api_route, responses=missing)
    add(named, handlers.archive_list, methods=["GET"], response_model=list[FeedOut])
    add(named, handlers.archive_add, methods=["POST"], response_model=FeedOut)
    add(named + "/sync", handlers.archive_sync, methods=["POST"], response_model=list[FeedSyncOut])
    add(named + "/{feed_id}", handlers.archive_remove, methods=["DELETE"])
    api.include_router(router)


def sync_feeds_while_serving(app: FastAPI, archives: Archives) -> None:
    """Run every archive's feeds on their schedule from the app's start to its shutdown."""
    serving = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(started: Any) -> AsyncIterator[Any]:
        async with serving(started) as state:
            archives.start_feeds()
            try:
                yield state
            finally:
                await anyio.to_thread.run_sync(archives.stop_feeds)

    app.router.lifespan_context = lifespan
