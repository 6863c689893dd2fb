"""What a web page says about itself: schema.org JSON-LD and Open Graph / ``article:*`` meta tags.

:func:`page_metadata` reads a parsed page once and gives its headline, authors, section,
datePublished / dateModified, publisher, canonical URL, the kinds of page it declares (schema.org
``@type`` of its top nodes, ``og:type``) and whether it says it is paywalled
(``isAccessibleForFree: false``). Every HTML path (files, URLs, feed pages, WARC captures, sitemap
pages) goes through it, in :func:`ingest.loading.extract.read_page`.

Each field comes from the first of, in order: the page's JSON-LD article node (the first node
typed ``NewsArticle``, ``Article``, ``ReportageNewsArticle``, ``BlogPosting`` or another article
type, at the top of a script, in a list, in an ``@graph``, or as the ``mainEntity`` of a top node;
never one listed in an ``ItemList``), then the meta tags (``og:*``, ``article:*``, ``name=author``);
the canonical URL is ``<link rel="canonical">``, then the article node's ``mainEntityOfPage`` /
``url``, then ``og:url``. Real pages give ``author`` as a string, an object, an ``@id`` reference
into the ``@graph`` or a list of those; a script that is not valid JSON, a missing date or a date
that is not one are ignored: metadata is never a reason to refuse a page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

from assistant.core.types import safe_url
from ingest.loading.dates import safe_iso

ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
    }
)
_MAX_SCRIPT_CHARS = 1_000_000  # a JSON-LD block larger than this is not metadata
_MAX_NODES = 2000  # nodes looked at per page: enough for any real @graph
_SPACES = re.compile(r"\s+")
_URL_LIKE = re.compile(r"^(https?:)?//", re.IGNORECASE)


@dataclass(frozen=True)
class PageMetadata:
    """What the page declares; "" (or empty) for what it does not say."""

    headline: str = ""
    authors: tuple[str, ...] = ()
    section: str = ""
    published: str = ""  # ISO 8601
    modified: str = ""  # ISO 8601
    publisher: str = ""
    canonical_url: str = ""
    kinds: frozenset[str] = frozenset()  # schema.org types of the top nodes, and "og:" + og:type
    free: bool | None = None  # isAccessibleForFree, when the page states it

    @property
    def declares_article(self) -> bool:
        """True when the page has an article node in its JSON-LD, or og:type ``article``."""
        return bool(self.kinds & ARTICLE_TYPES) or "og:article" in self.kinds


def page_metadata(tree: HtmlElement, url: str | None = None) -> PageMetadata:
    """The metadata ``tree`` states about itself (see the module doc); ``url`` resolves relative URLs."""
    nodes = list(_json_ld_nodes(tree))
    ids = {str(node["@id"]): node for node in nodes if isinstance(node.get("@id"), str)}
    article = next((node for node in nodes if _types(node) & ARTICLE_TYPES), {})
    meta = _meta_tags(tree)
    kinds = {kind for node in nodes for kind in _types(node)}
    if meta.get("og:type"):
        kinds.add("og:" + meta["og:type"].lower())
    return PageMetadata(
        headline=_text(article.get("headline")) or _text(article.get("name")) or meta.get("og:title", ""),
        authors=_names(article.get("author"), ids) or _meta_authors(meta),
        section=_first_text(article.get("articleSection")) or meta.get("article:section", ""),
        published=_date(article, "datePublished", "dateCreated")
        or safe_iso(meta.get("article:published_time", "")),
        modified=_date(article, "dateModified")
        or safe_iso(meta.get("article:modified_time") or meta.get("og:updated_time", "")),
        publisher=(_names(article.get("publisher"), ids) or ("",))[0] or meta.get("og:site_name", ""),
        canonical_url=_canonical(tree, article, meta, url),
        kinds=frozenset(kinds),
        free=_free(article.get("isAccessibleForFree")),
    )


# --- JSON-LD -----------------------------------------------------------------------------------


def _json_ld_nodes(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """The top nodes of every JSON-LD script (lists and ``@graph`` flattened, each ``mainEntity``
    after its node), in page order; a script that is not JSON is skipped."""
    seen = 0
    for script in tree.iter("script"):
        if (script.get("type") or "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        raw = script.text or ""
        if len(raw) > _MAX_SCRIPT_CHARS:
            continue
        try:
            data = json.loads(raw.strip().removeprefix("<!--").removesuffix("-->"))
        except (ValueError, RecursionError):
            continue  # malformed JSON-LD is common; the rest of the page still counts
        for node in _top_nodes(data, depth=0):
            seen += 1
            if seen > _MAX_NODES:
                return
            yield node


def _top_nodes(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _top_nodes(item, depth + 1)
    elif isinstance(data, dict):
        if "@type" in data:
            yield data
        yield from _top_nodes(data.get("@graph"), depth + 1)
        main = data.get("mainEntity")
        if isinstance(main, dict | list):
            yield from _top_nodes(main, depth + 1)


def _types(node: Mapping[str, Any]) -> set[str]:
    """The node's ``@type`` names without a vocabulary prefix (``schema:NewsArticle``,
    ``http://schema.org/NewsArticle`` and ``NewsArticle`` are the same)."""
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {re.split(r"[/:#]", value)[-1] for value in values if isinstance(value, str) and value}


