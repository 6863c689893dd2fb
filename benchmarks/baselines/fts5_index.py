"""The SQLite FTS5 lexical index, a baseline for ``benchmarks/lexical.py``: ranked by ``bm25()``.

The product's lexical index is Tantivy (:mod:`ingest.storage.lexical_tantivy`); this one stays only
as what the benchmark compares it against, and nothing in ``assistant/`` or ``ingest/`` imports it.

One file next to the Chroma folder (:func:`index_path`: ``<store>/lexical.sqlite3``), in WAL mode,
so any number of serving processes read while one process writes, and nobody keeps a copy of the
archive in memory. Each sentence is indexed by the *terms an analyzer made of it* (the stemmed
content terms the read side already uses), stored as one space-separated string that the FTS5
``ascii`` tokenizer only splits on spaces: the index ranks exactly the terms the old in-memory
BM25 ranked, with FTS5's BM25 (k1 1.2, b 0.75; idf without Lucene's +1, scores times k1+1).

What it holds per article: its version, title, outlet, publication time, canonical text and
sentence offsets, so the read side can cut ``text[start:end]`` of a candidate and of its
neighbours in the same query (a citation stays ``(doc_id, start, end)``; no sentence text is
stored apart from its article). A hash of each sentence's normalised text lets :meth:`copies`
tell boilerplate (the same line in several articles of one outlet) without reading the corpus.

Every write (:meth:`add` of a group of articles, :meth:`delete`, :meth:`rebuild`) is one SQLite
transaction that also increments ``generation``: after a kill -9 a reader sees all of a write or
none of it, and a reader learns of any write by any process from one small read
(:meth:`generation`). The analyzer's name is kept in the file; a process with another analyzer is
refused (its queries would not match the stored terms), as is a file of another schema version.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from assistant.core.errors import LexicalIndexError
from benchmarks.baselines.fts5_records import ArticleInfo, Sentence, filter_sql, line_hash, match_expression
from benchmarks.baselines.fts5_sql import Database, check_schema, create_schema, has_schema
from ingest.storage.lexical_records import Hit, IndexedArticle, SearchFilters, SentenceKey

__all__ = [
    "INDEX_FILE",
    "Analyzer",
    "ArticleInfo",
    "Fts5LexicalIndex",
    "Hit",
    "IndexedArticle",
    "LexicalIndexError",
    "SearchFilters",
    "Sentence",
    "SentenceKey",
    "index_path",
]

INDEX_FILE = "lexical.sqlite3"
DEFAULT_TIMEOUT_S = 5.0
Analyzer = Callable[[str], Sequence[str]]

SENTENCE_COLUMNS = """s.doc_id, s.idx, s.char_start, s.char_end,
    substr(a.text, s.char_start + 1, s.char_end - s.char_start), s.published_ts, s.source, t.terms"""
SEARCH_SQL = """SELECT s.doc_id, s.idx, bm25(sentence_terms) AS rank FROM sentence_terms
    JOIN sentences s ON s.id = sentence_terms.rowid
    WHERE sentence_terms MATCH ?{where} ORDER BY rank, s.doc_id, s.idx LIMIT ?"""
SENTENCE_JOINS = """JOIN articles a ON a.doc_id = s.doc_id JOIN sentence_terms t ON t.rowid = s.id"""


def index_path(store_dir: Path) -> Path:
    """Where the lexical index of an embedded store folder lives."""
    return Path(store_dir) / INDEX_FILE


def _sentence(row: Sequence[Any]) -> Sentence:
    doc_id, index, start, end, text, ts, source, terms = row
    return Sentence(
        doc_id, int(index), int(start), int(end), str(text), int(ts), source, tuple(terms.split())
    )


class Fts5LexicalIndex:
    """The lexical sentence index of one store; safe to share between the threads of a process."""

    def __init__(self, path: Path, analyzer: Analyzer, analyzer_name: str, timeout_s: float) -> None:
        self.path = Path(path)
        self.analyzer = analyzer
        self.analyzer_name = analyzer_name
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._opened: list[Database] = []
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: Path,
        analyzer: Analyzer,
        analyzer_name: str,
        *,
        create: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Fts5LexicalIndex:
        """Open (or with ``create``, create) the index file; LexicalIndexError naming the file when
        it is missing, unreadable, damaged, of another schema or made by another analyzer."""
        if not create and not Path(path).is_file():
            raise LexicalIndexError(f"lexical index {path}: no such file (rebuild it from the store)")
        index = cls(path, analyzer, analyzer_name, timeout_s)
        db = index._db()
        if not has_schema(db):
            create_schema(db, analyzer_name)
        check_schema(db, analyzer_name)
        return index

    def _db(self) -> Database:
        """This thread's connection (sqlite3 connections are not shared between threads)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = Database(self.path, self.timeout_s)
            self._local.db = db
            with self._lock:
                self._opened.append(db)
        return db

    def close(self) -> None:
        """Close every connection this object opened (in any thread)."""
        with self._lock:
            for db in self._opened:
                db.close()
            self._opened.clear()
        self._local = threading.local()

    # --- writes: each one transaction ----------------------------------------------------------
    def add(self, articles: Iterable[IndexedArticle]) -> int:
        """Index a group of articles in one transaction, each replacing any earlier version of it;
        the number of sentences written. The iterable is consumed inside the transaction."""
        db = self._db()
        written = 0
        with db.transaction("add"):
            for article in articles:
                article.check()
                self._remove(db, article.doc_id)
                written += self._insert(db, article)
            self._bump(db)
        return written

    def delete(self, doc_id: str) -> bool:
        """Remove an article and its sentences in one transaction; False when it was not indexed."""
        db = self._db()
        with db.transaction("delete"):
            removed = self._remove(db, doc_id)
            if removed:
                self._bump(db)
        return removed

    def rebuild(self, articles: Iterable[IndexedArticle]) -> int:
        """Replace the whole index with ``articles`` in one transaction (readers see the old index
        until it commits); the number of sentences written."""
        db = self._db()
        written = 0
        with db.transaction("rebuild"):
            for table in ("sentence_terms", "sentences", "articles"):
                db.write(f"DELETE FROM {table}")
            for article in articles:
                article.check()
                self._remove(db, article.doc_id)  # a doc_id seen twice: the later one stays
                written += self._insert(db, article)
            db.write("INSERT INTO sentence_terms(sentence_terms) VALUES ('optimize')")
            self._bump(db)
        return written

    def _remove(self, db: Database, doc_id: str) -> bool:
        db.write(
            "DELETE FROM sentence_terms WHERE rowid IN (SELECT id FROM sentences WHERE doc_id = ?)", [doc_id]
        )
        db.write("DELETE FROM sentences WHERE doc_id = ?", [doc_id])
        return db.write("DELETE FROM articles WHERE doc_id = ?", [doc_id]) > 0

    def _insert(self, db: Database, a: IndexedArticle) -> int:
        db.write(
            "INSERT INTO articles(doc_id, version, title, source, published_ts, sentences, text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [a.doc_id, a.version, a.title, a.source, a.published_ts, len(a.spans), a.text],
        )
        for i, (start, end) in enumerate(a.spans):
            text = a.text[start:end]
            rowid = db.insert(
                "INSERT INTO sentences(doc_id, idx, char_start, char_end, published_ts, source, norm) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [a.doc_id, i, start, end, a.published_ts, a.source, line_hash(text)],
            )
            terms = " ".join(self.analyzer(text))
            db.write("INSERT INTO sentence_terms(rowid, terms) VALUES (?, ?)", [rowid, terms])
        return len(a.spans)

    def _bump(self, db: Database) -> None:
        db.write("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # --- reads -------------------------------------------------------------------------------
    def generation(self) -> int:
        """A counter that grows with every committed write by any process (one small read)."""
        return int(self._db().value("SELECT value FROM meta WHERE key = 'generation'") or 0)

    def doc_count(self) -> int:
        return int(self._db().value("SELECT count(*) FROM articles"))

    def sentence_count(self) -> int:
        return int(self._db().value("SELECT count(*) FROM sentences"))

    def search(self, terms: Iterable[str], k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """The ``k`` best sentences by BM25 over ``terms`` (analyzer output), within ``filters``;
        ties in the order of (doc_id, index)."""
        query = match_expression(terms)
        if k < 1 or not query:
            return []
        where, params = filter_sql(filters or SearchFilters())
        sql = SEARCH_SQL.replace("{where}", where)  # fixed clauses; the values are parameters
        rows = self._db().rows(sql, [query, *params, k])
        return [Hit(SentenceKey(doc_id, int(index)), -float(rank)) for doc_id, index, rank in rows]

    def scores(self, terms: Iterable[str], keys: Iterable[SentenceKey]) -> dict[SentenceKey, float]:
        """The BM25 score of each of ``keys`` for ``terms`` (keys that match no term are left out)."""
        query, wanted = match_expression(terms), _keys_json(keys)
        if not query or wanted == "[]":
            return {}
        rows = self._db().rows(
            "SELECT s.doc_id, s.idx, bm25(sentence_terms) FROM sentence_terms "
            "JOIN sentences s ON s.id = sentence_terms.rowid WHERE sentence_terms MATCH ? AND s.id IN "
            "(SELECT s2.id FROM json_each(?) j JOIN sentences s2 ON s2.doc_id = j.value ->> 0 "
            "AND s2.idx = j.value ->> 1)",
            [query, wanted],
        )
        return {SentenceKey(doc_id, int(index)): -float(rank) for doc_id, index, rank in rows}

    def sentences(self, keys: Iterable[SentenceKey]) -> list[Sentence]:
        """The stored sentences of ``keys``, in that order (unknown keys are left out)."""
        wanted = list(dict.fromkeys(keys))
        rows = self._db().rows(
            f"SELECT {SENTENCE_COLUMNS} FROM json_each(?) j JOIN sentences s "
            f"ON s.doc_id = j.value ->> 0 AND s.idx = j.value ->> 1 {SENTENCE_JOINS} ORDER BY j.key",
            [_keys_json(wanted)],
        )
        return [_sentence(row) for row in rows]

    def neighbours(
        self, keys: Iterable[SentenceKey], before: int = 1, after: int = 1
    ) -> dict[SentenceKey, list[Sentence]]:
        """For each key, the sentences of its article from ``index - before`` to ``index + after``
        (itself excluded), in text order: one query for all of them."""
        wanted = list(dict.fromkeys(keys))
        windows = json.dumps([[k.doc_id, k.index - before, k.index + after] for k in wanted])
        rows = self._db().rows(
            f"SELECT j.key, {SENTENCE_COLUMNS} FROM json_each(?) j JOIN sentences s "
            "ON s.doc_id = j.value ->> 0 AND s.idx BETWEEN j.value ->> 1 AND j.value ->> 2 "
            f"{SENTENCE_JOINS} ORDER BY j.key, s.idx",
            [windows],
        )
        out: dict[SentenceKey, list[Sentence]] = {key: [] for key in wanted}
        for position, *rest in rows:
            sentence, key = _sentence(rest), wanted[int(position)]
            if sentence.key != key:
                out[key].append(sentence)
        return out

    def article_sentences(self, doc_id: str) -> list[Sentence]:
        """Every sentence of one article, in text order."""
        rows = self._db().rows(
            f"SELECT {SENTENCE_COLUMNS} FROM sentences s {SENTENCE_JOINS} WHERE s.doc_id = ? ORDER BY s.idx",
            [doc_id],
        )
        return [_sentence(row) for row in rows]

    def articles(self, doc_ids: Iterable[str]) -> dict[str, ArticleInfo]:
        """Metadata of the indexed articles among ``doc_ids``."""
        rows = self._db().rows(
            "SELECT doc_id, version, title, source, published_ts, sentences FROM articles "
            "WHERE doc_id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(dict.fromkeys(doc_ids)))],
        )
        return {row[0]: ArticleInfo(row[0], row[1], row[2], row[3], int(row[4]), int(row[5])) for row in rows}

    def text(self, doc_id: str) -> str | None:
        """An article's canonical text (None when it is not indexed)."""
        found = self._db().value("SELECT text FROM articles WHERE doc_id = ?", [doc_id])
        return None if found is None else str(found)

    def versions(self) -> dict[str, str]:
        """doc_id -> version of every indexed article (to compare with the vector store's)."""
        return dict(self._db().rows("SELECT doc_id, version FROM articles"))

    def copies(self, keys: Iterable[SentenceKey]) -> dict[SentenceKey, int]:
        """For each key, how many articles of its outlet carry the same sentence (itself included):
        boilerplate lines (sign-up prompts, ads) are those in several articles of one outlet."""
        wanted = list(dict.fromkeys(keys))
        rows = self._db().rows(
            "SELECT s.doc_id, s.idx, count(DISTINCT o.doc_id) FROM json_each(?) j JOIN sentences s "
            "ON s.doc_id = j.value ->> 0 AND s.idx = j.value ->> 1 "
            "JOIN sentences o ON o.source = s.source AND o.norm = s.norm GROUP BY s.doc_id, s.idx",
            [_keys_json(wanted)],
        )
        return {SentenceKey(doc_id, int(index)): int(n) for doc_id, index, n in rows}

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many sentences contain each term (terms in no sentence are left out)."""
        rows = self._db().rows(
            "SELECT term, doc FROM term_stats WHERE term IN (SELECT value FROM json_each(?))",
            [json.dumps(list(dict.fromkeys(terms)))],
        )
        return {str(term): int(df) for term, df in rows}

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse sentence frequency of each term, the in-memory index's formula (unseen: highest)."""
        wanted = list(dict.fromkeys(terms))
        size, df = self.sentence_count(), self.document_frequencies(wanted)
        return {t: math.log(1.0 + (size - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in wanted}

    def check(self) -> list[str]:
        """Problems found by SQLite's and FTS5's integrity checks, and articles whose sentence count
        differs from their record (an empty list: the index is consistent)."""
        db = self._db()
        problems = [str(r[0]) for r in db.rows("PRAGMA integrity_check") if r[0] != "ok"]
        try:
            db.write("INSERT INTO sentence_terms(sentence_terms) VALUES ('integrity-check')")
        except LexicalIndexError as exc:
            problems.append(str(exc))
        partial = db.rows(
            "SELECT a.doc_id FROM articles a LEFT JOIN sentences s ON s.doc_id = a.doc_id "
            "GROUP BY a.doc_id HAVING count(s.id) != max(a.sentences)"
        )
        problems += [f"article {doc_id!r} has a partial set of sentences" for (doc_id,) in partial]
        orphans = db.value("SELECT count(*) FROM sentences WHERE doc_id NOT IN (SELECT doc_id FROM articles)")
        if orphans:
            problems.append(f"{orphans} sentences belong to no article")
        return problems


def _keys_json(keys: Iterable[SentenceKey]) -> str:
    return json.dumps([[k.doc_id, k.index] for k in keys])
