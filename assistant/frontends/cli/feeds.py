"""``newsdesk feeds add|list|remove|sync``: following feeds from the command line (docs/feeds.md).

Next to a ``newsdesk serve`` that holds the embedded store, each of them goes through that
server's ``/api/feeds`` routes (``/api/archives/NAME/feeds`` with ``--archive NAME``:
:class:`assistant.frontends.cli.forward.ServerFeeds`) instead of opening the store: the feeds and
the articles a sync adds are written by the server, which alone may write there
(:mod:`ingest.storage.locks`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from assistant.core.settings import Settings
from assistant.frontends.cli.commands import Handler

if TYPE_CHECKING:
    from ingest.feeds.registry import Feed, FeedRegistry
    from ingest.feeds.sync import Progress, SyncResult


def add_commands(sub: Any) -> None:
    """Register ``feeds`` and its subcommands on the ``newsdesk`` parser."""
    feeds = sub.add_parser(
        "feeds", help="follow RSS/Atom feeds and sitemaps: the server syncs them on a schedule"
    )
    actions = feeds.add_subparsers(dest="feeds_command", required=True)
    p = actions.add_parser("add", help="follow a feed or a sitemap (or change its interval or source name)")
    p.add_argument("url", help="http(s) URL of an RSS or Atom feed (or, with --sitemap, of a sitemap)")
    p.add_argument(
        "--sitemap", action="store_true", help="the URL is a sitemap or sitemap index: sync its new pages"
    )
    p.add_argument("--every", help="interval between syncs: 90s, 15m, 2h, 1d (default: feed_every)")
    p.add_argument("--source", help="outlet name for its articles (default: the feed's title)")
    p = actions.add_parser("list", help="the followed feeds and what their last sync did")
    p.add_argument("--json", action="store_true", help="print the feeds as JSON")
    p = actions.add_parser("remove", help="stop following a feed (its articles stay)")
    p.add_argument("url", help="the feed's URL or id")
    p = actions.add_parser("sync", help="sync every followed feed (or one) now, with a progress bar")
    p.add_argument("url", nargs="?", help="only this feed (URL or id)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _registry(settings: Settings) -> FeedRegistry:
    from ingest.feeds.registry import FeedRegistry
    from ingest.storage.store import NewsStore

    return FeedRegistry(NewsStore(settings.store), settings.ingest)


def _feeds(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.frontends.cli.forward import served_address

    served = served_address(settings) or getattr(args, "archive_server", None)
    if served is not None:
        return _feeds_through(served, args, settings)
    if args.feeds_command == "sync":
        return _sync(args, settings)
    registry = _registry(settings)
    if args.feeds_command == "add":
        feed = registry.add(args.url, args.every, args.source, "sitemap" if args.sitemap else None)
        what = "the sitemap " if feed.kind == "sitemap" else ""
        print(f"following {what}{feed.url} every {feed.as_dict()['every']} (id {feed.feed_id})")
    elif args.feeds_command == "remove":
        feed = registry.remove(args.url)
        print(f"stopped following {feed.url}; its articles stay in the store")
    elif args.json:
        print(json.dumps([feed.as_dict() for feed in registry.list()]))
    else:
        print(format_feeds(registry.list()))
    return 0


def _feeds_through(address: str, args: argparse.Namespace, settings: Settings) -> int:
    """The feeds command sent to the server at ``address`` that holds the store."""
    from assistant.frontends.cli.archives import archive_path
    from assistant.frontends.cli.forward import ServerFeeds
    from ingest.feeds.registry import Feed

    server = ServerFeeds(address, settings, archive_path(args, "feeds"))
    if not getattr(args, "json", False):
        print(f"the store is served by {address}: going through its API", file=sys.stderr)
    if args.feeds_command == "sync":
        return _report_synced(server.sync(args.url))
    if args.feeds_command == "add":
        shown = server.add(args.url, args.every, args.source, args.sitemap)
        what = "the sitemap " if shown.get("kind") == "sitemap" else ""
        print(
            f"following {what}{shown['url']} every {shown['every']} (id {shown['feed_id']}) through {address}"
        )
    elif args.feeds_command == "remove":
        removed = server.remove(args.url)
        print(f"stopped following {removed['removed']} through {address}; its articles stay in the store")
    elif args.json:
        print(json.dumps(server.listed()))
    else:
        print(format_feeds([Feed.from_metadata(feed) for feed in server.listed()]))
    return 0


def _report_synced(results: list[dict[str, Any]]) -> int:
    """What a sync through the server did, one line per feed (the server shows no progress)."""
    if not results:
        print("no feeds followed (add one with `newsdesk feeds add URL`)")
    for result in results:
        feed = result["feed"]
        if result["error"]:
            print(f"failed: {result['error']}", file=sys.stderr)
        elif result["not_modified"]:
            print(f"{feed['url']}: not modified")
        else:
            print(
                f"{feed['url']}: added {feed['added']}, updated {feed['updated']}, "
                f"unchanged {feed['unchanged']} ({result['sentences']} sentences embedded)"
            )
    return 0 if all(not result["error"] for result in results) else 1


def format_feeds(feeds: list[Feed]) -> str:
    """The feed list as text: one block per feed, what its last sync did and when the next is."""
    if not feeds:
        return "no feeds followed (add one with `newsdesk feeds add URL`)"
    blocks = []
    for feed in feeds:
        shown = feed.as_dict()
        named = f", source {feed.source}" if feed.source else ""
        named = f", a sitemap{named}" if feed.kind == "sitemap" else named
        last, upcoming = shown["last_sync"] or "never", shown["next_sync"] or "now"
        lines = [
            f"{feed.url}  (id {feed.feed_id}, every {shown['every']}{named})",
            f"  last sync: {last} ({feed.status}); next sync: {upcoming}",
            f"  items: {feed.items} in the feed; last sync added {feed.added}, updated {feed.updated}, "
            f"unchanged {feed.unchanged}; {feed.total_added} added in all",
        ]
        if feed.last_error:
            lines.append(f"  last error: {feed.last_error}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.components import IngestComponents
    from ingest.feeds.schedule import FeedScheduler

    scheduler = FeedScheduler(settings.ingest, IngestComponents.build(settings).pipeline)
    with ExitStack() as bars:

        def progress(feed: Feed) -> Progress | None:
            if args.quiet:
                return None
            bar = bars.enter_context(tqdm(desc=feed.url[-50:], unit="item", dynamic_ncols=True))
            return lambda done, total: _advance(bar, done, total)

        results = scheduler.sync_now(args.url, progress)
    for line in _summaries(results):
        print(line, file=sys.stderr if line.startswith("failed") else sys.stdout)
    return 0 if all(result.ok for result in results) else 1


def _advance(bar: tqdm[Any], done: int, total: int) -> None:
    bar.total = total
    bar.update(done - bar.n)


def _summaries(results: list[SyncResult]) -> Iterator[str]:
    if not results:
        yield "no feeds followed (add one with `newsdesk feeds add URL`)"
    for result in results:
        if result.error:
            yield f"failed: {result.error}"
        elif result.not_modified:
            yield f"{result.feed.url}: not modified"
        else:
            report = result.report
            yield (
                f"{result.feed.url}: added {report.added}, updated {report.updated}, "
                f"unchanged {report.unchanged}, failed {len(report.failed)} "
                f"({report.sentences} sentences embedded)"
            )
            for failure in report.failed:
                yield f"failed: {failure.source}: {failure.error}"


COMMANDS: dict[str, Handler] = {"feeds": _feeds}