def _names(value: Any, ids: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """Names of a person or organisation field: a string, an object with ``name``, an ``@id``
    reference to a node of the page, or a list of those; URLs (profile pages) are not names."""
    values = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in values[:50]:
        if isinstance(item, dict):
            named = item.get("name") or ids.get(str(item.get("@id", "")), {}).get("name")
            name = _first_text(named)
        else:
            name = _text(item)
        if name and not _URL_LIKE.match(name) and name not in names:
            names.append(name)
    return tuple(names)


def _date(node: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        found = safe_iso(_first_text(node.get(key)))
        if found:
            return found
    return ""


def _free(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    return {"true": True, "false": False}.get(text)


# --- meta tags and the canonical link ---------------------------------------------------------


def _meta_tags(tree: HtmlElement) -> dict[str, str]:
    """The first content of each ``<meta property|name=...>`` (lower-cased key)."""
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = _text(meta.get("content"))
        if key and content and key not in found:
            found[key] = content
    return found


def _meta_authors(meta: Mapping[str, str]) -> tuple[str, ...]:
    for key in ("author", "article:author"):
        value = meta.get(key, "")
        if value and not _URL_LIKE.match(value):
            return (value,)
    return ()


def _canonical(
    tree: HtmlElement, article: Mapping[str, Any], meta: Mapping[str, str], url: str | None
) -> str:
    """``<link rel=canonical>``, else the article node's ``mainEntityOfPage`` or ``url``, else
    ``og:url``: the first that is an absolute http(s) URL once resolved against ``url``."""
    links = [
        link.get("href", "")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    main = article.get("mainEntityOfPage")
    main_url = main.get("@id") or main.get("url") if isinstance(main, dict) else main
    for candidate in [*links[:1], _text(main_url), _text(article.get("url")), meta.get("og:url", "")]:
        resolved = _resolved(candidate, url)
        if resolved:
            return resolved
    return ""


def _resolved(candidate: str, base: str | None) -> str:
    candidate = candidate.strip()
    if not candidate:
        return ""
    try:
        absolute = urljoin(base, candidate) if base else candidate
    except ValueError:
        return ""
    return safe_url(absolute) or ""


# --- values ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A string value unescaped (JSON-LD often carries ``&amp;``) with whitespace folded; "" otherwise."""
    if not isinstance(value, str):
        return ""
    return _SPACES.sub(" ", html.unescape(value)).strip()


def _first_text(value: Any) -> str:
    """The text of a string, or of the first string of a list."""
    if isinstance(value, list):
        return next((text for text in map(_text, value) if text), "")
    return _text(value)
