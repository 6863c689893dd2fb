"""Named archives: several stores on one server, each a Chroma collection with its own lexical
index, feeds and statistics (issue 28).

The default archive is the configured store exactly (nothing moves for a single-archive install).
A named archive's store is derived from it (:meth:`ArchiveRegistry.location`):

- embedded: a folder of its own under the store folder, ``<store_dir>/archives/<name>/`` (the same
  collection name inside; with ``lexical_dir`` set, its index in ``<lexical_dir>/archives/<name>/``);
- Chroma server: the collection ``<collection>--<name>`` (its lexical index beside the default's,
  a folder per collection).

The names live in ``<store_dir>/archives.json``, written atomically under a lock, so the CLI and
a server agree; a server re-reads it when it meets a name it does not know.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from assistant.core.errors import (
    ArchiveExistsError,
    ArchiveNameError,
    ArchiveNotFoundError,
    NamedArchiveError,
    StoreError,
    StoreLockedError,
)
from assistant.core.sections import StoreSettings

DEFAULT_ARCHIVE = "default"
NAME_RE = re.compile(r"[a-z0-9-]{1,40}")
REGISTRY_FILE = "archives.json"
REGISTRY_LOCK = ".newsdesk-archives.lock"  # '.newsdesk-*': backups skip it
ARCHIVES_FOLDER = "archives"
SERVER_SEPARATOR = "--"


def check_name(name: str) -> str:
    """The name, if it is 1-40 lowercase letters, digits and hyphens; else ArchiveNameError."""
    if not NAME_RE.fullmatch(name):
        raise ArchiveNameError(name, "must be 1-40 lowercase letters, digits or hyphens")
    return name


@dataclass(frozen=True)
class ArchiveInfo:
    """An archive as listed: its name, when it was created (empty for the default) and where it is."""

    name: str
    created_at: str
    location: str

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_ARCHIVE

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": self.created_at,
            "location": self.location,
            "default": self.is_default,
        }


class ArchiveRegistry:
    """The named archives of the configured store (``settings``: the default archive's)."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.folder = Path(settings.store_dir)
        self.path = self.folder / REGISTRY_FILE

    # --- where each archive lives -----------------------------------------------------------
    def location(self, name: str) -> dict[str, Any]:
        """The store settings that differ for archive ``name`` (none for the default), to update
        the settings with (``settings.model_copy(update=...)``)."""
        if check_name(name) == DEFAULT_ARCHIVE:
            return {}
        if self.settings.uses_server:
            return {"collection": f"{self.settings.collection}{SERVER_SEPARATOR}{name}"}
        lexical = self.settings.lexical_dir
        return {
            "store_dir": self.folder / ARCHIVES_FOLDER / name,
            "lexical_dir": None if lexical is None else Path(lexical) / ARCHIVES_FOLDER / name,
        }

    def store_settings(self, name: str) -> StoreSettings:
        """The store section of archive ``name``."""
        return self.settings.model_copy(update=self.location(name))

    def where(self, name: str) -> str:
        """Where archive ``name`` is, in words: its folder or its collection."""
        store = self.store_settings(name)
        return f"collection {store.collection}" if store.uses_server else str(store.store_dir)

    # --- the registry -----------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every archive's name, the default first."""
        return [DEFAULT_ARCHIVE, *sorted(self._read())]

    def listed(self) -> list[ArchiveInfo]:
        read = self._read()
        default = ArchiveInfo(DEFAULT_ARCHIVE, "", self.where(DEFAULT_ARCHIVE))
        return [
            default,
            *(ArchiveInfo(n, read[n].get("created_at", ""), self.where(n)) for n in sorted(read)),
        ]

    def exists(self, name: str) -> bool:
        return check_name(name) == DEFAULT_ARCHIVE or name in self._read()

    def require(self, name: str) -> str:
        """The name of an archive that exists; else ArchiveNameError or ArchiveNotFoundError."""
        if not self.exists(name):
            raise ArchiveNotFoundError(name)
        return name

    def create(self, name: str) -> ArchiveInfo:
        """Register archive ``name`` (its store is made on first use)."""
        if check_name(name) == DEFAULT_ARCHIVE:
            raise ArchiveNameError(name, "is the default archive's, which always exists")
        with self._locked():
            read = self._read()
            if name in read:
                raise ArchiveExistsError(name)
            created = datetime.now(UTC).isoformat(timespec="seconds")
            read[name] = {"created_at": created}
            self._write(read)
        return ArchiveInfo(name, created, self.where(name))

    def remove(self, name: str, delete_data: bool) -> ArchiveInfo:
        """Unregister archive ``name`` and delete its data (``delete_data`` must be True: the caller
        has confirmed). The default archive is never removed. Close its store in this process first."""
        if check_name(name) == DEFAULT_ARCHIVE:
            raise ArchiveNameError(name, "is the default archive's: it cannot be removed")
        if name not in self._read():
            raise ArchiveNotFoundError(name)
        if not delete_data:
            raise NamedArchiveError(
                f"removing archive {name!r} deletes its articles at {self.where(name)}: confirm with --yes"
            )
        with self._locked():
            read = self._read()
            if name not in read:
                raise ArchiveNotFoundError(name)
            info = ArchiveInfo(name, read[name].get("created_at", ""), self.where(name))
            self._delete_data(name)
            del read[name]
            self._write(read)
        return info

    def _delete_data(self, name: str) -> None:
        from ingest.storage.lexical_sync import lexical_path

        store = self.store_settings(name)
        if store.uses_server:
            from ingest.storage.chroma import make_client

            client = make_client(store)
            prefix = f"{store.collection}_"
            try:
                for collection in client.list_collections():
                    if collection.name.startswith(prefix):
                        client.delete_collection(collection.name)
            except Exception as exc:
                raise StoreError(f"cannot delete the collections of archive {name!r}: {exc}") from exc
            shutil.rmtree(lexical_path(store), ignore_errors=True)
            return
        shutil.rmtree(Path(store.store_dir), ignore_errors=True)
        if store.lexical_dir is not None:
            shutil.rmtree(Path(store.lexical_dir), ignore_errors=True)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the archives of {self.path}: {exc}") from exc
        archives = raw.get("archives", {}) if isinstance(raw, dict) else {}
        return {k: v for k, v in archives.items() if isinstance(v, dict) and NAME_RE.fullmatch(k)}

    def _write(self, archives: dict[str, dict[str, Any]]) -> None:
        """Write the registry atomically: a temporary file beside it, then renamed over it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"version": 1, "archives": archives}, indent=2, sort_keys=True) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".newsdesk-archives-", dir=self.folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.folder / REGISTRY_LOCK))
        try:
            lock.acquire(timeout=self.settings.chroma_timeout_s)
        except Timeout as exc:
            raise StoreLockedError(f"another process is changing the archives of {self.folder}") from exc
        try:
            yield
        finally:
            lock.release()
