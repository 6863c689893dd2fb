"""Reading sitemaps (index, news, plain, gzipped) within their limits, and polite fetching:
robots.txt and the delay between two requests to one host."""

from __future__ import annotations

import gzip
from collections.abc import Mapping

import pytest

from assistant.core.errors import FetchError, SourceError
from assistant.core.settings import Settings
from ingest.loading.fetch import ACCEPTED_TYPES, Fetched, Fetcher
from ingest.loading.polite import PoliteFetcher, RobotsRefusal
from ingest.loading.sitemaps import parse_sitemap
from tests.ingest.pages import sitemap_index, urlset

SITE = "https://gazette.test"
MB = 1024 * 1024


def test_a_news_sitemap_gives_each_page_with_its_dates_title_and_publisher() -> None:
    pages = [
        {"loc": f"{SITE}/news/1", "lastmod": "2024-05-02", "date": "2024-05-01T08:00:00Z", "title": "Ferry"},
        {"loc": f"{SITE}/news/2", "date": "2024-05-03", "title": "Market & hall"},
        {"loc": "javascript:alert(1)"},  # not an http(s) URL: passed over
    ]
    read = parse_sitemap(urlset(pages, news=True).encode(), "news.xml", MB, 100)
    assert [p.url for p in read.pages] == [f"{SITE}/news/1", f"{SITE}/news/2"]
    first, second = read.pages
    assert (first.lastmod, first.published, first.title) == (
        "2024-05-02",
        "2024-05-01T08:00:00+00:00",
        "Ferry",
    )
    assert (second.title, second.publisher, second.lastmod) == ("Market & hall", "The Gazette", "")
    assert first.newest is not None and second.newest is not None and second.newest > first.newest
    assert read.sitemaps == [] and read.left_out == 0


def test_an_index_lists_its_sitemaps_and_a_gzipped_sitemap_is_unpacked() -> None:
    index = sitemap_index([(f"{SITE}/s/news.xml.gz", "2024-05-01"), (f"{SITE}/s/old.xml", "2019-01-01")])
    read = parse_sitemap(index.encode(), "index.xml", MB, 100)
    assert [(s.url, s.lastmod) for s in read.sitemaps] == [
        (f"{SITE}/s/news.xml.gz", "2024-05-01"),
        (f"{SITE}/s/old.xml", "2019-01-01"),
    ]
    packed = gzip.compress(urlset([{"loc": f"{SITE}/news/1"}]).encode())
    assert [p.url for p in parse_sitemap(packed, "news.xml.gz", MB, 100).pages] == [f"{SITE}/news/1"]


def test_urls_over_the_limit_are_counted_not_kept() -> None:
    pages = [{"loc": f"{SITE}/news/{n}"} for n in range(10)]
    read = parse_sitemap(urlset(pages).encode(), "big.xml", MB, 4)
    assert (len(read.pages), read.left_out) == (4, 6)


