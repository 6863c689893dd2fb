"""Who may write to an embedded store folder: advisory file locks in the folder.

* The **writer lock** (``.newsdesk-write.lock``): one writer at a time. An ingest, a delete or a
  restore holds it while it writes; a backup holds it so that nothing is written while it copies.
* The **serve lock** (``.newsdesk-serve.lock``), held by ``newsdesk serve`` for as long as it runs,
  with ``.newsdesk-serve.json`` beside it naming the server (pid, address). An open embedded
  Chroma client keeps its vector index in memory and never reloads it: after another process
  writes to the folder, the server's queries fail ("Error finding id") until it restarts
  (measured with chromadb 1.5.9; a client reopened after every foreign write sees the new
  records, but writes land before any token announcing them, so readers would fail meanwhile).
  So while a server holds the folder, only the server writes to it: other processes get
  :class:`StoreServedError` naming it and the ways to ingest through it.

Both are ``flock`` locks: the kernel releases them when their process ends, however it ends, so
a server that was killed leaves a stale ``.newsdesk-serve.json`` that nobody heeds (its lock is
free) and the next server overwrites.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.core.errors import StoreLockedError, StoreServedError
from assistant.core.sections import StoreSettings

LOCK_FILE = ".newsdesk-write.lock"
SERVE_LOCK_FILE = ".newsdesk-serve.lock"
SERVE_INFO_FILE = ".newsdesk-serve.json"
MARKER_FILES = ".newsdesk-*"  # every lock and marker file above (not store data: backups skip them)


@contextmanager
def folder_write_lock(store_dir: Path, timeout_s: float = 0.5, served_by_me: bool = False) -> Iterator[None]:
    """The writer lock of an embedded store folder; StoreLockedError if another process holds it,
    StoreServedError if a server holds the folder (unless this process is that server)."""
    store_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(store_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as exc:
        raise StoreLockedError(
            f"another process is writing to the store at {store_dir}; "
            "wait for it to finish or use a Chroma server for several writers"
        ) from exc
    try:
        if not served_by_me:
            ensure_not_served(store_dir)
        yield
    finally:
        lock.release()


def ensure_not_served(store_dir: Path) -> None:
    """StoreServedError naming the server if a live ``newsdesk serve`` holds the folder."""
    lock = FileLock(str(store_dir / SERVE_LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise StoreServedError(_served_message(store_dir)) from exc
    lock.release()


@contextmanager
def serving_hold(store_dir: Path, address: str) -> Iterator[None]:
    """Hold the folder for a server at ``address`` until the block ends (or the process does).

    Refuses (StoreServedError) when another server holds it, and (StoreLockedError) when a writer
    such as ``newsdesk ingest`` is at work: the server would not see what it writes.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(store_dir / SERVE_LOCK_FILE))
    try:
        lock.acquire(timeout=2.0)  # a writer's check holds it for an instant
    except Timeout as exc:
        raise StoreServedError(_served_message(store_dir)) from exc
    info = store_dir / SERVE_INFO_FILE
    try:
        info.write_text(json.dumps({"pid": os.getpid(), "address": address, "since": time.time()}))
        _refuse_if_writing(store_dir)
        yield
    finally:
        info.unlink(missing_ok=True)
        lock.release()


def _refuse_if_writing(store_dir: Path) -> None:
    try:
        with folder_write_lock(store_dir, timeout_s=0.5, served_by_me=True):
            pass
    except StoreLockedError as exc:
        raise StoreLockedError(
            f"another process (`newsdesk ingest`, delete or restore) is writing to the store at "
            f"{store_dir}; start the server when it has finished"
        ) from exc


def serving_address(store_dir: Path) -> str | None:
    """The http(s) address of the live ``newsdesk serve`` holding the folder; None when no server
    holds it (or its marker names no address)."""
    if not (store_dir / SERVE_LOCK_FILE).is_file():
        return None
    try:
        ensure_not_served(store_dir)
    except StoreServedError:
        _, address = _server_info(store_dir)
        return address if address.startswith(("http://", "https://")) else None
    return None


def _served_message(store_dir: Path) -> str:
    pid, address = _server_info(store_dir)
    return (
        f"the store at {store_dir} is held by `newsdesk serve` (pid {pid}, {address}), which would not "
        f"see what another process writes there: ingest through it (POST {address}/api/ingest, "
        "or the Library tab of its UI), stop it first, or use a Chroma server (NEWSDESK_CHROMA_HOST) "
        "for several processes"
    )


def _server_info(store_dir: Path) -> tuple[str, str]:
    """(pid, address) from the marker file; "unknown" for what it does not say."""
    try:
        info = json.loads((store_dir / SERVE_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    return str(info.get("pid", "unknown")), str(info.get("address", "address unknown"))


class StoreFolderLocks:
    """The locks of a store's folder, as methods of :class:`~ingest.storage.store.NewsStore`."""

    settings: StoreSettings
    _serving = False  # this process serves the embedded folder (hold_for_serving)

    @contextmanager
    def write_lock(self, timeout_s: float = 0.5, writing: bool = True) -> Iterator[None]:
        """Hold the folder's writer lock (embedded mode); a second writer gets StoreLockedError,
        and a writer other than the server that holds the folder StoreServedError (``writing``
        False: a reader that only keeps writers out, such as a backup, is allowed)."""
        if self.settings.uses_server:
            yield
            return
        with folder_write_lock(Path(self.settings.store_dir), timeout_s, self._serving or not writing):
            yield

    @contextmanager
    def hold_for_serving(self, address: str) -> Iterator[None]:
        """While the block runs, this process is the only one that may write to the embedded
        folder (see the module doc); a Chroma server needs no hold: its clients see every write."""
        if self.settings.uses_server:
            yield
            return
        with serving_hold(Path(self.settings.store_dir), address):
            self._serving = True
            try:
                yield
            finally:
                self._serving = False
