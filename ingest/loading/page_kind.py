"""Which pages found in bulk are articles: the skip rule of WARC captures and sitemap pages.

A web archive or a sitemap holds every page of a site: index and section pages, tag pages,
paywall stubs, redirects, 404s, images. A page named on the command line or in a feed is taken as
asked; a page found in bulk is first judged here, and what is not an article becomes a
:class:`~assistant.core.types.Skipped` with one of these reasons (the ingest report counts each):

* ``redirect`` (a 3xx capture), ``HTTP 404`` (any 4xx/5xx status), ``not HTML`` (another media
  type, or no HTTP response: ``dns:`` records);
* ``index page``: the page does not declare itself an article (no JSON-LD article node, no
  ``og:type`` article: ingest/loading/page_metadata.py) and either declares a listing (a JSON-LD
  ``CollectionPage``, ``ItemList`` or ``SearchResultsPage``), or its URL is a site's root or a
  listing path (``/tag/NAME``, ``/category/NAME``, ``/author/NAME``, ``/topics/NAME``, ``/page/2``),
  or more than ``page_max_link_density`` (0.75) of its visible text is link text;
* ``paywall stub``: the page says ``isAccessibleForFree: false`` and its text is under
  ``page_min_words`` (50) words;
* ``too short``: its extracted text is under ``page_min_words`` words.

The numbers were measured on 1,032 real pages that have a main text (trafilatura's evaluation
set: news, blogs, press releases in a dozen languages), on three real news home pages and on the
710 news articles of the development set: docs/ingest.md, "Which pages are articles".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.core.sections import IngestSettings
from ingest.loading.extract import Page

LISTING_TYPES = frozenset({"CollectionPage", "ItemList", "SearchResultsPage"})
LISTING_PARENTS = frozenset(
    {"tag", "tags", "category", "categories", "author", "authors", "topic", "topics", "label", "labels"}
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

REDIRECT = "redirect"
NOT_HTML = "not HTML"
INDEX_PAGE = "index page"
PAYWALL_STUB = "paywall stub"
TOO_SHORT = "too short"
ALREADY_STORED = "already stored"
OLDER_VERSION = "older than the stored version"  # by dateModified, else capture date (storage/revisions.py)


@dataclass(frozen=True)
class ArticleRule:
    """The numbers of the rule (settings ``page_min_words`` and ``page_max_link_density``)."""

    min_words: int = 50
    max_link_density: float = 0.75

    @classmethod
    def of(cls, settings: IngestSettings) -> ArticleRule:
        return cls(settings.page_min_words, settings.page_max_link_density)


def status_reason(status: int) -> str | None:
    """Why a capture with this HTTP status is no article (None for 2xx)."""
    if 200 <= status < 300:
        return None
    return REDIRECT if 300 <= status < 400 else f"HTTP {status}"


def skip_reason(page: Page, url: str, rule: ArticleRule) -> str | None:
    """Why ``page`` (fetched or captured from ``url``) is not an article, or None when it is one."""
    declared = page.declared
    words = len(page.extracted.text.split())
    if not declared.declares_article and (
        declared.kinds & LISTING_TYPES or is_listing_url(url) or page.link_density > rule.max_link_density
    ):
        return INDEX_PAGE
    if words < rule.min_words:
        return PAYWALL_STUB if declared.free is False else TOO_SHORT
    return None


def is_listing_url(url: str) -> bool:
    """True for a site's root (``https://site/``) and for listing paths: ``/tag/NAME``,
    ``/category/NAME``, ``/author/NAME``, ``/topics/NAME`` (and the plurals, ``/label/NAME``),
    ``/tags`` and the like, and ``/page/N``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    segments = [segment.lower() for segment in parts.path.split("/") if segment]
    if not segments:
        return not parts.query
    if segments[-1] in LISTING_PARENTS:
        return True
    if len(segments) < 2:
        return False
    parent = segments[-2]
    return parent in LISTING_PARENTS or (parent == "page" and segments[-1].isdigit())
