"""Turning raw content (bytes of HTML, PDF, feed HTML fragments) into text and metadata.

These functions are pure: they never fetch anything. They raise :class:`SourceError` naming the
``origin`` they are given when the content holds no usable text, or when it is over one of the
:class:`ExtractLimits` (pages of a PDF, characters, seconds of extraction): a small file may hold a
huge amount of work (a PDF that repeats one page 60,000 times is 360 KB), so a PDF's page tree is
counted before any text is extracted, and its pages are read one at a time against the limits.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from typing import Any

import lxml.html
import trafilatura
from lxml.html import HtmlElement
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject
from trafilatura.settings import Document
from trafilatura.utils import load_html

from assistant.core.errors import SourceError
from assistant.core.sections import IngestSettings
from ingest.loading.dates import safe_iso
from ingest.loading.page_metadata import PageMetadata, page_metadata

MIN_ARTICLE_WORDS = 5  # extracted text with fewer words is navigation or boilerplate, not an article
_BLOCK_TAGS = frozenset(
    (  # noqa: SIM905 - a word list reads better than 32 quoted strings
        "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
        "header hr li main nav ol p pre section table td th tr ul"
    ).split()
)
_BREAK = "\ue000"  # private-use character marking block boundaries while flattening HTML
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_VISIBLE = "text()[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]"
_PAGE_TREE_DEPTH = 64  # real page trees are a few levels deep


@dataclass(frozen=True)
class ExtractLimits:
    """The most work extracting one file or page may take (``max_pdf_pages``, ``max_article_chars``,
    ``extract_timeout_s``); the defaults are the settings' defaults."""

    max_pages: int = 500
    max_chars: int = 1_000_000
    timeout_s: float = 60.0

    @classmethod
    def of(cls, settings: IngestSettings) -> ExtractLimits:
        return cls(settings.max_pdf_pages, settings.max_article_chars, settings.extract_timeout_s)


def over_limit(found: str, limit: float, setting: str) -> str:
    """The reason of a refusal: ``PDF has 60,000 pages, over the limit of 500 (NEWSDESK_MAX_PDF_PAGES)``."""
    shown = f"{limit:,}" if isinstance(limit, int) else f"{limit:g} s"
    return f"{found}, over the limit of {shown} (NEWSDESK_{setting.upper()})"


@dataclass(frozen=True)
class Extracted:
    """Text and metadata found in one document; empty strings when a field is unknown."""

    text: str
    title: str = ""
    published: str = ""
    sitename: str = ""
    authors: tuple[str, ...] = ()
    modified: str = ""  # the page's dateModified
    section: str = ""
    canonical_url: str = ""


@dataclass(frozen=True)
class Page:
    """An HTML page read once (:func:`read_page`): its text and metadata (``text`` may be short or
    empty), what it declares about itself, and ``link_density``, the share of its visible text
    that is inside links (what tells an index page from an article: ingest/loading/page_kind.py)."""

    extracted: Extracted
    declared: PageMetadata
    link_density: float


def decode_utf8(data: bytes, origin: str) -> str:
    """Decode strictly as UTF-8, unchanged (a BOM is kept); raise SourceError naming the bad offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(origin, f"not UTF-8 text (undecodable bytes at offset {exc.start})") from exc


def has_article_text(text: str) -> bool:
    """True when ``text`` has at least :data:`MIN_ARTICLE_WORDS` words."""
    return len(text.split(maxsplit=MIN_ARTICLE_WORDS)) >= MIN_ARTICLE_WORDS


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed content): one paragraph per block, blank lines between."""
    if not fragment.strip():
        return ""
    cleaned = _CONTROL.sub("", fragment).replace(_BREAK, " ")  # lxml refuses control characters
    root = lxml.html.fragment_fromstring(cleaned, create_parent="div")
    for element in list(root.iter("script", "style")):
        element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.text = _BREAK + (element.text or "")
            element.tail = _BREAK + (element.tail or "")
    blocks = (_SPACES.sub(" ", part).strip() for part in root.text_content().split(_BREAK))
    return "\n\n".join(block for block in blocks if block)


