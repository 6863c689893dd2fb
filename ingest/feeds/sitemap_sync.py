"""Syncing a followed sitemap (``newsdesk feeds add --sitemap URL``): its new pages, like a feed's.

One sync of a sitemap (:class:`SitemapPoller`, called by :class:`~ingest.feeds.sync.FeedSyncer`):

1. a conditional GET of the sitemap with the validators of the last sync, through the polite,
   SSRF-safe fetcher (robots.txt, ``crawl_delay_s``: ingest/loading/polite.py): a 304 ends it;
2. the walk of the sitemap (an index and its sitemaps: ingest/loading/crawl.py); after a first
   successful sync, only the sitemaps and pages dated in the window (from :data:`WINDOW_S` before
   the last successful sync) are wanted: the archive behind it is for ``newsdesk ingest --sitemap``;
3. a page remembered with the same sitemap dates (the feed's item memory, ingest/feeds/registry.py:
   key its URL, fingerprint a hash of its ``lastmod`` and news date and title) is not fetched; one
   stored already (by another way in) is remembered without being fetched; of the rest, the newest
   ``sitemap_sync_max_pages`` are fetched and judged as ``newsdesk ingest --sitemap`` does, and the
   articles go through the pipeline (a page whose date changed is fetched again: a changed text is
   a new version). Pages that are no article are remembered too, so they are not fetched again
   until the sitemap gives them another date; a page that failed (a timeout) is not, and is tried
   again at the next sync while it is in the window.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from assistant.core.sections import IngestSettings, ServerSettings
from assistant.core.types import Article, LoadFailure, Skipped
from ingest.feeds.registry import Feed, FeedRegistry, ItemMemory
from ingest.loading.articles import Item, stable_id, url_doc_id
from ingest.loading.crawl import SitemapCrawler, newest_first
from ingest.loading.fetch import Fetcher, conditional_headers
from ingest.loading.sitemaps import SitemapEntry
from ingest.pipeline import IngestReport

WINDOW_S = 2 * 86400.0  # sitemap dates are often days only: a page of the day of the last sync is new
Progress = Callable[[int, int], None]
StoreArticles = Callable[[Sequence[Article]], IngestReport]


@dataclass
class SitemapPoll:
    """What one sync of a sitemap did: the feed with its new validators, the report (None: the
    sitemap was not modified), how many pages were fetched and how many the sitemap lists."""

    feed: Feed
    report: IngestReport | None
    fetched: int = 0
    listed: int = 0


def entry_fingerprint(entry: SitemapEntry) -> str:
    """A hash of what the sitemap says of a page: a new date or title changes it."""
    return stable_id(f"{entry.lastmod}|{entry.published}|{entry.title}")


class SitemapPoller:
    """One sync of a followed sitemap at a time (see the module doc)."""

    def __init__(
        self,
        settings: IngestSettings,
        server: ServerSettings,
        registry: FeedRegistry,
        store_articles: StoreArticles,
    ) -> None:
        self.settings, self.server, self.registry = settings, server, registry
        self._store_articles = store_articles

    def poll(self, feed: Feed, progress: Progress | None = None) -> SitemapPoll:
        """Sync ``feed``, a sitemap; FetchError/SourceError when the sitemap itself cannot be read."""
        with Fetcher(self.settings, self.server) as fetcher:
            crawler = SitemapCrawler(self.settings, fetcher)  # no stored lookup: updates are fetched
            root = crawler.fetch_sitemap(feed.url, conditional_headers(feed.etag, feed.last_modified))
            if root.not_modified:
                kept = replace(feed, etag=root.etag or feed.etag, last_modified=root.last_modified)
                return SitemapPoll(kept, None)
            feed = replace(feed, etag=root.etag, last_modified=root.last_modified)
            since = feed.last_ok_at - WINDOW_S if feed.last_ok_at else None
            walk = crawler.walk(feed.url, since, root)
            todo, known = self._todo(feed, walk.pages, since)
            items = crawler.load_pages(todo, feed.url, None)
            articles, skipped, failed, remembered = self._sort(feed, todo, items, progress)
        report = self._store_articles(articles) if articles else IngestReport()
        report.failed[:0] = [*walk.failures, *failed]
        report.skipped.update(skipped)
        report.unchanged += len(walk.pages) - len(todo)
        self.registry.remember(feed, [*known, *remembered])
        return SitemapPoll(feed, report, len(todo), len(walk.pages))

    def _todo(
        self, feed: Feed, pages: Sequence[SitemapEntry], since: float | None
    ) -> tuple[list[SitemapEntry], list[ItemMemory]]:
        """The pages to fetch, the newest first and at most ``sitemap_sync_max_pages``, and the
        memory of the pages found stored already."""
        memory = self.registry.items(feed)
        fresh = [
            page
            for page in pages
            if (seen := memory.get(page.url)) is None or seen.fingerprint != entry_fingerprint(page)
        ]
        stored = self.registry.store.article_hashes([url_doc_id(p.url) for p in fresh])
        now = time.time()
        known_now = [
            ItemMemory(p.url, entry_fingerprint(p), url_doc_id(p.url), now)
            for p in fresh
            if url_doc_id(p.url) in stored and p.url not in memory
        ]
        wanted = [
            page
            for page in newest_first(fresh)
            if not (url_doc_id(page.url) in stored and page.url not in memory)
            and (since is None or page.newest is None or page.newest >= since)
        ]
        return wanted[: self.settings.sitemap_sync_max_pages], known_now

    def _sort(
        self,
        feed: Feed,
        todo: Sequence[SitemapEntry],
        items: Iterable[Item],
        progress: Progress | None,
    ) -> tuple[list[Article], Counter[str], list[LoadFailure], list[ItemMemory]]:
        """The articles, skips by reason and failures of the fetched pages, and the memory of every
        page not failed."""
        articles: list[Article] = []
        skipped: Counter[str] = Counter()
        failed: list[LoadFailure] = []
        remembered: list[ItemMemory] = []
        for done, (entry, item) in enumerate(zip(todo, items), 1):
            if isinstance(item, LoadFailure):
                failed.append(item)
            else:
                if isinstance(item, Skipped):
                    skipped[item.reason] += 1
                else:
                    articles.append(replace(item, source=feed.source or item.source))
                memory = ItemMemory(entry.url, entry_fingerprint(entry), url_doc_id(entry.url), time.time())
                remembered.append(memory)
            if progress is not None:
                progress(done, len(todo))
        return articles, skipped, failed, remembered
