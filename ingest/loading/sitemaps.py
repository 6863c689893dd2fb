"""Sitemaps: what one sitemap file lists (ingest/loading/crawl.py walks an index and fetches the pages).

:func:`parse_sitemap` reads a sitemap index (``<sitemapindex>``: the sitemaps, with their
``<lastmod>``), a plain sitemap (``<urlset>``: each ``<loc>`` and ``<lastmod>``) or a Google News
sitemap (a ``<urlset>`` whose ``<url>`` elements also carry ``news:publication_date``,
``news:title`` and ``news:publication/news:name``). A gzipped sitemap (``.xml.gz``, found by its
magic bytes) is unpacked as it is read. The XML is parsed as a stream with lxml (each ``<url>``
dropped once read; no entities resolved, no DTD or network access), within two limits: at most
``max_bytes`` bytes of XML (unpacked: a gzip bomb stops there), and at most ``max_urls`` URLs kept
(the others are counted as ``left_out``). A ``<loc>`` that is not an absolute http(s) URL is passed
over.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from assistant.core.errors import SourceError
from assistant.core.types import safe_url
from ingest.loading.dates import safe_iso, timestamp
from ingest.loading.fetch import format_size

_GZIP_MAGIC = b"\x1f\x8b"
_ROOTS = ("urlset", "sitemapindex")


@dataclass(frozen=True)
class SitemapEntry:
    """A URL a sitemap lists (a page, or in an index a sitemap) and what the sitemap says of it."""

    url: str
    lastmod: str = ""  # ISO 8601
    published: str = ""  # news:publication_date, ISO 8601
    title: str = ""  # news:title
    publisher: str = ""  # news:publication/news:name

    @property
    def newest(self) -> float | None:
        """The latest of its publication and last change, as epoch seconds (None: undated)."""
        dates = [t for t in (timestamp(self.published), timestamp(self.lastmod)) if t is not None]
        return max(dates, default=None)


@dataclass
class Sitemap:
    """One sitemap read: its pages (``urlset``) or its sitemaps (``sitemapindex``)."""

    pages: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[SitemapEntry] = field(default_factory=list)
    left_out: int = 0  # URLs over max_urls


def parse_sitemap(data: bytes, origin: str, max_bytes: int, max_urls: int) -> Sitemap:
    """The URLs of one sitemap (see the module doc); SourceError naming ``origin`` when it is not a
    sitemap, is malformed, or is over ``max_bytes`` once unpacked."""
    stream: io.BufferedIOBase = io.BytesIO(data)
    if data.startswith(_GZIP_MAGIC):
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    bounded = _Bounded(stream, max_bytes, origin)
    sitemap = Sitemap()
    try:
        _read(etree.iterparse(bounded, **_SAFE), origin, max_urls, sitemap)
    except etree.XMLSyntaxError as exc:
        raise SourceError(origin, f"not a readable sitemap (XML error: {exc.msg})") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(origin, f"not a readable gzip sitemap ({exc})") from exc
    return sitemap


_SAFE: dict[str, Any] = {
    "events": ("start", "end"),
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def _read(events: Any, origin: str, max_urls: int, sitemap: Sitemap) -> None:
    root_seen = False
    for event, element in events:
        name = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if event == "start":
            if not root_seen and name not in _ROOTS:
                raise SourceError(origin, f"not a sitemap (its root element is <{name}>, not <urlset>)")
            root_seen = True
            continue
        if name not in ("url", "sitemap"):
            continue
        entry = _entry(element)
        _drop(element)
        if entry is None:
            continue
        if len(sitemap.pages) + len(sitemap.sitemaps) >= max_urls:
            sitemap.left_out += 1
        else:
            (sitemap.pages if name == "url" else sitemap.sitemaps).append(entry)


def _entry(element: Any) -> SitemapEntry | None:
    """The entry of a ``<url>`` or ``<sitemap>`` element (None without an http(s) ``<loc>``)."""
    found: dict[str, str] = {}
    for child in element.iter():
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            if name not in found and child.text and child.text.strip():
                found[name] = " ".join(child.text.split())
    url = safe_url(found.get("loc", ""))
    if url is None:
        return None
    return SitemapEntry(
        url=url,
        lastmod=safe_iso(found.get("lastmod")),
        published=safe_iso(found.get("publication_date")),
        title=found.get("title", ""),
        publisher=found.get("name", ""),
    )


def _drop(element: Any) -> None:
    """Free a read element and the siblings before it: the tree never holds more than one URL."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


class _Bounded(io.RawIOBase):
    """A reader of ``stream`` that refuses to give more than ``limit`` bytes."""

    def __init__(self, stream: io.BufferedIOBase, limit: int, origin: str) -> None:
        super().__init__()
        self._stream, self._limit, self._origin, self._read = stream, limit, origin, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(self._limit + 1 - self._read if size < 0 else size)
        self._read += len(data)
        if self._read > self._limit:
            limit = format_size(self._limit, trim=True)
            raise SourceError(self._origin, f"sitemap is over the {limit} limit (NEWSDESK_SITEMAP_MAX_BYTES)")
        return data
