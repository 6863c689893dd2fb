"""Files: the file kinds, ``.meta.json`` sidecars of text files, folder walks and JSONL lines
(each line an article; ``settings.max_file_bytes`` limits each line).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from assistant.core.errors import SourceError
from assistant.core.types import Article, LoadFailure, safe_url
from ingest.loading.articles import (
    Item,
    host_of,
    is_meta_value,
    path_doc_id,
    scalar_text,
    url_doc_id,
)
from ingest.loading.dates import safe_iso
from ingest.loading.extract import (
    decode_utf8,
    split_authors,
)

ARCHIVE_SUFFIXES = (".warc.gz", ".warc", ".arc.gz", ".arc")  # web archives: ingest/loading/warc.py

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

logger = logging.getLogger(__name__)


SIDECAR_SUFFIX = ".meta.json"  # metadata of a .txt/.md file: NAME.txt.meta.json beside NAME.txt


MAX_SIDECAR_BYTES = 64 * 1024


SIDECAR_FIELDS = frozenset({"title", "published", "source", "url", "authors"})


JSONL_FIELDS = frozenset({"id", "text", "title", "url", "published", "authors", "source"})


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
        raise SourceError(where, f"expected a JSON object with {', '.join(sorted(SIDECAR_FIELDS))}")
    check_sidecar(where, record)
    return record


def check_sidecar(where: str, record: dict[str, Any]) -> None:
    unknown = sorted(set(record) - SIDECAR_FIELDS)
    if unknown:
        known = ", ".join(sorted(SIDECAR_FIELDS))
        raise SourceError(where, f"unknown field {unknown[0]!r} (a sidecar has {known})")
    url, published = scalar_text(record.get("url")), scalar_text(record.get("published"))
    if url and safe_url(url) is None:
        raise SourceError(where, f"`url` {url[:100]!r} is not an http(s) URL")
    if published and not safe_iso(published):
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
            if Path(name).suffix.lower() in FILE_KINDS or name.lower().endswith(ARCHIVE_SUFFIXES):
                found.append(Path(root, name))
            else:
                skipped += 1
    return sorted(found), skipped


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | int]]:
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


def jsonl_item(path: Path, where: str, number: int, line: bytes) -> Item:
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
    url = scalar_text(record.get("url"))
    if url and safe_url(url) is None:
        return LoadFailure(where, f"`url` {url[:100]!r} is not an http(s) URL")
    return jsonl_article(record, text, path, where, number)


def jsonl_article(record: dict[str, Any], text: str, path: Path, where: str, number: int) -> Article:
    url = scalar_text(record.get("url"))
    doc_id = scalar_text(record.get("id")) or (url_doc_id(url) if url else path_doc_id(path, number))
    extra = {k: v for k, v in record.items() if k not in JSONL_FIELDS and is_meta_value(v)}
    published_raw = scalar_text(record.get("published"))
    published = safe_iso(published_raw)
    if published_raw and not published:
        logger.warning("%s: unrecognised published date %r", where, published_raw)
        extra["published_raw"] = published_raw
    return Article(
        doc_id=doc_id,
        text=text,
        title=scalar_text(record.get("title")),
        url=url,
        published=published,
        source=scalar_text(record.get("source")) or (host_of(url) if url else ""),
        authors=split_authors(record.get("authors")),
        origin=where,
        extra=extra,
    )
