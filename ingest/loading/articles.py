"""Building an :class:`Article` from what was loaded: stable doc_ids (of a URL, a path, a JSONL
line), the outlet of a page, and safe metadata values. A page's own ``modified`` date, ``section``
and ``canonical_url`` (ingest/loading/page_metadata.py) go in its extra metadata (stored as
``x_modified``, ``x_section``, ``x_canonical_url``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

from assistant.core.types import Article, LoadFailure, MetaValue, Skipped
from ingest.loading.extract import (
    Extracted,
    over_limit,
)

Item = Article | LoadFailure | Skipped
StoredLookup = Callable[[Sequence[str]], Mapping[str, Mapping[str, MetaValue]]]
"""The stored metadata of those of some doc_ids that are stored (the pipeline gives the store's):
what lets a loader skip a page it would only find stored already, before fetching or extracting it."""
PAGE_EXTRA = ("modified", "section", "canonical_url")
AnyItem = TypeVar("AnyItem", bound=Item)


def stable_id(key: str) -> str:
    """16 hex digits of the SHA-256 of ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def url_doc_id(url: str) -> str:
    """doc_id of a web page or feed entry: a hash of its URL without the fragment."""
    try:
        key = str(httpx.URL(url.strip()).copy_with(fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        key = url.strip()
    return stable_id(key)


def path_doc_id(path: Path, line: int | None = None) -> str:
    """doc_id of a file (hash of its resolved absolute path), or of a JSONL line without id/url."""
    key = str(path.resolve())
    return stable_id(key if line is None else f"{key}:{line}")


def host_of(url: str) -> str:
    """The host of ``url`` without a leading ``www.``; "" when there is none."""
    try:
        host = httpx.URL(url.strip()).host.lower()
    except (httpx.InvalidURL, TypeError, ValueError):
        return ""
    return host.removeprefix("www.")


def outlet_name(sitename: str, url: str) -> str:
    """The site name, or the URL's host when there is none (trafilatura falls back to host:port)."""
    host = host_of(url)
    try:
        netloc = httpx.URL(url).netloc.decode("ascii").lower().removeprefix("www.")
    except (httpx.InvalidURL, TypeError, ValueError):
        netloc = host
    if not sitename or sitename.lower().removeprefix("www.") in (host, netloc):
        return host
    return sitename


def is_meta_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def scalar_text(value: Any) -> str:
    """A scalar JSON value as stripped text; "" for null, lists and objects."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def file_article(path: Path, origin: str, extracted: Extracted) -> Article:
    titled = replace(extracted, title=extracted.title or path.stem)
    return make_article(path_doc_id(path), origin, titled, source=extracted.sitename)


def make_article(
    doc_id: str,
    origin: str,
    extracted: Extracted,
    url: str = "",
    source: str = "",
    extra: Mapping[str, MetaValue] | None = None,
) -> Article:
    page_extra = {name: value for name in PAGE_EXTRA if (value := getattr(extracted, name))}
    return Article(
        doc_id=doc_id,
        text=extracted.text,
        title=extracted.title,
        url=url,
        published=extracted.published,
        source=source,
        authors=extracted.authors,
        origin=origin,
        extra={**page_extra, **(extra or {})},
    )


def within_limits(item: AnyItem, max_chars: int) -> AnyItem | LoadFailure:
    """``item``, or a LoadFailure naming the article when its text has more than ``max_chars``
    characters (``max_article_chars``: nothing that long is split, embedded or stored)."""
    if not isinstance(item, Article) or len(item.text) <= max_chars:
        return item
    found = f"article text has {len(item.text):,} characters"
    return LoadFailure(item.origin or item.doc_id, over_limit(found, max_chars, "max_article_chars"))


def merge_extracted(first: Extracted, second: Extracted) -> Extracted:
    """``second``'s text, and each metadata field from ``first`` when it has it, else ``second``."""
    return Extracted(
        text=second.text,
        title=first.title or second.title,
        published=first.published or second.published,
        sitename=first.sitename or second.sitename,
        authors=first.authors or second.authors,
        modified=first.modified or second.modified,
        section=first.section or second.section,
        canonical_url=first.canonical_url or second.canonical_url,
    )
