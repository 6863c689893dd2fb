"""RSS/Atom feeds: parsing a feed, the link of an entry, its metadata, and whether its page is
fetched (an entry with only a short summary).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import feedparser

from assistant.core.errors import SourceError
from ingest.loading.dates import iso_from_struct_time
from ingest.loading.extract import (
    Extracted,
    has_article_text,
    html_to_text,
    split_authors,
)
from ingest.loading.fetch import Fetched

SHORT_SUMMARY_CHARS = 600  # a feed entry with only a summary shorter than this gets its page fetched


FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})


FEED_START = re.compile(rb"<(rss|feed|rdf:rdf)[\s>]")


@dataclass(frozen=True)
class ParsedFeed:
    """The entries of an RSS/Atom feed (feedparser's dicts) and the feed's title (the outlet)."""

    outlet: str
    entries: list[Mapping[str, Any]]


def parse_feed(data: bytes, origin: str, base_url: str | None) -> ParsedFeed:
    """Parse a feed body; SourceError naming ``origin`` when it is not a feed or has no entries."""
    headers = {"content-location": base_url} if base_url else None
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    if not parsed.entries:
        if parsed.get("bozo") or not parsed.get("version"):
            raise SourceError(
                origin, f"not an RSS/Atom feed ({parsed.get('bozo_exception', 'unknown format')})"
            )
        raise SourceError(origin, "feed has no entries")
    return ParsedFeed(str(parsed.feed.get("title") or "").strip(), list(parsed.entries))


def wants_page(entry: Mapping[str, Any]) -> bool:
    """True when the entry's text is its linked page: it has a link, and no content, only a short
    summary (under :data:`SHORT_SUMMARY_CHARS`)."""
    return page_wanted(*entry_texts(entry), entry_link(entry))


def page_wanted(content: str, summary: str, link: str) -> bool:
    return bool(link) and not has_article_text(content) and len(summary) < SHORT_SUMMARY_CHARS


def entry_texts(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The text of the entry's content (all parts) and of its summary."""
    content = "\n\n".join(entry_html_text(part) for part in entry.get("content") or [])
    summary = entry_html_text(entry.get("summary_detail") or {"value": entry.get("summary", "")})
    return content, summary


def entry_link(entry: Mapping[str, Any]) -> str:
    """The entry's http(s) link, "" when it has none (a ``urn:`` id is not a link)."""
    link = str(entry.get("link") or "").strip()
    return link if link.lower().startswith(("http://", "https://")) else ""


def is_feed(fetched: Fetched) -> bool:
    """True for feed media types, generic XML, and HTML or untyped bodies that start as a feed."""
    if fetched.content_type in FEED_TYPES or fetched.content_type in ("application/xml", "text/xml"):
        return True
    if fetched.content_type not in ("", "text/html"):
        return False
    return bool(FEED_START.search(fetched.body[:2048].lower()))


def entry_metadata(entry: Mapping[str, Any]) -> Extracted:
    authors = [a.get("name", "") for a in entry.get("authors") or [] if isinstance(a, Mapping)]
    published = iso_from_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
    return Extracted(
        text="",
        title=str(entry.get("title") or "").strip(),
        published=published,
        authors=split_authors(authors or entry.get("author")),
    )


def entry_html_text(detail: Mapping[str, Any]) -> str:
    """Text of a feed content or summary item (HTML converted, plain text kept)."""
    value = str(detail.get("value") or "")
    return value.strip() if detail.get("type") == "text/plain" else html_to_text(value)
