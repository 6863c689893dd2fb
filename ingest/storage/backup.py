"""Backup and restore of the embedded store: a consistent copy of its folder, with a manifest.

``backup_store`` holds the folder's write lock (no ingest or delete can run meanwhile), copies the
folder (the sqlite database through sqlite's online backup API, the vector segment files and the
lexical index in ``lexical.tantivy/`` as they are, without lock files), opens the copy to check
that every collection has the record count the live store had, and writes ``manifest.json`` last:
counts, chromadb version, and the size and sha256 of every file. A backup folder without a
manifest is incomplete. A lexical index kept elsewhere (the ``lexical_dir`` setting) is not in the
backup: the first write after a restore brings it in step with the restored store. Nor are the
named archives (``archives/`` and ``archives.json`` in the store folder: stores of their own, backed
up with ``newsdesk --archive NAME backup``); a restore of the default archive leaves them in place.

``restore_store`` checks the manifest (format, a chromadb version this one can open, every file
present and unchanged), refuses to replace a store that holds records unless forced, copies the
backup beside the store folder, swaps the two folders under the write lock, then checks the
counts of the restored store. Stop any process using the store before restoring it.

A Chroma server keeps its data in its own ``--path`` folder: back that up with the server stopped
(or with the same commands pointed at it as an embedded folder while the server is stopped).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.core.errors import BackupError
from assistant.core.sections import StoreSettings
from ingest.storage.chroma import parse_major_minor
from ingest.storage.locks import MARKER_FILES, ensure_not_served, folder_write_lock
from ingest.storage.store import NewsStore

MANIFEST_NAME = "manifest.json"
# Tantivy's lock files: empty, held by the processes using the index, made again by the next one
TANTIVY_LOCKS = ".tantivy-*.lock"
NAMED_ARCHIVES = ("archives", "archives.json")  # ingest/storage/archives.py: not in a backup
DATA_DIR = "store"
FORMAT = 1
CHUNK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: record counts per collection and a digest of every file."""

    format: int
    created_at: str
    chromadb_version: str
    source: str
    counts: dict[str, int]
    files: dict[str, FileDigest]

    @property
    def total_records(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        files = {name: FileDigest(int(d["size"]), str(d["sha256"])) for name, d in raw["files"].items()}
        counts = {str(name): int(n) for name, n in raw["counts"].items()}
        return cls(
            int(raw["format"]),
            str(raw["created_at"]),
            str(raw["chromadb_version"]),
            str(raw["source"]),
            counts,
            files,
        )


def chromadb_version() -> str:
    import chromadb

    return str(chromadb.__version__)


# --- backup --------------------------------------------------------------------------------
def backup_store(settings: StoreSettings, target: Path) -> Manifest:
    """Copy the embedded store to ``target`` (absent or empty) and write its manifest."""
    _require_embedded(settings, "backup")
    _require_empty_folder(target)
    data = target / DATA_DIR
    store = NewsStore(settings)
    try:
        with store.write_lock(writing=False):  # keeps writers out; a server may hold the store
            counts = store.collection_counts()
            copy_store_folder(Path(settings.store_dir), data)
    finally:
        store.close()
    check_counts(data, counts, f"the backup copy in {data}")
    manifest = Manifest(
        FORMAT, _now(), chromadb_version(), str(settings.store_dir), counts, digest_files(data)
    )
    (target / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _require_empty_folder(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"backup folder {target} is not empty; name a new or empty folder")
    target.mkdir(parents=True, exist_ok=True)


def copy_store_folder(source: Path, dest: Path) -> None:
    """Copy a store folder: sqlite files through the online backup API, the rest as files."""
    partial = dest.with_name(f"{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    skipped = shutil.ignore_patterns(MARKER_FILES, TANTIVY_LOCKS, "*.sqlite3", "*.sqlite3-*")

    def ignored(folder: str, names: list[str]) -> set[str]:  # named archives: stores of their own
        return skipped(folder, names) | (set(NAMED_ARCHIVES) if Path(folder) == source else set())

    shutil.copytree(source, partial, ignore=ignored)
    for db in source.glob("*.sqlite3"):
        with (
            closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(partial / db.name)) as dst,
        ):
            src.backup(dst)
    partial.rename(dest)


def digest_files(folder: Path) -> dict[str, FileDigest]:
    """Size and sha256 of every file under ``folder``, by path relative to it."""
    digests: dict[str, FileDigest] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                sha.update(chunk)
        digests[path.relative_to(folder).as_posix()] = FileDigest(path.stat().st_size, sha.hexdigest())
    return digests


def folder_counts(folder: Path) -> dict[str, int]:
    """Records per collection of the Chroma folder, opened and closed again in this process."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    try:
        client = chromadb.PersistentClient(
            path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
        )
    except Exception as exc:  # chromadb raises bare exceptions for damaged folders
        raise BackupError(f"cannot open the Chroma folder {folder}: {exc}") from exc
    try:
        return {c.name: c.count() for c in client.list_collections()}
    finally:
        client.close()  # type: ignore[attr-defined]  # Client has close(); ClientAPI does not say so


def check_counts(folder: Path, expected: dict[str, int], what: str) -> None:
    found = folder_counts(folder)
    if found != expected:
        raise BackupError(f"{what} does not hold what was backed up: found {found}, expected {expected}")


# --- restore -------------------------------------------------------------------------------
def read_manifest(source: Path) -> Manifest:
    """The manifest of a backup folder, after checking the version and every file against it."""
    path = source / MANIFEST_NAME
    if not path.is_file():
        raise BackupError(f"{source} is not a complete Newsdesk backup: {MANIFEST_NAME} is missing")
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path} is damaged: {exc!r}") from exc
    if manifest.format != FORMAT:
        raise BackupError(f"{path} has backup format {manifest.format}; this Newsdesk reads format {FORMAT}")
    check_version(manifest.chromadb_version, chromadb_version())
    check_files(source / DATA_DIR, manifest.files)
    return manifest


def check_version(backup_version: str, installed: str) -> None:
    """Chroma opens (and migrates) folders of its own major version up to its own minor version."""
    backup, here = parse_major_minor(backup_version), parse_major_minor(installed)
    if backup[0] != here[0] or backup > here:
        raise BackupError(
            f"the backup was made with chromadb {backup_version}, which chromadb {installed} cannot open; "
            f"restore it with chromadb {backup[0]}.{backup[1]}.x"
        )


def check_files(folder: Path, expected: dict[str, FileDigest]) -> None:
    found = digest_files(folder) if folder.is_dir() else {}
    missing = sorted(set(expected) - set(found))
    changed = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
    extra = sorted(set(found) - set(expected))
    if missing or changed or extra:
        raise BackupError(
            f"the backup in {folder.parent} does not match its manifest: "
            f"missing {missing or 'none'}, changed {changed or 'none'}, unexpected {extra or 'none'}"
        )


def restore_store(settings: StoreSettings, source: Path, force: bool = False) -> Manifest:
    """Replace the embedded store with the backup in ``source``; see the module doc."""
    _require_embedded(settings, "restore")
    manifest = read_manifest(source)
    target = Path(settings.store_dir)
    if target.is_dir():
        ensure_not_served(target)  # before the copy: a running server would keep the replaced store
    if not force:
        _require_no_records(target)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.rmtree(staged, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / DATA_DIR, staged)
    _swap_in(staged, target)
    check_counts(target, manifest.counts, f"the restored store at {target}")
    return manifest


def _require_no_records(target: Path) -> None:
    if not (target / "chroma.sqlite3").is_file():
        return
    records = sum(folder_counts(target).values())
    if records:
        raise BackupError(
            f"the store at {target} holds {records} records; restoring would replace them "
            "(pass --force to replace it)"
        )


def _swap_in(staged: Path, target: Path) -> None:
    """Put ``staged`` in place of ``target`` while holding the target's write lock."""
    replaced = target.with_name(f".{target.name}.replaced-{int(time.time())}")
    if target.exists():
        with folder_write_lock(target):
            target.rename(replaced)
    staged.rename(target)
    for name in NAMED_ARCHIVES:  # the named archives stay: the backup is of the default archive only
        if (replaced / name).exists() and not (target / name).exists():
            (replaced / name).rename(target / name)
    shutil.rmtree(replaced, ignore_errors=True)


def _require_embedded(settings: StoreSettings, what: str) -> None:
    if settings.uses_server:
        raise BackupError(
            f"{what} works on the embedded store folder; NEWSDESK_CHROMA_HOST is set to a Chroma server, "
            "whose data is its `chroma run --path` folder: stop the server and copy that folder "
            "(docs/scaling.md)"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
