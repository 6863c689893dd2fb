"""Web archives: the HTML articles of a WARC or ARC file (``.warc``, ``.warc.gz``, ``.arc``, ``.arc.gz``).

A file is read once, as a stream of records (warcio's ``ArchiveIterator``; ARC records are read as
WARC ones), one record in memory at a time, so a file of many gigabytes takes no more memory
than its largest page; ``meter`` is told how many bytes of the file were read after each record.

Each ``response`` capture of an http(s) URL becomes, in file order: a :class:`Skipped` with its
reason when it is no article (a redirect, an HTTP error, another media type, a page the rule of
ingest/loading/page_kind.py finds is no article, a ``revisit`` record, a capture no newer than the
stored version); a :class:`LoadFailure` when its page is over ``max_file_bytes``, cannot be decoded
or extracted; else an :class:`Article` with doc_id :func:`url_doc_id` of its target URL (the same
doc_id as the page fetched by URL, from a feed or from a sitemap), that URL, the capture's date as
``captured`` (``x_captured`` when stored), and as ``published`` the page's own date when it states
one, else the capture's. Several captures of one URL are several articles of one doc_id: the
pipeline stores them, in capture order, as versions of one article. Other records (``warcinfo``,
``request``, ``metadata``, ``resource``) are not pages and are passed over.

A record that ends before its declared length (a truncated file) or that cannot be read (a corrupt
gzip member) ends the file with an :class:`ArchiveError` naming the file and the record's byte
offset (in the file as it is on disk, compressed or not); every record before it was given out.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataException

from assistant.core.errors import ArchiveError, SourceError
from assistant.core.sections import IngestSettings
from assistant.core.types import LoadFailure, Skipped
from ingest.loading.articles import Item, StoredLookup, make_article, outlet_name, url_doc_id
from ingest.loading.dates import safe_iso, timestamp
from ingest.loading.extract import ExtractLimits, read_page
from ingest.loading.fetch import format_size
from ingest.loading.files import ARCHIVE_SUFFIXES
from ingest.loading.page_kind import (
    ALREADY_STORED,
    HTML_TYPES,
    NOT_HTML,
    OLDER_VERSION,
    ArticleRule,
    skip_reason,
    status_reason,
)

REVISIT = "revisit (the payload of an earlier capture)"
_CHUNK = 1 << 16

logger = logging.getLogger(__name__)

Meter = Callable[[int], None]
"""Told the bytes of a file read so far."""


def is_archive(path: Path) -> bool:
    """True for a WARC or ARC file, compressed or not (by its name)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