def extract_html(
    content: bytes | str, origin: str, url: str | None = None, limits: ExtractLimits = ExtractLimits()
) -> Extracted:
    """Main text and metadata of a web page (:func:`read_page`); SourceError if it has no article."""
    extracted = read_page(content, origin, url, limits).extracted
    if not has_article_text(extracted.text):
        raise SourceError(origin, "no article text found")
    return extracted


def read_page(
    content: bytes | str, origin: str, url: str | None = None, limits: ExtractLimits = ExtractLimits()
) -> Page:
    """The page parsed once: its main text with trafilatura, its own metadata (JSON-LD and meta
    tags: ingest/loading/page_metadata.py, which win over trafilatura's guesses) and its link
    density. SourceError when it cannot be parsed, or when the extraction (one call, not
    interruptible) took longer than ``limits.timeout_s``."""
    started = time.monotonic()
    try:
        tree = load_html(content)
        declared = page_metadata(tree, url) if tree is not None else PageMetadata()
        density = link_density(tree) if tree is not None else 0.0
        doc = trafilatura.bare_extraction(tree, url=url, with_metadata=True, include_comments=False)
    except Exception as exc:  # trafilatura and lxml raise assorted parser errors on broken markup
        raise SourceError(origin, f"could not parse HTML: {exc}") from exc
    if (took := time.monotonic() - started) > limits.timeout_s:
        found = f"extracting the text of the page took {took:.0f} s"
        raise SourceError(origin, over_limit(found, limits.timeout_s, "extract_timeout_s"))
    if not isinstance(doc, Document):
        return Page(Extracted(text="", title=declared.headline), declared, density)
    title = declared.headline or _clean(doc.title)
    extracted = Extracted(
        text=without_headline((doc.text or "").strip(), (title, _clean(doc.title))),
        title=title,
        published=declared.published or safe_iso(doc.date),
        sitename=declared.publisher or _clean(doc.sitename),
        authors=declared.authors or split_authors(doc.author),
        modified=declared.modified,
        section=declared.section,
        canonical_url=declared.canonical_url,
    )
    return Page(extracted, declared, density)


def without_headline(text: str, titles: tuple[str, ...]) -> str:
    """``text`` without its first line when that line is the page's headline (the ``<h1>`` an
    extractor keeps at the top of the body): the headline is the article's title, stored and
    embedded as such, not the first sentence of its text (an article from a JSONL file or a feed
    has no such line either)."""
    first, _, rest = text.partition("\n")
    heading = _headline_key(first)
    if heading and any(heading == _headline_key(title) for title in titles if title):
        return rest.lstrip()
    return text