def test_a_gzip_bomb_stops_at_the_byte_limit() -> None:
    body = urlset([{"loc": f"{SITE}/news/1"}]).encode()
    bomb = gzip.compress(body.replace(b"</urlset>", b" " * (20 * MB) + b"</urlset>"))
    assert len(bomb) < 50_000
    with pytest.raises(
        SourceError, match=r"bomb.xml.gz: sitemap is over the 1 MB limit \(NEWSDESK_SITEMAP_MAX_BYTES\)"
    ):
        parse_sitemap(bomb, "bomb.xml.gz", MB, 100)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<rss><channel><title>x</title></channel></rss>", "not a sitemap (its root element is <rss>"),
        (b"<urlset><url><loc>https://a.test/1</loc>", "not a readable sitemap (XML error"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable gzip sitemap"),
    ],
)
def test_what_is_no_sitemap_is_an_error_naming_it(body: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_sitemap(body, "odd.xml", MB, 100)
    assert caught.value.source == "odd.xml" and caught.value.reason.startswith(reason)


def test_entities_are_never_resolved() -> None:
    sneaky = (
        b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.test/&secret;</loc></url></urlset>"
    )
    with open("/etc/hostname", encoding="utf-8") as handle:
        host = handle.read().strip()
    read = parse_sitemap(sneaky, "sneaky.xml", MB, 100)
    assert all(host not in page.url for page in read.pages)


# --- politeness ---------------------------------------------------------------------------------


class Clock:
    """A fake monotonic clock that ``sleep`` moves on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


class CannedFetcher(Fetcher):
    """Answers from a dict of URL -> body (or a FetchError); records what was fetched."""

    def __init__(self, answers: Mapping[str, bytes | FetchError]) -> None:
        self.answers = answers
        self.fetched: list[str] = []

    def fetch(
        self,
        url: str,
        validators: Mapping[str, str] | None = None,
        *,
        types: frozenset[str] = ACCEPTED_TYPES,
        max_bytes: int | None = None,
    ) -> Fetched:
        self.fetched.append(url)
        answer = self.answers.get(url, FetchError(url, "HTTP 404", 404))
        if isinstance(answer, FetchError):
            raise answer
        return Fetched(url, "text/plain", None, answer)

    def close(self) -> None:
        pass


def polite(
    answers: Mapping[str, bytes | FetchError], crawl_delay_s: float
) -> tuple[PoliteFetcher, CannedFetcher, Clock]:
    canned, clock = CannedFetcher(answers), Clock()
    settings = Settings(crawl_delay_s=crawl_delay_s).ingest
    fetcher = PoliteFetcher(canned, settings, clock=clock, sleep=clock.sleep)
    return fetcher, canned, clock


def test_robots_txt_is_read_once_per_host_and_what_it_disallows_is_never_fetched() -> None:
    robots = b"User-agent: *\nDisallow: /private/\n\nUser-agent: Newsdesk\nDisallow: /drafts/\n"
    pages = {f"{SITE}/news/1": b"a", f"{SITE}/private/x": b"b", f"{SITE}/news/2": b"c"}
    fetcher, canned, _ = polite({f"{SITE}/robots.txt": robots, **pages}, crawl_delay_s=0)
    fetcher.fetch(f"{SITE}/news/1")
    fetcher.fetch(f"{SITE}/private/x")  # our agent's own group does not disallow /private/
    with pytest.raises(RobotsRefusal, match=r"disallowed by robots\.txt"):
        fetcher.fetch(f"{SITE}/drafts/plan")
    fetcher.fetch(f"{SITE}/news/2")
    assert canned.fetched == [f"{SITE}/robots.txt", f"{SITE}/news/1", f"{SITE}/private/x", f"{SITE}/news/2"]


def test_a_missing_robots_txt_allows_all_and_a_failing_one_allows_nothing() -> None:
    answers: dict[str, bytes | FetchError] = {
        "https://open.test/page": b"a",
        "https://down.test/robots.txt": FetchError("https://down.test/robots.txt", "HTTP 503", 503),
    }
    fetcher, canned, _ = polite(answers, crawl_delay_s=0)
    assert fetcher.fetch("https://open.test/page").body == b"a"
    with pytest.raises(RobotsRefusal, match=r"robots.txt could not be read: HTTP 503"):
        fetcher.fetch("https://down.test/page")
    assert "https://down.test/page" not in canned.fetched


def test_requests_to_one_host_are_spaced_by_the_delay_or_the_longer_crawl_delay() -> None:
    answers: dict[str, bytes | FetchError] = {
        f"{SITE}/robots.txt": b"User-agent: *\nCrawl-delay: 3\n",
        "https://other.test/robots.txt": b"",
        **{f"{SITE}/news/{n}": b"x" for n in range(3)},
        "https://other.test/a": b"y",
    }
    fetcher, _, clock = polite(answers, crawl_delay_s=1.0)
    for n in range(3):
        fetcher.fetch(f"{SITE}/news/{n}")
    assert clock.slept == [3.0, 3.0, 3.0]  # after robots.txt, and between the pages: Crawl-delay 3 s
    fetcher.fetch("https://other.test/a")  # another host: its own delay (1 s after its robots.txt)
    assert clock.slept[-1] == 1.0