class ArchiveReader:
    """Reads the articles of WARC and ARC files with the limits and the article rule of the settings."""

    def __init__(self, settings: IngestSettings, stored: StoredLookup | None = None) -> None:
        self._max_bytes = settings.max_file_bytes
        self._limits = ExtractLimits.of(settings)
        self._rule = ArticleRule.of(settings)
        self._stored = stored

    def read(self, path: Path, origin: str, meter: Meter | None = None) -> Iterator[Item]:
        """The items of the file, in order (see the module doc); ArchiveError ends them."""
        size = path.stat().st_size
        if not size:
            raise SourceError(origin, "empty file")
        with path.open("rb") as handle:
            records = ArchiveIterator(handle, arc2warc=True)
            stream = iter(records)
            for number in count():
                with _quiet(origin):
                    done, item = self._next(stream, records, origin, number)
                if done:
                    break
                if item is not None:
                    yield item
                if meter is not None:
                    meter(handle.tell())
            end = records.offset
        if end < size:
            raise ArchiveError(origin, end, f"truncated or corrupt data ({size - end:,} bytes left unread)")

    def _next(
        self, stream: Iterator[Any], records: Any, origin: str, number: int
    ) -> tuple[bool, Item | None]:
        """(True, None) at the end of the file, else (False, the item of the next record or None)."""
        try:
            record = next(stream, None)
            if record is None:
                return True, None
            return False, self._record(record, origin, records.offset)
        except ArchiveError:
            raise
        except Exception as exc:  # warcio's and zlib's errors on a damaged file
            if not number:
                raise SourceError(origin, f"not a WARC or ARC file ({_brief(exc)})") from exc
            problem = f"truncated or corrupt record ({_brief(exc)})"
            raise ArchiveError(origin, records.offset, problem) from exc

    def _record(self, record: Any, origin: str, offset: int) -> Item | None:
        """The item of one record (None for records that are no capture), its whole block read."""
        length = str(record.rec_headers.get_header("Content-Length") or "").strip()
        if not hasattr(record.raw_stream, "limit") or not length.isdigit():  # headers cut off or garbled
            raise ArchiveError(origin, offset, "truncated or corrupt record (its headers are unreadable)")
        kind = record.rec_type
        if kind not in ("response", "revisit"):
            _drain(record, origin, offset)
            return None
        url = str(record.rec_headers.get_header("WARC-Target-URI") or "").strip()
        where = f"{origin}@{offset}"
        named = f"{url} ({where})"
        captured = safe_iso(record.rec_headers.get_header("WARC-Date"))
        reason = self._reason_before_reading(record, kind, url, captured)
        if reason is not None:
            _drain(record, origin, offset)
            return Skipped(named, reason)
        try:
            body = self._payload(record, named)
        except SourceError as exc:
            _drain(record, origin, offset)
            return LoadFailure(exc.source, exc.reason)
        _drain(record, origin, offset)
        return self._article(body, url, where, named, captured)

    def _reason_before_reading(self, record: Any, kind: str, url: str, captured: str) -> str | None:
        """Why the capture is skipped before its payload is read, or None."""
        if kind == "revisit":
            return REVISIT
        http = record.http_headers
        if http is None or not url.lower().startswith(("http://", "https://")):
            return NOT_HTML
        status = int(http.get_statuscode()) if http.get_statuscode().isdigit() else 0
        reason = status_reason(status)
        if reason is not None:
            return reason
        media = str(http.get_header("Content-Type") or "").split(";")[0].strip().lower()
        if media and media not in HTML_TYPES:
            return NOT_HTML
        return self._stored_reason(url, captured)

    def _stored_reason(self, url: str, captured: str) -> str | None:
        """``already stored`` / ``older than the stored version`` when the store holds this URL from a
        capture as new as this one or newer (nothing to extract), else None."""
        if self._stored is None or not captured:
            return None
        doc_id = url_doc_id(url)
        stored = timestamp(str(self._stored([doc_id]).get(doc_id, {}).get("x_captured", "")))
        this = timestamp(captured)
        if stored is None or this is None or stored < this:
            return None
        return ALREADY_STORED if stored == this else OLDER_VERSION

    def _payload(self, record: Any, named: str) -> bytes:
        """The HTTP payload (dechunked, decompressed), at most ``max_file_bytes``; SourceError else."""
        try:
            body = bytes(record.content_stream().read(self._max_bytes + 1))
        except (ChunkedDataException, zlib.error, ValueError, OSError) as exc:
            raise SourceError(named, f"cannot decode the captured page ({_brief(exc)})") from exc
        if len(body) > self._max_bytes:
            limit = format_size(self._max_bytes, trim=True)
            raise SourceError(named, f"captured page is over the {limit} limit (NEWSDESK_MAX_FILE_BYTES)")
        return body

    def _article(self, body: bytes, url: str, where: str, named: str, captured: str) -> Item:
        if b"<" not in body[:2048]:
            return Skipped(named, NOT_HTML)  # no markup: an untyped capture that is no page
        try:
            page = read_page(body, named, url, self._limits)
        except SourceError as exc:
            return LoadFailure(exc.source, exc.reason)
        reason = skip_reason(page, url, self._rule)
        if reason is not None:
            return Skipped(named, reason)
        extracted = replace(page.extracted, published=page.extracted.published or captured)
        source = outlet_name(extracted.sitename, url)
        extra = {"captured": captured} if captured else {}
        return make_article(url_doc_id(url), where, extracted, url=url, source=source, extra=extra)


def _drain(record: Any, origin: str, offset: int) -> None:
    """Read the rest of the record's block; ArchiveError when the file ends before its declared
    length (a truncated record)."""
    stream = record.raw_stream
    while stream.read(_CHUNK):
        pass
    missing = getattr(stream, "limit", 0)
    if missing > 0:
        raise ArchiveError(origin, offset, f"truncated record (the file ends {missing:,} bytes short of it)")


def _brief(exc: Exception) -> str:
    """An exception as a short line of plain text (warcio quotes the bytes it could not parse)."""
    text = " ".join(str(exc).split()).split(", first line")[0]
    plain = "".join(char if char.isascii() and char.isprintable() else "?" for char in text)
    return f"{type(exc).__name__}: {plain[:120]}"


@contextmanager
def _quiet(origin: str) -> Iterator[None]:
    """warcio prints what it finds odd (a record not followed by a blank line; a zlib error, which it
    then takes for the end of the data) on stdout and stderr, where it would break ``--json`` output
    and the progress bars: it is logged instead."""
    said = io.StringIO()
    try:
        with redirect_stdout(said), redirect_stderr(said):
            yield
    finally:
        if said.getvalue().strip():
            logger.warning("%s: warcio says: %s", origin, " ".join(said.getvalue().split())[:300])
