"""Crawling a site by its sitemaps: ``newsdesk ingest --sitemap URL [--since DATE] [--limit N]``.

:class:`SitemapCrawler` walks a sitemap (an index, its sitemaps, and theirs: at most
:data:`MAX_DEPTH` levels; each sitemap once; ingest/loading/sitemaps.py reads each one), skipping
the sitemaps of an index whose ``lastmod`` is before ``since``, until ``sitemap_max_urls`` page URLs
are known. Every request goes through :class:`~ingest.loading.polite.PoliteFetcher`: the SSRF-safe
fetcher, robots.txt and a delay per host. A sitemap of the index that fails is a
:class:`LoadFailure`; the others are still read.

Then the pages, the newest first (by the sitemap's dates; undated ones last), each one a
:class:`Skipped` when it is dated before ``since``, over ``limit``, already stored (``stored``, the
pipeline's lookup: a re-run fetches only what is missing), disallowed by robots.txt, answers an
HTTP error, is no HTML, or is no article by the rule of ingest/loading/page_kind.py; a
:class:`LoadFailure` when the fetch fails otherwise (a timeout, a refused address); else an
:class:`Article` with doc_id :func:`url_doc_id` of the listed URL (as ``newsdesk ingest URL``, a feed
or a WARC capture of it gives), its metadata from the page first, then from the news sitemap
(``news:title``, ``news:publication_date``, ``news:name``). ``crawl_concurrency`` pages are fetched
and extracted at once (1 by default); the items come out in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice

from assistant.core.errors import FetchError, SourceError, UnwantedTypeError
from assistant.core.sections import IngestSettings, ServerSettings
from assistant.core.types import LoadFailure, Skipped
from ingest.loading.articles import (
    Item,
    StoredLookup,
    make_article,
    merge_extracted,
    outlet_name,
    url_doc_id,
    within_limits,
)
from ingest.loading.dates import timestamp
from ingest.loading.extract import Extracted, ExtractLimits, read_page
from ingest.loading.fetch import ACCEPTED_TYPES, Fetched, Fetcher
from ingest.loading.page_kind import (
    ALREADY_STORED,
    HTML_TYPES,
    NOT_HTML,
    ArticleRule,
    skip_reason,
    status_reason,
)
from ingest.loading.polite import PoliteFetcher, RobotsRefusal
from ingest.loading.sitemaps import SitemapEntry, parse_sitemap

MAX_DEPTH = 3  # an index of indexes of sitemaps; the protocol itself allows one level
SITEMAP_TYPES = ACCEPTED_TYPES | {"application/gzip", "application/x-gzip", "application/octet-stream"}
BEFORE_SINCE = "dated before --since"
OVER_LIMIT = "over --limit"
_LOOKUP_BATCH = 500


@dataclass(frozen=True)
class SitemapRequest:
    """A sitemap to ingest: its URL, the earliest date wanted (ISO 8601, "" = all) and the most
    pages to fetch (None = all)."""

    url: str
    since: str = ""
    limit: int | None = None


@dataclass
class Walk:
    """What a walk of a sitemap found: its pages (each URL once), the sitemaps that failed, how many
    URLs were left out over ``sitemap_max_urls``, and the first sitemap as fetched (its validators
    for a conditional GET next time)."""

    pages: list[SitemapEntry] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    left_out: int = 0
    root: Fetched | None = None


class SitemapCrawler:
    """Walks sitemaps and loads their pages politely (see the module doc)."""

    def __init__(
        self, settings: IngestSettings, fetcher: Fetcher, stored: StoredLookup | None = None
    ) -> None:
        self._settings = settings
        self._polite = PoliteFetcher(fetcher, settings)
        self._stored = stored
        self._limits = ExtractLimits.of(settings)
        self._rule = ArticleRule.of(settings)

    def iter_articles(self, request: SitemapRequest) -> Iterator[Item]:
        """The items of every page of the sitemap, as the module doc says; a first sitemap that
        cannot be fetched or read is one LoadFailure naming it."""
        try:
            walk = self.walk(request.url, timestamp(request.since))
        except SourceError as exc:
            yield LoadFailure(exc.source, exc.reason)
            return
        yield from walk.failures
        if walk.left_out:
            yield LoadFailure(
                request.url,
                f"{walk.left_out:,} URLs left out, over the limit of {self._settings.sitemap_max_urls:,} "
                "(NEWSDESK_SITEMAP_MAX_URLS)",
            )
        since = timestamp(request.since)
        wanted: list[SitemapEntry] = []
        for entry in newest_first(walk.pages):
            if since is not None and entry.newest is not None and entry.newest < since:
                yield Skipped(entry.url, BEFORE_SINCE)
            elif request.limit is not None and len(wanted) >= request.limit:
                yield Skipped(entry.url, OVER_LIMIT)
            else:
                wanted.append(entry)
        yield from self.load_pages(wanted, request.url, since)

    def walk(self, url: str, since: float | None, root: Fetched | None = None) -> Walk:
        """The pages of the sitemap at ``url`` and of the sitemaps it lists (those whose ``lastmod``
        is before ``since`` left out); ``root`` is its body when fetched already. SourceError when
        the first sitemap cannot be fetched or read."""
        walk, seen = Walk(root=root), {url}
        pages: dict[str, SitemapEntry] = {}
        queue: deque[tuple[str, int]] = deque([(url, 0)])
        limits = (self._settings.sitemap_max_bytes, self._settings.sitemap_max_urls)
        while queue:
            current, depth = queue.popleft()
            try:
                fetched = walk.root if current == url and walk.root else self.fetch_sitemap(current)
                walk.root = walk.root or fetched
                sitemap = parse_sitemap(fetched.body, current, limits[0], limits[1] - len(pages))
            except SourceError as exc:
                if current == url:
                    raise
                walk.failures.append(LoadFailure(exc.source, exc.reason))
                continue
            for page in sitemap.pages:
                pages.setdefault(page.url, page)
            walk.left_out += sitemap.left_out
            for child in sitemap.sitemaps:
                dated = timestamp(child.lastmod)
                if child.url in seen or (since is not None and dated is not None and dated < since):
                    continue
                seen.add(child.url)
                if depth + 1 < MAX_DEPTH:
                    queue.append((child.url, depth + 1))
        walk.pages = list(pages.values())
        return walk

    def fetch_sitemap(self, url: str, validators: Mapping[str, str] | None = None) -> Fetched:
        """One sitemap, politely (a conditional GET with ``validators``), gzipped or not."""
        return self._polite.fetch(
            url, validators, types=SITEMAP_TYPES, max_bytes=self._settings.sitemap_max_bytes
        )

    def load_pages(
        self, entries: Sequence[SitemapEntry], sitemap: str, since: float | None
    ) -> Iterator[Item]:
        """The item of each page, in order: stored ones skipped, the others fetched and judged."""
        workers = self._settings.crawl_concurrency
        for batch in _batches(entries, _LOOKUP_BATCH):
            known = self._stored([url_doc_id(e.url) for e in batch]) if self._stored else {}
            todo = [e for e in batch if url_doc_id(e.url) not in known]
            yield from (Skipped(e.url, ALREADY_STORED) for e in batch if url_doc_id(e.url) in known)
            yield from _in_order(lambda e: self.load_page(e, sitemap, since), todo, workers)

    def load_page(self, entry: SitemapEntry, sitemap: str, since: float | None = None) -> Item:
        """The item of one listed page (see the module doc); never raises for a bad page."""
        try:
            fetched = self._polite.fetch(entry.url, types=HTML_TYPES)
        except RobotsRefusal as exc:
            return Skipped(entry.url, exc.reason)
        except UnwantedTypeError:
            return Skipped(entry.url, NOT_HTML)
        except FetchError as exc:
            reason = status_reason(exc.status) if exc.status is not None else None
            return Skipped(entry.url, reason) if reason else LoadFailure(exc.source, exc.reason)
        try:
            page = read_page(fetched.body, entry.url, fetched.url, self._limits)
        except SourceError as exc:
            return LoadFailure(exc.source, exc.reason)
        reason = skip_reason(page, fetched.url, self._rule)
        if reason is not None:
            return Skipped(entry.url, reason)
        said = Extracted(text="", title=entry.title, published=entry.published, sitename=entry.publisher)
        extracted = merge_extracted(page.extracted, replace(said, text=page.extracted.text))
        published = timestamp(extracted.published)
        if since is not None and published is not None and published < since:
            return Skipped(entry.url, BEFORE_SINCE)
        source = outlet_name(extracted.sitename, fetched.url)
        extra = {"sitemap": sitemap}  # (not its lastmod: a date the site bumps is no new version)
        article = make_article(url_doc_id(entry.url), entry.url, extracted, fetched.url, source, extra)
        return within_limits(article, self._limits.max_chars)


def newest_first(entries: Iterable[SitemapEntry]) -> list[SitemapEntry]:
    """The entries by their newest date, the newest first; undated ones last, in sitemap order."""
    listed = list(entries)
    dated = sorted((e for e in listed if e.newest is not None), key=lambda e: -(e.newest or 0.0))
    return dated + [e for e in listed if e.newest is None]


def _batches(entries: Sequence[SitemapEntry], size: int) -> Iterator[list[SitemapEntry]]:
    iterator = iter(entries)
    while batch := list(islice(iterator, size)):
        yield batch


def _in_order(
    load: Callable[[SitemapEntry], Item], entries: Sequence[SitemapEntry], workers: int
) -> Iterator[Item]:
    """``load`` of each entry, in order, with up to ``workers`` running at once (none ahead of the
    consumer by more than twice that)."""
    if workers <= 1:
        yield from map(load, entries)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="newsdesk-crawl") as pool:
        pending: deque[Future[Item]] = deque()
        for entry in entries:
            pending.append(pool.submit(load, entry))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def iter_sitemaps(
    requests: Sequence[SitemapRequest],
    settings: IngestSettings,
    server: ServerSettings,
    stored: StoredLookup | None = None,
) -> Iterator[Item]:
    """The items of each sitemap in turn, with one fetcher (``server``: never fetched)."""
    with Fetcher(settings, server) as fetcher:
        crawler = SitemapCrawler(settings, fetcher, stored)
        for request in requests:
            yield from crawler.iter_articles(request)
