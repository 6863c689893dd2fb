"""The records that flow through both halves of Newsdesk.

A citation is always ``(doc_id, char_start, char_end)`` into an article's canonical text; the
sentence text is derived from it (``text[start:end]``), never stored apart from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MetaValue = str | int | float | bool


def safe_url(url: str) -> str | None:
    """The URL if it is an absolute http(s) URL, else None (no javascript:, data:, relative...).

    The one rule for article URLs: ingest refuses others, and whatever renders or returns a stored
    URL (links, deep links) passes it through this again.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not any(c in url for c in " \n\t"):
        return url
    return None


@dataclass(frozen=True)
class Article:
    """One article as loaded from a source, before it is split and stored.

    ``text`` is the canonical text: for plain text and JSONL the input unchanged, for HTML, PDF
    and feeds the extracted text. ``published`` is ISO 8601 (date or date-time) or "".
    ``origin`` says where the article came from (path, ``path:line``, URL) for messages.
    """

    doc_id: str
    text: str
    title: str = ""
    url: str = ""
    published: str = ""
    source: str = ""
    authors: tuple[str, ...] = ()
    origin: str = ""
    extra: Mapping[str, MetaValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A sentence of a canonical text: ``text[start:end]`` is exactly the sentence."""

    start: int
    end: int


@dataclass(frozen=True)
class LoadFailure:
    """A source (or one line or entry of it) that produced no article, and why."""

    source: str
    error: str


@dataclass(frozen=True)
class Skipped:
    """A page of an archive or a sitemap that is left out on purpose (not an article: an index
    page, a redirect, a 404, a paywall stub...; or already stored), and why. Not a failure: the
    ingest report counts skips by reason."""

    source: str
    reason: str
