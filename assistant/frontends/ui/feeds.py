"""The Library tab's followed feeds: follow, unfollow, sync now, and what each sync did.

A thin layer over :class:`ingest.feeds.sync.FeedScheduler` (the same one the server's schedule and
``/api/feeds`` use); every feed value shown is escaped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from assistant.core.errors import NewsdeskError
from assistant.frontends.ui.access import UiAccess
from assistant.frontends.ui.html import esc

if TYPE_CHECKING:
    from ingest.feeds.registry import Feed
    from ingest.feeds.schedule import FeedScheduler

COLUMNS = ("Feed", "Every", "Last sync", "Next sync", "Items added", "Last error")


def feed_row(feed: Feed) -> str:
    """One feed as a table row: URL (and source name), interval, last and next sync, items added
    by the last sync (and in all), last error."""
    shown = feed.as_dict()
    named = f'<div class="nd-feed-source">{esc(feed.source)}</div>' if feed.source else ""
    last = f"{shown['last_sync']} ({feed.status})" if feed.last_sync_at else "never"
    added = f"{feed.added} (updated {feed.updated}; {feed.total_added} in all)"
    cells = [
        f'<span class="nd-feed-url">{esc(feed.url)}</span>{named}',
        esc(str(shown["every"])),
        esc(last),
        esc(str(shown["next_sync"]) or "now"),
        esc(added),
        f'<span class="nd-feed-error">{esc(feed.last_error)}</span>' if feed.last_error else "",
    ]
    return (
        f'<tr class="nd-feed" data-feed-id="{esc(feed.feed_id)}">'
        + "".join(f"<td>{cell}</td>" for cell in cells)
        + "</tr>"
    )


def feeds_html(feeds: list[Feed]) -> str:
    if not feeds:
        return '<div class="nd-feeds-empty">No feeds followed yet.</div>'
    head = "".join(f"<th>{name}</th>" for name in COLUMNS)
    rows = "".join(feed_row(feed) for feed in feeds)
    return (
        f'<table class="nd-table nd-feeds-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    )


class FeedHandlers:
    """Event handlers of the feed list."""

    def __init__(self, feeds: FeedScheduler, access: UiAccess | None = None) -> None:
        self.feeds = feeds
        self.access = access or UiAccess(None)

    def table(self, request: gr.Request) -> str:
        if not self.access.may_read_default(request):
            return ""
        try:
            return feeds_html(self.feeds.registry.list())
        except NewsdeskError as exc:
            return f'<div class="nd-report nd-warn">{esc(str(exc))}</div>'

    def follow(
        self, url: str | None, every: str | None, source: str | None, request: gr.Request
    ) -> tuple[str, str]:
        self.access.require(request, write=True)
        if not (url or "").strip():
            raise gr.Error("Paste the URL of an RSS or Atom feed first.")
        try:
            feed = self.feeds.registry.add(
                str(url), (every or "").strip() or None, (source or "").strip() or None
            )
        except NewsdeskError as exc:
            raise gr.Error(str(exc)) from exc
        self.feeds.wake()
        gr.Info(f"Following {feed.url}: its first sync starts shortly.")
        return self.table(request), ""

    def unfollow(self, url: str | None, request: gr.Request) -> tuple[str, str]:
        self.access.require(request, write=True)
        try:
            feed = self.feeds.registry.remove((url or "").strip())
        except NewsdeskError as exc:
            raise gr.Error(str(exc)) from exc
        gr.Info(f"Stopped following {feed.url}; its articles stay in the library.")
        return self.table(request), ""

    def sync(self, request: gr.Request, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """Sync every feed now, one after the other, with progress."""
        self.access.require(request, write=True)
        try:
            feeds = self.feeds.registry.list()
            for i, feed in enumerate(feeds):
                progress((i, len(feeds)), desc=f"Syncing {feed.url}", unit="feeds")
                self.feeds.sync_leased(feed)
        except NewsdeskError as exc:
            raise gr.Error(str(exc)) from exc
        return self.table(request)


def feeds_section(handlers: FeedHandlers, demo: gr.Blocks) -> None:
    """The feed list and its controls, built in the current layout, with their events."""
    gr.Markdown(
        "### Followed feeds\nThe server checks each feed on its schedule and adds new and changed articles."
    )
    table = gr.HTML(elem_id="nd-feeds", js_on_load=None)
    with gr.Row(equal_height=True):
        url = gr.Textbox(label="Feed URL", placeholder="https://…/rss.xml", scale=4, elem_id="nd-feed-url")
        every = gr.Textbox(label="Every", placeholder="15m", scale=1, min_width=80, elem_id="nd-feed-every")
        source = gr.Textbox(label="Source name (optional)", scale=2, elem_id="nd-feed-source")
    with gr.Row():
        follow = gr.Button("Follow feed", variant="primary", elem_id="nd-feed-follow")
        unfollow = gr.Button("Unfollow", variant="secondary", elem_id="nd-feed-unfollow")
        sync = gr.Button("Sync all now", variant="secondary", elem_id="nd-feed-sync")
        refresh = gr.Button("Refresh", variant="secondary", elem_id="nd-feed-refresh")
    follow.click(handlers.follow, [url, every, source], [table, url])
    unfollow.click(handlers.unfollow, [url], [table, url])
    sync.click(handlers.sync, None, [table], concurrency_id="feeds-sync")
    refresh.click(handlers.table, None, [table])
    demo.load(handlers.table, None, [table])
