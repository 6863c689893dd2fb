"""Uploads for ``POST /api/ingest``: files streamed to a private temp folder, JSON documents.

Files are written, as they arrive, into a fresh folder under the upload area (``upload_dir``,
default ``uploads/`` beside the store), with sanitized names and per-file size and count limits,
then loaded with the same loaders as ``newsdesk ingest`` and removed. An uploaded file's doc_id is
a hash of its sanitized name (``upload:NAME``), so uploading the same file name again updates the
article instead of adding a copy. JSON documents have the fields of a JSONL line; one with neither
``id`` nor ``url`` gets a hash of its text as doc_id.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import BaseModel, ConfigDict, Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from assistant.core.errors import UploadError, UploadTooLargeError, UploadTypeError
from assistant.core.settings import Settings
from assistant.core.types import Article, LoadFailure
from ingest.loading.articles import path_doc_id, stable_id
from ingest.loading.files import FILE_KINDS
from ingest.loading.sources import iter_articles

MAX_NAME_CHARS = 100
MAX_FIELD_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class IngestDocument(BaseModel):
    """One article to ingest: the fields of a line of a JSONL file."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, description="doc_id; default: hash of url, else hash of text")
    text: str = Field(..., min_length=1, description="the canonical text (cited by offsets)")
    title: str = ""
    url: str = ""
    published: str = Field("", description="ISO 8601 date or date-time")
    source: str = Field("", description="outlet; default: the url's host")
    authors: list[str] | str = Field(default_factory=list)


@dataclass(frozen=True)
class SavedUpload:
    """An uploaded file on disk under its sanitized name."""

    name: str
    path: Path


@dataclass
class LoadedUploads:
    """Articles read from uploads, and the uploads (or lines) that gave none."""

    articles: list[Article] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)


def sanitize_filename(raw: str) -> str:
    """A safe base name for an uploaded file: no folders, only ``[A-Za-z0-9._-]``, a known extension."""
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    suffix = Path(base).suffix.lower()
    shown = raw[:MAX_NAME_CHARS]
    if suffix not in FILE_KINDS:
        supported = ", ".join(FILE_KINDS)
        raise UploadTypeError(f"file {shown!r}: type {suffix or '(none)'!r} not accepted ({supported})")
    stem = _UNSAFE.sub("_", base[: len(base) - len(suffix)]).strip("._-")
    if not stem:
        raise UploadError(f"file {shown!r}: the name has no usable characters")
    return stem[: MAX_NAME_CHARS - len(suffix)] + suffix


class UploadArea:
    """A fresh private folder for one request's uploads, removed on exit."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.upload_dir or settings.store_dir.parent / "uploads"
        self.folder = Path()

    def __enter__(self) -> UploadArea:
        self.root.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="upload-", dir=self.root))
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def write_documents(self, documents: Sequence[IngestDocument]) -> SavedUpload:
        """The documents as one JSONL file (each with an id unless it has a url)."""
        path = self.folder / "documents.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for doc in documents:
                record = doc.model_dump()
                if not (doc.id or doc.url):
                    record["id"] = stable_id(f"text:{doc.text}")
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return SavedUpload("documents.jsonl", path)


class MultipartSaver:
    """Streams a ``multipart/form-data`` body into a folder, enforcing count and size limits."""

    def __init__(self, folder: Path, content_type: str, max_files: int, max_file_bytes: int) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadError("expected a multipart/form-data body with a boundary")
        self.folder, self.max_files, self.max_file_bytes = folder, max_files, max_file_bytes
        self.saved: list[SavedUpload] = []
        self._headers: dict[bytes, bytes] = {}
        self._field: list[bytes] = []
        self._value: list[bytes] = []
        self._out: IO[bytes] | None = None
        self._written = 0
        self._current: SavedUpload | None = None
        self._parser = MultipartParser(boundary, self._callbacks())  # type: ignore[arg-type]

    def _callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._headers.clear,
            "on_header_field": lambda d, s, e: self._field.append(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.append(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._open_part,
            "on_part_data": lambda d, s, e: self._write(d[s:e]),
            "on_part_end": self._close_part,
        }

    async def save(self, chunks: AsyncIterator[bytes]) -> list[SavedUpload]:
        try:
            async for chunk in chunks:
                self._parser.write(chunk)
            self._parser.finalize()
        except MultipartParseError as exc:
            raise UploadError(f"malformed multipart/form-data body ({exc})") from exc
        finally:
            self._close_file()
        if not self.saved:
            raise UploadError("no files in the upload (send them as multipart form fields with a filename)")
        return self.saved

    def _header_end(self) -> None:
        self._headers[b"".join(self._field).lower()] = b"".join(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _open_part(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        self._written = 0
        if filename is None:
            self._current = None  # a plain form field: counted, ignored
            return
        if len(self.saved) >= self.max_files:
            raise UploadTooLargeError(f"more than {self.max_files} files in one upload")
        name = sanitize_filename(filename.decode("utf-8", "replace"))
        if any(item.name == name for item in self.saved):
            name = f"{len(self.saved) + 1}-{name}"
        self._current = SavedUpload(name, self.folder / name)
        self._out = self._current.path.open("xb")

    def _write(self, data: bytes) -> None:
        self._written += len(data)
        limit = self.max_file_bytes if self._current else MAX_FIELD_BYTES
        if self._written > limit:
            what = f"file {self._current.name!r}" if self._current else "a form field"
            raise UploadTooLargeError(f"{what} is larger than the {limit} byte limit")
        if self._out is not None:
            self._out.write(data)

    def _close_part(self) -> None:
        if self._current is not None:
            self._close_file()
            self.saved.append(self._current)
            self._current = None

    def _close_file(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def load_uploads(uploads: Sequence[SavedUpload], settings: Settings) -> LoadedUploads:
    """Articles from the saved files, with doc_ids, origins and metadata (a feed item's ``feed``)
    naming the uploads, never the server's temporary paths."""
    loaded = LoadedUploads()
    by_path = {str(upload.path): upload for upload in uploads}
    for item in iter_articles(list(by_path), settings.ingest, settings.server):
        if isinstance(item, LoadFailure):
            loaded.failures.append(LoadFailure(_rename(item.source, by_path), item.error))
        elif isinstance(item, Article):  # (a web archive's skipped captures: no upload is one)
            loaded.articles.append(_renamed_article(item, by_path))
    return loaded


def _owner(origin: str, by_path: dict[str, SavedUpload]) -> tuple[str, SavedUpload] | None:
    for path, upload in by_path.items():
        if origin == path or origin.startswith((path + ":", path + "#")):
            return path, upload
    return None


def _rename(origin: str, by_path: dict[str, SavedUpload]) -> str:
    owner = _owner(origin, by_path)
    return origin if owner is None else owner[1].name + origin[len(owner[0]) :]


def _renamed_article(article: Article, by_path: dict[str, SavedUpload]) -> Article:
    owner = _owner(article.origin, by_path)
    if owner is None:
        return article
    path, upload = owner
    origin = upload.name + article.origin[len(path) :]
    line = article.origin[len(path) + 1 :]
    path_id = path_doc_id(upload.path, int(line)) if line.isdigit() else path_doc_id(upload.path)
    doc_id = stable_id(f"upload:{origin}") if article.doc_id == path_id else article.doc_id
    extra = {k: _rename(v, by_path) if isinstance(v, str) else v for k, v in article.extra.items()}
    return replace(article, doc_id=doc_id, origin=origin, extra=extra)
