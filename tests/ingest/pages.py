"""Web pages made by the tests: news articles (with JSON-LD or Open Graph metadata in several real
shapes), index pages, paywall stubs, and the WARC files and sitemaps that hold them."""

from __future__ import annotations

import gzip
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

TOWNS = ("Testville", "Quillport", "Marrowby", "Elderford", "Saltmere", "Brackwater", "Oakhollow")


def story(topic: str, town: str = "Testville", extra: str = "") -> list[str]:
    """Four paragraphs of a plausible local news story about ``topic`` (about 110 words)."""
    return [
        f"The {town} council voted on Monday to approve the {topic} plan after a long public debate "
        "that filled the town hall until late in the evening.",
        f"Supporters said the {topic} plan would bring new jobs to the harbour district and repair "
        "roads that have been neglected for more than a decade.",
        f"Opponents argued that the cost of the {topic} plan had doubled since the spring, and asked the "
        f"regional auditor to review the contracts before any work begins in {town}.",
        f"Work on the {topic} plan is due to start in September, the mayor said. {extra}".strip(),
    ]


def article_html(
    title: str,
    paragraphs: Sequence[str],
    *,
    json_ld: Any = None,
    meta: dict[str, str] | None = None,
    canonical: str = "",
    nav_links: int = 5,
) -> str:
    """An article page: a navigation bar of ``nav_links`` links, the headline and paragraphs in
    ``<article>``, a footer; ``json_ld`` (a dict, a list, or raw text for a malformed script) and
    ``meta`` (``property`` -> ``content``) in its head."""
    head = [f"<title>{html.escape(title)} | The Gazette</title>"]
    if json_ld is not None:
        raw = json_ld if isinstance(json_ld, str) else json.dumps(json_ld)
        head.append(f'<script type="application/ld+json">{raw}</script>')
    for key, value in (meta or {}).items():
        attribute = "name" if key in ("author", "description") else "property"
        head.append(f'<meta {attribute}="{key}" content="{html.escape(value)}">')
    if canonical:
        head.append(f'<link rel="canonical" href="{canonical}">')
    nav = " ".join(f'<a href="/section/{n}">Section {n}</a>' for n in range(nav_links))
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{''.join(head)}</head><body>"
        f"<nav>{nav}</nav><main><article><h1>{html.escape(title)}</h1>{body}</article></main>"
        "<footer><p>Copyright The Gazette. All rights reserved.</p></footer></body></html>"
    )


def index_html(title: str, links: Sequence[tuple[str, str]], json_ld: Any = None) -> str:
    """A section front: a list of linked headlines, each with a one-line teaser."""
    items = "".join(
        f'<li><h3><a href="{href}">{html.escape(text)}</a></h3><time>May {n % 28 + 1}</time></li>'
        for n, (href, text) in enumerate(links)
    )
    head = f'<script type="application/ld+json">{json.dumps(json_ld)}</script>' if json_ld else ""
    return (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title>{head}</head><body>"
        f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><main><h1>{html.escape(title)}</h1>"
        f"<ul>{items}</ul></main></body></html>"
    )


def headlines(count: int) -> list[tuple[str, str]]:
    """``count`` linked headlines of an index page, each of about eight words."""
    return [
        (f"/news/{n}", f"{TOWNS[n % len(TOWNS)]} residents debate plan number {n} at the town hall")
        for n in range(count)
    ]


def news_article_ld(headline: str, **fields: Any) -> dict[str, Any]:
    """A schema.org NewsArticle node."""
    return {"@context": "https://schema.org", "@type": "NewsArticle", "headline": headline, **fields}


class WarcFile:
    """Writes a WARC (or with ``gz``, a WARC of one gzip member per record) capture by capture."""

    def __init__(self, path: Path, gz: bool = True) -> None:
        self.path = path
        self._handle = path.open("wb")
        self._writer = WARCWriter(self._handle, gzip=gz)
        self.offsets: list[int] = []  # where each record starts

    def response(
        self,
        url: str,
        body: str | bytes,
        date: str = "2024-05-01T10:00:00Z",
        status: str = "200 OK",
        content_type: str = "text/html; charset=utf-8",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        http = StatusAndHeaders(status, [("Content-Type", content_type), *headers], protocol="HTTP/1.1")
        self._write(
            self._writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(data),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
        )

    def redirect(self, url: str, to: str, date: str = "2024-05-01T10:00:00Z") -> None:
        self.response(url, b"", date, "301 Moved Permanently", "text/html", [("Location", to)])

    def revisit(self, url: str, date: str) -> None:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = self._writer.create_revisit_record(
            url, "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", url, "2024-05-01T10:00:00Z", http_headers=http
        )
        record.rec_headers.replace_header("WARC-Date", date)
        self._write(record)

    def warcinfo(self) -> None:
        self._write(self._writer.create_warcinfo_record(self.path.name, {"software": "newsdesk-tests"}))

    def request(self, url: str) -> None:
        payload = io.BytesIO(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        self._write(self._writer.create_warc_record(url, "request", payload=payload))

    def _write(self, record: Any) -> None:
        self._handle.flush()
        self.offsets.append(self._handle.tell())
        self._writer.write_record(record)

    def close(self) -> Path:
        self._handle.close()
        return self.path


def arc_file(path: Path, captures: Sequence[tuple[str, str, str]], gz: bool) -> Path:
    """An ARC (version 1) file of (url, 14-digit date, HTML) captures, each gzipped alone with ``gz``."""

    def record(url: str, date: str, mime: str, block: bytes) -> bytes:
        return f"{url} 127.0.0.1 {date} {mime} {len(block)}\n".encode() + block + b"\n"

    desc = b"1 0 Newsdesk tests\nURL IP-address Archive-date Content-type Archive-length\n"
    parts = [record(f"filedesc://{path.name}", "20240101000000", "text/plain", desc)]
    for url, date, page in captures:
        body = page.encode()
        head = f"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
        parts.append(record(url, date, "text/html", head.encode() + body))
    path.write_bytes(b"".join(gzip.compress(p) for p in parts) if gz else b"".join(parts))
    return path


def urlset(pages: Sequence[dict[str, str]], news: bool = False) -> str:
    """A sitemap (``news``: a Google News sitemap) of pages: ``loc`` and optionally ``lastmod``,
    ``date`` (news:publication_date), ``title`` (news:title)."""
    rows = []
    for page in pages:
        parts = [f"<loc>{html.escape(page['loc'])}</loc>"]
        if "lastmod" in page:
            parts.append(f"<lastmod>{page['lastmod']}</lastmod>")
        if news:
            parts.append(
                "<news:news><news:publication><news:name>The Gazette</news:name>"
                "<news:language>en</news:language></news:publication>"
                f"<news:publication_date>{page.get('date', '')}</news:publication_date>"
                f"<news:title>{html.escape(page.get('title', ''))}</news:title></news:news>"
            )
        rows.append(f"<url>{''.join(parts)}</url>")
    namespaces = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    if news:
        namespaces += ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {namespaces}>{"".join(rows)}</urlset>'


def sitemap_index(sitemaps: Sequence[tuple[str, str]]) -> str:
    """A sitemap index of (loc, lastmod) sitemaps."""
    rows = "".join(f"<sitemap><loc>{loc}</loc><lastmod>{mod}</lastmod></sitemap>" for loc, mod in sitemaps)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'
    )
