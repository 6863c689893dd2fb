"""The SQLite side of the FTS5 baseline index: its schema, and one connection wrapper that bounds time
and maps every sqlite3 error to :class:`~assistant.core.errors.LexicalIndexError` naming the file.

Every statement is bounded twice: waiting for another process's write lock by the busy timeout,
and running by a deadline checked from SQLite's progress handler (a statement that runs past it is
interrupted). :mod:`benchmarks.baselines.fts5_index` is the public API; nothing else talks to the file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.core.errors import LexicalIndexError

SCHEMA_VERSION = "1"
PROGRESS_STEPS = 2000  # SQLite VM instructions between two deadline checks
# ``ascii`` with the apostrophe as a token character: the stored terms are already normalised, so
# the tokenizer only splits on the spaces between them (o'brien stays one token, as the analyzer
# keeps it; non-ASCII characters are always token characters in this tokenizer).
TOKENIZER = "ascii tokenchars ''''"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS articles(
        doc_id TEXT PRIMARY KEY, version TEXT NOT NULL, title TEXT NOT NULL, source TEXT NOT NULL,
        published_ts INTEGER NOT NULL, sentences INTEGER NOT NULL, text TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sentences(
        id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL,
        char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, published_ts INTEGER NOT NULL,
        source TEXT NOT NULL, norm INTEGER NOT NULL, UNIQUE(doc_id, idx))""",
    "CREATE INDEX IF NOT EXISTS sentences_by_line ON sentences(source, norm)",
    f'CREATE VIRTUAL TABLE IF NOT EXISTS sentence_terms USING fts5(terms, tokenize="{TOKENIZER}")',
    "CREATE VIRTUAL TABLE IF NOT EXISTS term_stats USING fts5vocab(sentence_terms, 'row')",
)


def hint(exc: sqlite3.Error, timeout_s: float) -> str:
    """What a user can do about a sqlite3 error, in a few words."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return " (the file is damaged or not an index: rebuild it from the store)"
    if "locked" in text or "busy" in text:
        return f" (another process held the write lock for more than {timeout_s:g} s)"
    if "interrupted" in text:
        return f" (the statement ran for more than {timeout_s:g} s)"
    if "unable to open" in text or "readonly" in text:
        return " (check that the folder exists, is writable, and that the path is a file)"
    return ""


class Database:
    """One sqlite3 connection to the index file, in WAL mode, every statement time-bounded."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._deadline = 0.0
        with self.mapped("open"):
            self._conn = sqlite3.connect(
                str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        self._conn.set_progress_handler(self._past_deadline, PROGRESS_STEPS)
        with self.mapped("open"):
            self._start()
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self._set_wal()
            self._conn.execute("PRAGMA synchronous = NORMAL")  # in WAL: atomic and consistent after a kill

    def _set_wal(self) -> None:
        """WAL mode (kept in the file): readers in other processes never wait for the writer."""
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode[0]).lower() != "wal":
            raise LexicalIndexError(f"lexical index {self.path}: cannot switch to WAL mode (got {mode[0]})")

    def _start(self) -> None:
        """Start the clock of the next statement."""
        self._deadline = time.monotonic() + self.timeout_s

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    @contextmanager
    def mapped(self, what: str) -> Iterator[None]:
        """sqlite3 errors inside become LexicalIndexError naming the file and the operation."""
        try:
            yield
        except sqlite3.Error as exc:
            raise LexicalIndexError(
                f"lexical index {self.path}: {what} failed: {exc}{hint(exc, self.timeout_s)}"
            ) from exc

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one statement, run within the deadline."""
        with self.mapped("read"):
            self._start()
            return self._conn.execute(sql, params).fetchall()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run one INSERT; the rowid it gave."""
        with self.mapped("write"):
            self._start()
            rowid = self._conn.execute(sql, params).lastrowid
        return int(rowid or 0)

    def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement; the number of rows it changed."""
        with self.mapped("write"):
            self._start()
            return self._conn.execute(sql, params).rowcount

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.mapped("write"):
            self._start()
            self._conn.executemany(sql, rows)

    @contextmanager
    def transaction(self, what: str) -> Iterator[None]:
        """One write transaction: all of it is committed, or none of it (also after a kill -9)."""
        with self.mapped(f"{what} (waiting for the write lock)"):
            self._start()
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:  # an interrupted statement has already rolled it back
                self._start()
                self._conn.execute("ROLLBACK")
            raise
        with self.mapped(f"{what} (commit)"):
            self._start()
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


def create_schema(db: Database, analyzer: str) -> None:
    """Create the tables of an empty file, and record its schema version and analyzer."""
    with db.transaction("create"):
        for statement in SCHEMA:
            db.write(statement)
        for key, value in (("schema", SCHEMA_VERSION), ("analyzer", analyzer), ("generation", "0")):
            db.write("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, value))


def check_schema(db: Database, analyzer: str) -> None:
    """Refuse a file written by another schema version or with another analyzer (its scores and
    terms would not match this process's queries): it has to be rebuilt."""
    meta = dict(db.rows("SELECT key, value FROM meta"))
    if meta.get("schema") != SCHEMA_VERSION:
        raise LexicalIndexError(
            f"lexical index {db.path}: schema version {meta.get('schema')!r}, this Newsdesk reads "
            f"{SCHEMA_VERSION!r}: rebuild it from the store"
        )
    if meta.get("analyzer") != analyzer:
        raise LexicalIndexError(
            f"lexical index {db.path}: its terms were made by analyzer {meta.get('analyzer')!r}, "
            f"this process uses {analyzer!r}: rebuild it from the store"
        )


def has_schema(db: Database) -> bool:
    return bool(db.value("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"))
