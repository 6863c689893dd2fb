"""Loading articles from sources: files, folders, http(s) URLs of pages and RSS/Atom feeds.

:func:`iter_articles` expands each source and yields one :class:`Article` per article found, or a
:class:`LoadFailure` naming the source (a path, ``path:LINE`` for JSONL lines, a URL, a feed
entry's URL) and the reason. Bad input never raises out of it.

doc_id: the JSONL ``id`` when given; else a stable hash of the URL (web pages, feed entries, JSONL
lines with a ``url``) or of the resolved absolute path (files). A JSONL line with neither ``id`` nor
``url`` gets a hash of the resolved path and the line number, which changes when lines are inserted
above it: give such lines an ``id`` to re-ingest them idempotently after edits.

Canonical text: ``.txt``, ``.md`` and JSONL ``text`` are the input unchanged (strict UTF-8, a BOM
kept); HTML, PDF and feed entries are the extracted text. ``settings.max_file_bytes`` limits each
file, and each line of a JSONL file (a JSONL file is a collection of articles of any total size).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import feedparser
import httpx

from ingest.errors import ConfigError, SourceError
from ingest.extract import (
    Extracted,
    decode_utf8,
    extract_html,
    extract_pdf,
    has_article_text,
    html_to_text,
    iso_date,
    iso_from_struct_time,
    markdown_title,
    split_authors,
)
from ingest.fetch import Fetched, Fetcher, format_size
from ingest.settings import Settings
from ingest.types import Article, LoadFailure, MetaValue, safe_url

logger = logging.getLogger(__name__)

Item = Article | LoadFailure
FILE_KINDS = {
    ".txt": "text",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".jsonl": "jsonl",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}
SIDECAR_SUFFIX = ".meta.json"  # metadata of a .txt/.md file: NAME.txt.meta.json beside NAME.txt
MAX_SIDECAR_BYTES = 64 * 1024
_SIDECAR_FIELDS = frozenset({"title", "published", "source", "url", "authors"})
SHORT_SUMMARY_CHARS = 600  # a feed entry with only a summary shorter than this gets its page fetched
_JSONL_FIELDS = frozenset({"id", "text", "title", "url", "published", "authors", "source"})
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
_FEED_START = re.compile(rb"<(rss|feed|rdf:rdf)[\s>]")
_URL_LIKE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SourceCount:
    """What the sources expand to, for progress reporting: ``total`` units are opened."""

    files: int = 0
    urls: int = 0
    skipped: int = 0  # files in folders with an unsupported extension
    missing: int = 0

    @property
    def total(self) -> int:
        return self.files + self.urls


def iter_articles(sources: Sequence[str], settings: Settings) -> Iterator[Article | LoadFailure]:
    """Expand each source (file, folder recursively, http(s) URL of an article page or an RSS/Atom
    feed) and yield one Article per article found, or a LoadFailure naming the source and the
    reason. Never raises for bad input (ConfigError for bad settings, before anything is read)."""
    with SourceLoader(settings) as loader:
        yield from loader.iter_articles(sources)


def count_sources(sources: Sequence[str]) -> SourceCount:
    """Count the files (explicit, or supported ones in folders) and URLs that would be opened."""
    files = urls = skipped = missing = 0
    for source in sources:
        path = Path(source).expanduser()
        if _URL_LIKE.match(source):
            urls += 1
        elif path.is_dir():
            found, ignored = walk_folder(path)
            files, skipped = files + len(found), skipped + ignored
        elif path.exists():
            files += 1
        else:
            missing += 1
    return SourceCount(files, urls, skipped, missing)


def sidecar_path(path: Path) -> Path:
    """Where the metadata of a text or Markdown file is: ``NAME.txt.meta.json`` beside ``NAME.txt``."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, Any]:
    """The metadata in the sidecar of ``path`` ({} when it has none): a JSON object with any of
    ``title``, ``published``, ``source``, ``url``, ``authors``. SourceError names the sidecar and the
    field for anything else."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    where = str(side)
    try:
        if side.stat().st_size > MAX_SIDECAR_BYTES:
            raise SourceError(where, f"larger than {MAX_SIDECAR_BYTES} bytes: a sidecar holds only metadata")
        record = json.loads(side.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise SourceError(where, f"cannot read file ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(where, f"invalid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise SourceError(where, f"expected a JSON object with {', '.join(sorted(_SIDECAR_FIELDS))}")
    _check_sidecar(where, record)
    return record


def _check_sidecar(where: str, record: dict[str, Any]) -> None:
    unknown = sorted(set(record) - _SIDECAR_FIELDS)
    if unknown:
        known = ", ".join(sorted(_SIDECAR_FIELDS))
        raise SourceError(where, f"unknown field {unknown[0]!r} (a sidecar has {known})")
    url, published = _scalar(record.get("url")), _scalar(record.get("published"))
    if url and safe_url(url) is None:
        raise SourceError(where, f"`url` {url[:100]!r} is not an http(s) URL")
    if published and not _safe_iso(published):
        raise SourceError(where, f"`published` {published[:40]!r} is not an ISO 8601 date like 2024-11-18")


def walk_folder(folder: Path) -> tuple[list[Path], int]:
    """Supported files under ``folder`` (recursive, sorted, hidden files and folders skipped), and
    how many other files were skipped."""
    found: list[Path] = []
    skipped = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            if name.startswith(".") or name.endswith(SIDECAR_SUFFIX):
                continue
            if Path(name).suffix.lower() in FILE_KINDS:
                found.append(Path(root, name))
            else:
                skipped += 1
    return sorted(found), skipped


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


class SourceLoader:
    """Loads sources with one :class:`Fetcher`; use as a context manager (or call ``close()``)."""

    def __init__(self, settings: Settings, fetcher: Fetcher | None = None) -> None:
        if settings.max_file_bytes < 1:
            raise ConfigError(f"max_file_bytes must be positive, got {settings.max_file_bytes}")
        self._max_file_bytes = settings.max_file_bytes
        self._fetcher = fetcher or Fetcher(settings)
        self._file_loaders: dict[str, Callable[[Path, str, bytes], Iterator[Item]]] = {
            "text": self._load_text,
            "markdown": self._load_text,
            "html": self._load_html,
            "pdf": self._load_pdf,
            "feed": self._load_feed_file,
        }

    def __enter__(self) -> SourceLoader:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._fetcher.close()

    def iter_articles(self, sources: Sequence[str]) -> Iterator[Item]:
        """Articles and failures of every source, in order (see :func:`iter_articles`)."""
        for source in sources:
            if _URL_LIKE.match(source.strip()):
                yield from _guarded(source, self._load_url(source.strip()))
                continue
            path = Path(source).expanduser()
            if path.is_dir():
                yield from self._load_folder(path)
            elif path.exists():
                yield from _guarded(source, self._load_file(path, source))
            else:
                yield LoadFailure(source, "no such file or folder")

    # --- files -------------------------------------------------------------------------------

    def _load_folder(self, folder: Path) -> Iterator[Item]:
        found, skipped = walk_folder(folder)
        if skipped:
            logger.info("%s: skipped %d file(s) with unsupported extensions", folder, skipped)
        if not found:
            yield LoadFailure(str(folder), f"no supported files in folder ({skipped} other files skipped)")
        for path in found:
            yield from _guarded(str(path), self._load_file(path, str(path)))

    def _load_file(self, path: Path, origin: str) -> Iterator[Item]:
        kind = FILE_KINDS.get(path.suffix.lower())
        if kind is None:
            supported = ", ".join(FILE_KINDS)
            raise SourceError(
                origin, f"unsupported file type {path.suffix or '(none)'!r} (supported: {supported})"
            )
        if not path.is_file():
            raise SourceError(origin, "not a regular file")
        if kind == "jsonl":
            yield from self._load_jsonl(path, origin)
            return
        data = self._read_file(path, origin)
        if kind != "pdf" and b"\x00" in data:
            raise SourceError(origin, "binary content (NUL bytes) in a text file")
        yield from self._file_loaders[kind](path, origin, data)

    def _read_file(self, path: Path, origin: str) -> bytes:
        """The file's bytes; SourceError if it is empty, too big or unreadable (read at most the limit)."""
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                data = handle.read(self._max_file_bytes + 1) if size <= self._max_file_bytes else b""
        except OSError as exc:
            raise SourceError(origin, f"cannot read file ({exc.strerror or exc})") from exc
        if size > self._max_file_bytes or len(data) > self._max_file_bytes:
            raise SourceError(origin, self._too_big("file", max(size, len(data))))
        if not data:
            raise SourceError(origin, "empty file")
        return data

    def _too_big(self, what: str, size: int) -> str:
        limit = format_size(self._max_file_bytes, trim=True)
        return f"{what} is {format_size(size)}, over the {limit} limit (NEWSDESK_MAX_FILE_BYTES)"

    def _load_text(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        text = decode_utf8(data, origin)
        if not text.strip():
            raise SourceError(origin, "no text (only whitespace)")
        meta = read_sidecar(path)
        title = _scalar(meta.get("title")) or (markdown_title(text) if path.suffix.lower() == ".md" else "")
        url = _scalar(meta.get("url"))
        yield Article(
            doc_id=path_doc_id(path),
            text=text,
            title=title or path.stem,
            url=url,
            published=_safe_iso(_scalar(meta.get("published"))),
            source=_scalar(meta.get("source")) or (host_of(url) if url else ""),
            authors=split_authors(meta.get("authors")),
            origin=origin,
        )

    def _load_html(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        yield _file_article(path, origin, extract_html(data, origin))

    def _load_pdf(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        yield _file_article(path, origin, extract_pdf(data, origin))

    def _load_feed_file(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        yield from self._load_feed(data, origin, base_url=None)

    # --- JSONL -------------------------------------------------------------------------------

    def _load_jsonl(self, path: Path, origin: str) -> Iterator[Item]:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise SourceError(origin, f"cannot read file ({exc.strerror or exc})") from exc
        with handle:
            head = handle.read(8192)
            if not head:
                raise SourceError(origin, "empty file")
            if b"\x00" in head:
                raise SourceError(origin, "binary content (NUL bytes) in a text file")
            handle.seek(0)
            yield from self._jsonl_items(path, origin, handle)

    def _jsonl_items(self, path: Path, origin: str, handle: BinaryIO) -> Iterator[Item]:
        loaded = False
        for number, line in _bounded_lines(handle, self._max_file_bytes):
            where = f"{origin}:{number}"
            if isinstance(line, int):
                yield LoadFailure(where, self._too_big("line", line))
            elif line.strip():
                loaded = True
                line = line.removeprefix(_BOM) if number == 1 else line
                yield _jsonl_item(path, where, number, line.rstrip(b"\r\n"))
        if not loaded:
            yield LoadFailure(origin, "no JSON lines in file (only blank lines)")

    # --- web and feeds -----------------------------------------------------------------------

    def _load_url(self, url: str) -> Iterator[Item]:
        fetched = self._fetcher.fetch(url)
        if _is_feed(fetched):
            yield from self._load_feed(fetched.body, url, base_url=fetched.url)
            return
        extracted = _extract_fetched(url, fetched)
        source = _outlet(extracted.sitename, fetched.url)
        yield _article(url_doc_id(url), url, extracted, url=fetched.url, source=source)

    def _load_feed(self, data: bytes, origin: str, base_url: str | None) -> Iterator[Item]:
        parsed = parse_feed(data, origin, base_url)
        for index, entry in enumerate(parsed.entries, start=1):
            yield self.feed_entry(entry, origin, index, parsed.outlet)

    def feed_entry(self, entry: Mapping[str, Any], feed: str, index: int, outlet: str) -> Item:
        """The article of one entry of :func:`parse_feed` (its linked page fetched when the entry
        carries only a short summary), or a LoadFailure naming the entry."""
        link = entry_link(entry)
        where = link or f"{feed}#entry-{index}"
        try:
            extracted, text_from = self._entry_text(entry, where, link)
        except SourceError as exc:
            return LoadFailure(where, exc.reason)
        except Exception as exc:  # one odd entry must not lose the rest of the feed
            return _unexpected(where, exc)
        ident = str(entry.get("id") or "")
        doc_id = (
            url_doc_id(link) if link else stable_id(f"feed-entry:{ident}" if ident else f"{feed}#{index}")
        )
        source = outlet or _outlet(extracted.sitename, link)
        return _article(
            doc_id, where, extracted, url=link, source=source, extra={"feed": feed, "text_from": text_from}
        )

    def _entry_text(self, entry: Mapping[str, Any], where: str, link: str) -> tuple[Extracted, str]:
        """The entry's text: its content; else its summary, or the linked page when that is short."""
        meta = _entry_metadata(entry)
        content, summary = _entry_texts(entry)
        if has_article_text(content):
            return replace(meta, text=content), "content"
        if not _wants_page(content, summary, link):
            if has_article_text(summary):
                return replace(meta, text=summary), "summary"
            raise SourceError(where, "no article text found")
        try:
            page = self._fetch_article(link)
        except SourceError as exc:
            if not has_article_text(summary):
                raise SourceError(where, f"{exc.reason}; the entry's summary is too short") from exc
            logger.warning("%s: %s; using the feed summary instead", where, exc.reason)
            return replace(meta, text=summary), "summary"
        return _merge(meta, page), "page"

    def _fetch_article(self, url: str) -> Extracted:
        fetched = self._fetcher.fetch(url)
        if _is_feed(fetched):
            raise SourceError(url, "the link is a feed, not an article page")
        return _extract_fetched(url, fetched)


# --- feeds -----------------------------------------------------------------------------------


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
    return _wants_page(*_entry_texts(entry), entry_link(entry))


def _wants_page(content: str, summary: str, link: str) -> bool:
    return bool(link) and not has_article_text(content) and len(summary) < SHORT_SUMMARY_CHARS


def _entry_texts(entry: Mapping[str, Any]) -> tuple[str, str]:
    """The text of the entry's content (all parts) and of its summary."""
    content = "\n\n".join(_entry_html_text(part) for part in entry.get("content") or [])
    summary = _entry_html_text(entry.get("summary_detail") or {"value": entry.get("summary", "")})
    return content, summary


def entry_link(entry: Mapping[str, Any]) -> str:
    """The entry's http(s) link, "" when it has none (a ``urn:`` id is not a link)."""
    link = str(entry.get("link") or "").strip()
    return link if link.lower().startswith(("http://", "https://")) else ""


# --- helpers ---------------------------------------------------------------------------------


def _guarded(origin: str, items: Iterator[Item]) -> Iterator[Item]:
    """``items``, ending with one LoadFailure instead of raising when loading fails."""
    try:
        yield from items
    except SourceError as exc:
        yield LoadFailure(exc.source, exc.reason)
    except Exception as exc:  # a library choking on bad input must not stop the other sources
        yield _unexpected(origin, exc)


def _unexpected(origin: str, exc: Exception) -> LoadFailure:
    logger.error("unexpected error while loading %s", origin, exc_info=exc)
    return LoadFailure(origin, f"unexpected error ({type(exc).__name__}: {exc})")


def _bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | int]]:
    """(line number, line) for each line, or (line number, size) for a line over ``limit`` bytes,
    which is skipped without being held in memory."""
    number = 0
    while chunk := handle.readline(limit + 1):
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            size = len(chunk)
            while chunk and not chunk.endswith(b"\n"):
                chunk = handle.readline(1 << 20)
                size += len(chunk)
            yield number, size
        else:
            yield number, chunk


def _jsonl_item(path: Path, where: str, number: int, line: bytes) -> Item:
    try:
        record = json.loads(decode_utf8(line, where))
    except SourceError as exc:
        return LoadFailure(where, exc.reason)
    except json.JSONDecodeError as exc:
        return LoadFailure(where, f"invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(record, dict):
        return LoadFailure(where, f"expected a JSON object, got {type(record).__name__}")
    text = record.get("text")
    if not isinstance(text, str):
        return LoadFailure(where, "no `text` field" if text is None else "`text` is not a string")
    if not text.strip():
        return LoadFailure(where, "empty `text`")
    url = _scalar(record.get("url"))
    if url and safe_url(url) is None:
        return LoadFailure(where, f"`url` {url[:100]!r} is not an http(s) URL")
    return _jsonl_article(record, text, path, where, number)


def _jsonl_article(record: dict[str, Any], text: str, path: Path, where: str, number: int) -> Article:
    url = _scalar(record.get("url"))
    doc_id = _scalar(record.get("id")) or (url_doc_id(url) if url else path_doc_id(path, number))
    extra = {k: v for k, v in record.items() if k not in _JSONL_FIELDS and _is_meta_value(v)}
    published_raw = _scalar(record.get("published"))
    published = _safe_iso(published_raw)
    if published_raw and not published:
        logger.warning("%s: unrecognised published date %r", where, published_raw)
        extra["published_raw"] = published_raw
    return Article(
        doc_id=doc_id,
        text=text,
        title=_scalar(record.get("title")),
        url=url,
        published=published,
        source=_scalar(record.get("source")) or (host_of(url) if url else ""),
        authors=split_authors(record.get("authors")),
        origin=where,
        extra=extra,
    )


def _outlet(sitename: str, url: str) -> str:
    """The site name, or the URL's host when there is none (trafilatura falls back to host:port)."""
    host = host_of(url)
    try:
        netloc = httpx.URL(url).netloc.decode("ascii").lower().removeprefix("www.")
    except (httpx.InvalidURL, TypeError, ValueError):
        netloc = host
    if not sitename or sitename.lower().removeprefix("www.") in (host, netloc):
        return host
    return sitename


def _is_meta_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _scalar(value: Any) -> str:
    """A scalar JSON value as stripped text; "" for null, lists and objects."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    return ""


def _safe_iso(value: str) -> str:
    try:
        return iso_date(value) if value else ""
    except ValueError:
        return ""


def _file_article(path: Path, origin: str, extracted: Extracted) -> Article:
    titled = replace(extracted, title=extracted.title or path.stem)
    return _article(path_doc_id(path), origin, titled, source=extracted.sitename)


def _article(
    doc_id: str,
    origin: str,
    extracted: Extracted,
    url: str = "",
    source: str = "",
    extra: Mapping[str, MetaValue] | None = None,
) -> Article:
    return Article(
        doc_id=doc_id,
        text=extracted.text,
        title=extracted.title,
        url=url,
        published=extracted.published,
        source=source,
        authors=extracted.authors,
        origin=origin,
        extra=dict(extra or {}),
    )


def _is_feed(fetched: Fetched) -> bool:
    """True for feed media types, generic XML, and HTML or untyped bodies that start as a feed."""
    if fetched.content_type in _FEED_TYPES or fetched.content_type in ("application/xml", "text/xml"):
        return True
    if fetched.content_type not in ("", "text/html"):
        return False
    return bool(_FEED_START.search(fetched.body[:2048].lower()))


def _extract_fetched(origin: str, fetched: Fetched) -> Extracted:
    """Text and metadata of a fetched page, PDF or plain text."""
    if fetched.content_type == "application/pdf" or fetched.body.startswith(b"%PDF-"):
        return extract_pdf(fetched.body, origin)
    if fetched.content_type != "text/plain":
        return extract_html(fetched.body, origin, url=fetched.url)
    try:
        text = fetched.body.decode(fetched.charset or "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(origin, f"cannot decode text as {fetched.charset or 'utf-8'} ({exc})") from exc
    if not has_article_text(text):
        raise SourceError(origin, "no article text found")
    return Extracted(text=text)


def _entry_metadata(entry: Mapping[str, Any]) -> Extracted:
    authors = [a.get("name", "") for a in entry.get("authors") or [] if isinstance(a, Mapping)]
    published = iso_from_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
    return Extracted(
        text="",
        title=str(entry.get("title") or "").strip(),
        published=published,
        authors=split_authors(authors or entry.get("author")),
    )


def _entry_html_text(detail: Mapping[str, Any]) -> str:
    """Text of a feed content or summary item (HTML converted, plain text kept)."""
    value = str(detail.get("value") or "")
    return value.strip() if detail.get("type") == "text/plain" else html_to_text(value)


def _merge(first: Extracted, second: Extracted) -> Extracted:
    """``second``'s text, and each metadata field from ``first`` when it has it, else ``second``."""
    return Extracted(
        text=second.text,
        title=first.title or second.title,
        published=first.published or second.published,
        sitename=first.sitename or second.sitename,
        authors=first.authors or second.authors,
    )
