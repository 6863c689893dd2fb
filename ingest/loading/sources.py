"""Loading articles from sources: files, folders, web archives (WARC/ARC: ingest/loading/warc.py),
http(s) URLs of pages and RSS/Atom feeds.

:func:`iter_articles` expands each source and yields one :class:`Article` per article found, or a
:class:`LoadFailure` naming the source (a path, ``path:LINE`` for JSONL lines, a URL, a feed
entry's URL) and the reason. Bad input never raises out of it.

doc_id: the JSONL ``id`` when given; else a stable hash of the URL (web pages, feed entries, JSONL
lines with a ``url``) or of the resolved absolute path (files). A JSONL line with neither ``id`` nor
``url`` gets a hash of the resolved path and the line number, which changes when lines are inserted
above it: give such lines an ``id`` to re-ingest them idempotently after edits.

Canonical text: ``.txt``, ``.md`` and JSONL ``text`` are the input unchanged (strict UTF-8, a BOM
kept); HTML, PDF and feed entries are the extracted text. ``settings.max_file_bytes`` limits each
file, and each line of a JSONL file (a JSONL file is a collection of articles of any total size);
``max_article_chars`` each article's text, ``max_pdf_pages`` and ``extract_timeout_s`` the work of
extracting one file or page (ingest/loading/extract.py). Over a limit, only that file (or line, or
entry) fails, with the limit named; the other sources load.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from assistant.core.errors import SourceError
from assistant.core.sections import IngestSettings, ServerSettings
from assistant.core.types import Article, LoadFailure, MetaValue
from ingest.loading.articles import (
    Item,
    StoredLookup,
    file_article,
    host_of,
    make_article,
    merge_extracted,
    outlet_name,
    path_doc_id,
    scalar_text,
    stable_id,
    url_doc_id,
    within_limits,
)
from ingest.loading.dates import safe_iso
from ingest.loading.extract import (
    Extracted,
    ExtractLimits,
    decode_utf8,
    extract_html,
    extract_pdf,
    has_article_text,
    markdown_title,
    split_authors,
)
from ingest.loading.feed_entries import (
    entry_link,
    entry_metadata,
    entry_texts,
    is_feed,
    page_wanted,
    parse_feed,
)
from ingest.loading.fetch import Fetched, Fetcher, format_size
from ingest.loading.files import (
    ARCHIVE_SUFFIXES,
    FILE_KINDS,
    bounded_lines,
    jsonl_item,
    read_sidecar,
    walk_folder,
)
from ingest.loading.warc import ArchiveReader, Meter, is_archive

Meters = Callable[[str, int], Meter]
"""A meter for one file (its name and size in bytes): how the pipeline shows WARC progress by bytes."""

logger = logging.getLogger(__name__)

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


def iter_articles(
    sources: Sequence[str],
    settings: IngestSettings,
    server: ServerSettings,
    stored: StoredLookup | None = None,
    meters: Meters | None = None,
) -> Iterator[Item]:
    """Expand each source (file, folder recursively, WARC/ARC file, http(s) URL of an article page
    or an RSS/Atom feed) and yield one Article per article found, a Skipped for each capture of a
    web archive that is no article (ingest/loading/warc.py), or a LoadFailure naming the source and
    the reason. Never raises for bad input (ConfigError for bad settings, before anything is read).
    ``server`` is where this Newsdesk serves: never fetched (ingest/loading/fetch.py); ``stored``
    lets a web archive's capture that is stored already be skipped before it is extracted;
    ``meters`` gives a meter of bytes read for each web archive."""
    with SourceLoader(settings, server, stored=stored, meters=meters) as loader:
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


class SourceLoader:
    """Loads sources with one :class:`Fetcher`; use as a context manager (or call ``close()``)."""

    def __init__(
        self,
        settings: IngestSettings,
        server: ServerSettings,
        fetcher: Fetcher | None = None,
        stored: StoredLookup | None = None,
        meters: Meters | None = None,
    ) -> None:
        self._max_file_bytes = settings.max_file_bytes
        self._limits = ExtractLimits.of(settings)
        self._fetcher = fetcher or Fetcher(settings, server)
        self._archives = ArchiveReader(settings, stored)
        self._meters = meters
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
        """Articles and failures of every source, in order (see :func:`iter_articles`); an article
        over ``max_article_chars`` is a failure, dropped here before anything holds on to it."""
        for item in self._iter_items(sources):
            yield within_limits(item, self._limits.max_chars)

    def _iter_items(self, sources: Sequence[str]) -> Iterator[Item]:
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
        if is_archive(path) and path.is_file():  # read as a stream of records, of any total size
            meter = self._meters(path.name, path.stat().st_size) if self._meters else None
            yield from self._archives.read(path, origin, meter)
            return
        kind = FILE_KINDS.get(path.suffix.lower())
        if kind is None:
            supported = ", ".join([*FILE_KINDS, *ARCHIVE_SUFFIXES])
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
        title = scalar_text(meta.get("title")) or (
            markdown_title(text) if path.suffix.lower() == ".md" else ""
        )
        url = scalar_text(meta.get("url"))
        yield Article(
            doc_id=path_doc_id(path),
            text=text,
            title=title or path.stem,
            url=url,
            published=safe_iso(scalar_text(meta.get("published"))),
            source=scalar_text(meta.get("source")) or (host_of(url) if url else ""),
            authors=split_authors(meta.get("authors")),
            origin=origin,
        )

    def _load_html(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        yield file_article(path, origin, extract_html(data, origin, limits=self._limits))

    def _load_pdf(self, path: Path, origin: str, data: bytes) -> Iterator[Item]:
        yield file_article(path, origin, extract_pdf(data, origin, self._limits))

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
        for number, line in bounded_lines(handle, self._max_file_bytes):
            where = f"{origin}:{number}"
            if isinstance(line, int):
                yield LoadFailure(where, self._too_big("line", line))
            elif line.strip():
                loaded = True
                line = line.removeprefix(_BOM) if number == 1 else line
                yield jsonl_item(path, where, number, line.rstrip(b"\r\n"))
        if not loaded:
            yield LoadFailure(origin, "no JSON lines in file (only blank lines)")

    # --- web and feeds -----------------------------------------------------------------------

    def _load_url(self, url: str) -> Iterator[Item]:
        fetched = self._fetcher.fetch(url)
        if is_feed(fetched):
            yield from self._load_feed(fetched.body, url, base_url=fetched.url)
            return
        extracted = _extract_fetched(url, fetched, self._limits)
        source = outlet_name(extracted.sitename, fetched.url)
        yield make_article(url_doc_id(url), url, extracted, url=fetched.url, source=source)

    def _load_feed(self, data: bytes, origin: str, base_url: str | None) -> Iterator[Item]:
        parsed = parse_feed(data, origin, base_url)
        for index, entry in enumerate(parsed.entries, start=1):
            yield self.feed_entry(entry, origin, index, parsed.outlet)

    def feed_entry(
        self, entry: Mapping[str, Any], feed: str, index: int, outlet: str
    ) -> Article | LoadFailure:
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
        source = outlet or outlet_name(extracted.sitename, link)
        extra: dict[str, MetaValue] = {"feed": feed, "text_from": text_from}
        article = make_article(doc_id, where, extracted, url=link, source=source, extra=extra)
        return within_limits(article, self._limits.max_chars)

    def _entry_text(self, entry: Mapping[str, Any], where: str, link: str) -> tuple[Extracted, str]:
        """The entry's text: its content; else its summary, or the linked page when that is short."""
        meta = entry_metadata(entry)
        content, summary = entry_texts(entry)
        if has_article_text(content):
            return replace(meta, text=content), "content"
        if not page_wanted(content, summary, link):
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
        return merge_extracted(meta, page), "page"

    def _fetch_article(self, url: str) -> Extracted:
        fetched = self._fetcher.fetch(url)
        if is_feed(fetched):
            raise SourceError(url, "the link is a feed, not an article page")
        return _extract_fetched(url, fetched, self._limits)


# --- feeds -----------------------------------------------------------------------------------


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


def _extract_fetched(origin: str, fetched: Fetched, limits: ExtractLimits) -> Extracted:
    """Text and metadata of a fetched page, PDF or plain text."""
    if fetched.content_type == "application/pdf" or fetched.body.startswith(b"%PDF-"):
        return extract_pdf(fetched.body, origin, limits)
    if fetched.content_type != "text/plain":
        return extract_html(fetched.body, origin, url=fetched.url, limits=limits)
    try:
        text = fetched.body.decode(fetched.charset or "utf-8")
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(origin, f"cannot decode text as {fetched.charset or 'utf-8'} ({exc})") from exc
    if not has_article_text(text):
        raise SourceError(origin, "no article text found")
    return Extracted(text=text)