def _headline_key(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(" .:;")


def link_density(tree: HtmlElement) -> float:
    """Characters (not counting whitespace) of the page's visible text inside ``<a>`` elements, over
    those of all its visible text (scripts and styles are not visible); 0.0 for a page without text."""
    body = tree.find("body")
    root = body if body is not None else tree
    total = _visible_chars(root.xpath(f".//{_VISIBLE}"))
    linked = _visible_chars(root.xpath(f".//a//{_VISIBLE}"))
    return linked / total if total else 0.0


def _visible_chars(texts: list[Any]) -> int:
    return sum(len("".join(str(text).split())) for text in texts)


def extract_pdf(data: bytes, origin: str, limits: ExtractLimits = ExtractLimits()) -> Extracted:
    """Text of a PDF (pages joined by blank lines, whitespace inside lines normalised) and metadata;
    SourceError when it is over a limit: its page tree is counted first (no text extracted from a
    PDF with too many pages), then pages are extracted one by one while text and time allow."""
    deadline = time.monotonic() + limits.timeout_s
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError(origin, "encrypted PDF (password required)")
        _check_page_count(reader, origin, limits.max_pages)
        pages = _pdf_pages(reader, origin, limits, deadline)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise SourceError(origin, f"not a readable PDF ({exc})") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise SourceError(origin, "no text found in PDF (scanned images need OCR)")
    title, published, author = _pdf_metadata(reader)
    return Extracted(text=text, title=title, published=published, authors=split_authors(author))


def markdown_title(text: str) -> str:
    """The first level-1 ATX heading (``# Title``) of a Markdown text, or ""."""
    match = re.search(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def split_authors(value: Any) -> tuple[str, ...]:
    """Authors from a list or a ``;``-separated string, blanks dropped."""
    items = value if isinstance(value, list | tuple) else str(value or "").split(";")
    return tuple(name for name in (_clean(item) for item in items) if name)


def _check_page_count(reader: PdfReader, origin: str, limit: int) -> None:
    """SourceError when the PDF says (``/Count``) or its page tree holds more than ``limit`` pages;
    the tree is walked only until the page after the limit, before pypdf reads it whole."""
    declared = _entry(reader.root_object["/Pages"].get_object(), "/Count")
    if isinstance(declared, int) and declared > limit:
        raise SourceError(origin, over_limit(f"PDF has {declared:,} pages", limit, "max_pdf_pages"))
    if _count_pages(reader, limit) > limit:
        raise SourceError(origin, over_limit(f"PDF has more than {limit:,} pages", limit, "max_pdf_pages"))


def _count_pages(reader: PdfReader, limit: int) -> int:
    """Pages of the page tree, counted up to ``limit`` + 1 (a tree node seen twice, as a cycle or a
    page listed again, counts as many times as it is reached)."""
    stack = [iter([reader.root_object["/Pages"]])]
    pages = visited = 0
    while stack and pages <= limit:
        kid = next(stack[-1], None)
        if kid is None:
            stack.pop()
            continue
        node = kid.get_object()
        visited += 1
        kids = _entry(node, "/Kids")
        if isinstance(kids, ArrayObject) and _entry(node, "/Type") != "/Page":
            if len(stack) > _PAGE_TREE_DEPTH or visited > 2 * limit + _PAGE_TREE_DEPTH:
                return limit + 1  # a tree this deep or wide holds no real document
            stack.append(iter(kids))
        else:
            pages += 1
    return pages


def _entry(node: object, key: str) -> object:
    """``node[key]`` (an indirect value resolved) when ``node`` is a PDF dictionary holding it, else None."""
    return node[key] if isinstance(node, DictionaryObject) and key in node else None


def _pdf_pages(reader: PdfReader, origin: str, limits: ExtractLimits, deadline: float) -> list[str]:
    """The normalised text of each page, extracted one page at a time within ``limits``."""
    pages: list[str] = []
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        if time.monotonic() > deadline:
            found = f"extracting the PDF's text took more than {limits.timeout_s:g} s (at page {number:,})"
            raise SourceError(origin, over_limit(found, limits.timeout_s, "extract_timeout_s"))
        pages.append(_normalise_pdf_page(page.extract_text() or ""))
        chars += len(pages[-1]) + 2
        if chars > limits.max_chars:
            found = f"PDF text has more than {limits.max_chars:,} characters (at page {number:,})"
            raise SourceError(origin, over_limit(found, limits.max_chars, "max_article_chars"))
    return pages


def _normalise_pdf_page(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _pdf_metadata(reader: PdfReader) -> tuple[str, str, str]:
    """(title, ISO creation date, author) of a PDF; fields pypdf cannot parse are left empty."""
    try:
        meta = reader.metadata
    except (PyPdfError, ValueError, KeyError, TypeError):
        return "", "", ""
    if meta is None:
        return "", "", ""
    try:
        created = meta.creation_date
    except (ValueError, TypeError):
        created = None
    published = created.isoformat() if created else ""
    title = _clean(meta.title)
    return ("" if title.lower() == "untitled" else title), published, _clean(meta.author)


def _clean(value: Any) -> str:
    return _SPACES.sub(" ", str(value)).strip() if value else ""
