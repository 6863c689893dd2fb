"""Ingesting a site by its sitemaps, once (``newsdesk ingest --sitemap``) and followed like a feed,
from a real HTTP server on 127.0.0.1: an index, a gzipped news sitemap, a plain sitemap, article
pages, a 404, a page slower than the fetch timeout, a path robots.txt forbids and an index page;
the real model and a real embedded Chroma in tmp_path."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from assistant.core.settings import Settings
from assistant.frontends.cli.main import main
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.feeds.registry import FeedRegistry
from ingest.feeds.schedule import FeedScheduler
from ingest.loading.articles import url_doc_id
from ingest.loading.crawl import SitemapRequest
from tests.ingest.conftest import LocalServer
from tests.ingest.pages import (
    TOWNS,
    article_html,
    headlines,
    index_html,
    news_article_ld,
    sitemap_index,
    story,
    urlset,
)

NEWS = [  # (path, title, town, publication date): the news sitemap, gzipped
    ("/news/ferry", "Ferry schedule changes", "Quillport", "2024-05-03T08:00:00Z"),
    ("/news/market", "Market hall reopens", "Marrowby", "2024-05-02T08:00:00Z"),
    ("/news/bridge", "Bridge repairs begin", "Elderford", "2024-05-01T08:00:00Z"),
]
PLAIN = {  # path -> lastmod: the plain sitemap
    "/news/harbour": "2024-04-30",
    "/news/missing": "2024-04-29",
    "/news/slow": "2024-04-28",
    "/private/draft": "2024-04-27",
    "/local/": "2024-04-26",
    "/photos/harbour.jpg": "2024-04-25",
}


def serve_site(server: LocalServer) -> str:
    """The site on ``server``; returns the URL of its sitemap index."""
    base = server.base_url
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    index = sitemap_index(
        [
            (f"{base}/sitemaps/news.xml.gz", "2024-05-03"),
            (f"{base}/sitemaps/pages.xml", "2024-04-30"),
            (f"{base}/sitemaps/2019.xml", "2019-12-31"),
        ]
    )
    server.add("/sitemap_index.xml", index, "application/xml", headers={"ETag": '"index-1"'})
    news = [{"loc": base + path, "date": date, "title": title} for path, title, _, date in NEWS]
    server.add("/sitemaps/news.xml.gz", gzip.compress(urlset(news, news=True).encode()), "application/gzip")
    for path, title, town, _ in NEWS:  # no date on the pages: the news sitemap's date is theirs
        server.add(path, article_html(title, story(path.rsplit("/", 1)[1], town)))
    plain = [{"loc": base + path, "lastmod": mod} for path, mod in PLAIN.items()]
    server.add("/sitemaps/pages.xml", urlset(plain), "application/xml")
    dated = news_article_ld(
        "Harbour plan approved", datePublished="2024-04-30T06:00:00Z", author="Ines Varga"
    )
    server.add("/news/harbour", article_html("Harbour plan", story("harbour"), json_ld=dated))
    server.add("/news/slow", article_html("Slow page", story("slow")), delay_s=2.5)
    server.add("/private/draft", article_html("Draft", story("draft")))
    server.add("/local/", index_html("Local news", headlines(30)))
    server.add("/photos/harbour.jpg", b"\xff\xd8\xff" + bytes(500), "image/jpeg")
    server.add("/sitemaps/2019.xml", urlset([{"loc": f"{base}/news/2019", "lastmod": "2019-12-31"}]))
    return f"{base}/sitemap_index.xml"


def site_settings(tmp_path: Path, server: LocalServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "store_dir": tmp_path / "store",
        "feedback_path": tmp_path / "feedback.jsonl",
        "fetch_allowed_hosts": [server.host_port],
        "fetch_timeout_s": 1.0,
        "crawl_delay_s": 0.0,
        "feed_min_every_s": 1.0,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def site(server: LocalServer) -> str:
    return serve_site(server)


@pytest.fixture
def components(tmp_path: Path, server: LocalServer, embedder: Embedder) -> Iterator[IngestComponents]:
    yield IngestComponents.build(site_settings(tmp_path, server), embedder=embedder)


def pages_fetched(server: LocalServer) -> list[str]:
    return [path for path in server.requests if not path.startswith(("/sitemap", "/robots"))]


def test_a_sitemap_index_is_walked_and_its_articles_stored_with_each_other_page_skipped(
    components: IngestComponents, server: LocalServer, site: str
) -> None:
    report = components.pipeline.run([], False, [SitemapRequest(site, since="2024-01-01")])
    assert report.added == 4
    assert report.skipped == {
        "HTTP 404": 1,
        "disallowed by robots.txt": 1,
        "index page": 1,
        "not HTML": 1,
    }
    (failure,) = report.failed
    assert failure.source == server.url("/news/slow") and "timed out after 1 s" in failure.error
    assert "/sitemaps/2019.xml" not in server.requests  # its lastmod is before --since
    assert "/private/draft" not in server.requests and server.requests.count("/robots.txt") == 1
    ferry = components.store.require_article(url_doc_id(server.url("/news/ferry")))
    assert ferry.metadata["published"] == "2024-05-03T08:00:00+00:00"  # from the news sitemap
    assert ferry.metadata["x_sitemap"] == site
    harbour = components.store.require_article(url_doc_id(server.url("/news/harbour")))
    assert (harbour.metadata["published"], harbour.metadata["authors"]) == (
        "2024-04-30T06:00:00+00:00",
        "Ines Varga",
    )
    assert harbour.metadata["origin"] == server.url("/news/harbour") and "x_lastmod" not in harbour.metadata

    server.requests.clear()
    again = components.pipeline.run([], False, [SitemapRequest(site, since="2024-01-01")])
    assert (again.added, again.updated, again.skipped["already stored"]) == (0, 0, 4)
    assert not {"/news/ferry", "/news/market", "/news/bridge", "/news/harbour"} & set(server.requests)


def test_limit_takes_the_newest_pages_and_since_leaves_out_older_ones(
    components: IngestComponents, server: LocalServer, site: str
) -> None:
    report = components.pipeline.run([], False, [SitemapRequest(site, since="2024-05-02", limit=1)])
    assert report.added == 1
    assert components.store.get_article(url_doc_id(server.url("/news/ferry"))) is not None  # the newest
    assert report.skipped == {"over --limit": 1, "dated before --since": 1}  # market; bridge
    assert pages_fetched(server) == ["/news/ferry"]
    assert "/sitemaps/pages.xml" not in server.requests  # its lastmod is before --since


NOW = datetime.now(UTC).replace(microsecond=0)


def recent_site(server: LocalServer, pages: dict[str, str], slow: float = 0.0, version: int = 1) -> str:
    """A site of recent news: an index of one news sitemap listing ``pages`` (path -> title), dated
    the hours before NOW, the oldest first; the index has an ETag of ``version``. ``/news/slow``
    answers ``slow`` seconds late."""
    base, now = server.base_url, NOW
    dated = [
        {"loc": base + path, "date": (now - timedelta(hours=10 - n)).isoformat(), "title": title}
        for n, (path, title) in enumerate(pages.items())
    ]
    server.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
    server.add("/sitemap-news.xml", urlset(dated, news=True), "application/xml")
    index = sitemap_index([(f"{base}/sitemap-news.xml", now.date().isoformat())])
    server.add("/sitemap_index.xml", index, "application/xml", headers={"ETag": f'"v{version}"'})
    for n, (path, title) in enumerate(pages.items()):
        delay = slow if path == "/news/slow" else 0.0
        server.add(path, article_html(title, story(path.rsplit("/", 1)[1], TOWNS[n])), delay_s=delay)
    return f"{base}/sitemap_index.xml"


def test_a_followed_sitemap_syncs_only_what_is_new(
    tmp_path: Path, server: LocalServer, embedder: Embedder
) -> None:
    settings = site_settings(tmp_path, server)
    components = IngestComponents.build(settings, embedder=embedder)
    scheduler = FeedScheduler(settings.ingest, components.pipeline)
    pages = {"/news/ferry": "Ferry schedule", "/news/slow": "Slow story", "/news/market": "Market hall"}
    url = recent_site(server, pages, slow=2.5)
    feed = FeedRegistry(components.store, settings.ingest).add(url, "1h", kind="sitemap")
    assert feed.kind == "sitemap"
    (first,) = scheduler.sync_now(url)
    assert first.ok and first.report.added == 2 and first.feed.items == 3
    assert [f.source for f in first.report.failed] == [server.url("/news/slow")]

    recent_site(server, pages)  # the slow page answers in time now
    server.requests.clear()
    (second,) = scheduler.sync_now(url)  # a page failed last time: the whole sitemap is read again
    assert second.report.added == 1 and pages_fetched(server) == ["/news/slow"]

    server.requests.clear()
    (third,) = scheduler.sync_now(url)
    assert third.not_modified and server.requests == ["/robots.txt", "/sitemap_index.xml"]  # a 304

    url = recent_site(server, {**pages, "/news/tram": "Tram line"}, version=2)
    server.requests.clear()
    (fourth,) = scheduler.sync_now(url)
    assert fourth.ok and fourth.report.added == 1 and fourth.feed.items == 4
    assert pages_fetched(server) == ["/news/tram"]
    assert components.store.get_article(url_doc_id(server.url("/news/tram"))) is not None


def test_the_command_line_ingests_a_sitemap_and_follows_one(
    tmp_path: Path,
    server: LocalServer,
    site: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSDESK_FETCH_ALLOWED_HOSTS", server.host_port)
    monkeypatch.setenv("NEWSDESK_CRAWL_DELAY_S", "0")
    monkeypatch.setenv("NEWSDESK_FETCH_TIMEOUT_S", "1")
    store = str(tmp_path / "cli-store")
    ingest = ["ingest", "--sitemap", site, "--since", "2024-05-01", "--limit", "2", "--json"]
    assert main(["--store", store, *ingest]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["added"], summary["failed"]) == (2, [])
    assert summary["skipped"] == {"over --limit": 1}  # the plain sitemap is older than --since
    assert main(["--store", store, "ingest", "--since", "2024-05-01", str(tmp_path)]) == 2
    assert "--since and --limit go with it" in capsys.readouterr().err
    assert main(["--store", store, "feeds", "add", "--sitemap", site, "--every", "2h"]) == 0
    assert f"following the sitemap {site} every 2h" in capsys.readouterr().out
    assert main(["--store", store, "feeds", "list", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    assert (shown["url"], shown["kind"]) == (site, "sitemap")
