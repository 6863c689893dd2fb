"""The store's lexical sentence index on Tantivy (tantivy-py): BM25 ranking, and the article records.

One folder (:func:`~ingest.storage.lexical_sync.lexical_path`) holds one Tantivy document per
sentence: its analyzer terms (space-joined, split by Tantivy's ``whitespace`` tokenizer), its key
(``doc_id``, ``idx``), the article's version, outlet and publication time (a fast field: date
filters, :meth:`newest_articles`), and its line key (:meth:`line_articles`: boilerplate). The last
sentence of each article also holds the article record (text, metadata, sentence offsets, title vector:
:func:`~ingest.storage.tantivy_schema.article_payload`), which :meth:`articles` reads by id: a
local, memory-mapped read instead of a Chroma read (over HTTP with a Chroma server).

Scores: Tantivy's BM25 (k1 1.2, b 0.75) divided by k1 + 1, the bm25s (Lucene) score.

Writes: every :meth:`add` of a group of articles, :meth:`delete` and :meth:`rebuild` is one
Tantivy commit, which is atomic (new segments are written first, then ``meta.json`` is replaced):
after a kill -9 the uncommitted operations are lost and the folder opens at the last commit. One
writer at a time across processes (Tantivy's lock file); a second writer waits up to its timeout,
then gets a :class:`LexicalIndexError` saying so. Readers: any number of processes; each read
compares ``meta.json`` (one ``stat``) with what its searcher was loaded from and reloads on a change.

The store commits Chroma first, then Tantivy (:mod:`ingest.storage.lexical_sync`); every sentence
carries its article's version, and :meth:`stale` lists the articles whose indexed version differs
from the store's (a kill between the two commits), for the writer to re-index on open.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import tantivy

from assistant.core.errors import LexicalIndexError
from ingest.storage.article_index import TantivyArticleIndex, Vectors, articles_path, noting
from ingest.storage.lexical_records import Hit, IndexedArticle, SearchFilters, SentenceKey
from ingest.storage.records import StoredArticle
from ingest.storage.tantivy_schema import (
    INDEX_DIR,
    WRITER_HEAP,
    Analyzer,
    ArticlePayload,
    add_articles,
    any_term,
    filtered,
    index_writer,
    key_term,
    line_articles,
    read_payloads,
    tantivy_path,
    tantivy_schema,
    unique_terms,
)

__all__ = ["INDEX_DIR", "LexicalIndexUnreadableError", "TantivyLexicalIndex", "tantivy_path"]

SETTINGS_FILE = "newsdesk.json"  # our schema version and the analyzer's name, beside meta.json
SCHEMA_VERSION = "3"  # 2: the line and article fields; 3: the article record
DEFAULT_TIMEOUT_S = 5.0
K1 = 1.2  # Tantivy's BM25 constants (not configurable); its scores are k1 + 1 times bm25s's
REBUILD_HEAP = 256_000_000


class LexicalIndexUnreadableError(LexicalIndexError):
    """The folder is not an index this process can read (missing, not a folder, damaged, of another
    schema or analyzer): only a rebuild from the store helps."""


class TantivyLexicalIndex:
    """The Tantivy ranking index of one store; safe to share between the threads of a process."""

    def __init__(self, path: Path, analyzer: Analyzer, analyzer_name: str, timeout_s: float) -> None:
        self.path = Path(path)
        self.analyzer = analyzer
        self.analyzer_name = analyzer_name
        self.timeout_s = timeout_s
        self._schema = tantivy_schema()
        self._index: tantivy.Index | None = None
        self._loaded: tuple[int, int, int] | None = None  # meta.json (inode, mtime, size) last loaded
        self._lock = threading.Lock()
        self.article_index = TantivyArticleIndex(articles_path(self.path), analyzer, analyzer_name, timeout_s)

    # --- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path,
        analyzer: Analyzer,
        analyzer_name: str,
        *,
        create: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> TantivyLexicalIndex:
        """Open (or with ``create``, create) the index folder; LexicalIndexError naming the folder
        when it is missing, not a folder, damaged, of another schema or made by another analyzer."""
        index = cls(path, analyzer, analyzer_name, timeout_s)
        index._open(create)
        return index

    def _error(self, what: str, detail: object = "") -> LexicalIndexError:
        return LexicalIndexError(f"lexical index {self.path}: {what}{f': {detail}' if detail else ''}")

    def _unreadable(self, what: str, detail: object = "") -> LexicalIndexUnreadableError:
        return LexicalIndexUnreadableError(str(self._error(what, detail)))

    def _open(self, create: bool) -> None:
        meta = self.path / "meta.json"
        if self.path.exists() and not self.path.is_dir():
            raise self._unreadable("is not a folder (move it away or rebuild the index from the store)")
        if not meta.is_file():
            if not create:
                raise self._unreadable("no such index (rebuild it from the store)")
            self._create()
        self._check_settings()
        try:
            self._index = tantivy.Index.open(str(self.path))
            self._index.config_reader("manual")  # reloads are ours: see _searcher
            self._reload()
        except (ValueError, OSError) as exc:
            raise self._unreadable(
                "open failed", f"{exc} (the index is damaged: rebuild it from the store)"
            ) from exc

    def _create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            settings = {"schema": SCHEMA_VERSION, "analyzer": self.analyzer_name}
            (self.path / SETTINGS_FILE).write_text(json.dumps(settings))
            created = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            with index_writer(created, "create", self.timeout_s, self._error) as writer:
                writer.commit()  # meta.json exists from here on: an empty, valid index
        except OSError as exc:
            raise self._error("create failed", exc) from exc

    def _check_settings(self) -> None:
        """Refuse a folder of another schema version or made with another analyzer."""
        try:
            settings = json.loads((self.path / SETTINGS_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise self._unreadable(
                f"cannot read {SETTINGS_FILE} (rebuild the index from the store)", exc
            ) from exc
        if not isinstance(settings, dict) or settings.get("schema") != SCHEMA_VERSION:
            found = settings.get("schema") if isinstance(settings, dict) else None
            raise self._unreadable(
                f"schema version {found!r}, this Newsdesk reads {SCHEMA_VERSION!r}: rebuild it from the store"
            )
        if settings.get("analyzer") != self.analyzer_name:
            raise self._unreadable(
                f"its terms were made by analyzer {settings.get('analyzer')!r}, this process uses "
                f"{self.analyzer_name!r}: rebuild it from the store"
            )

    def close(self) -> None:
        """Drop the searcher (files are memory-mapped; nothing to flush)."""
        with self._lock:
            self._index = None

    # --- reading: one stat per read, a reload when meta.json changed ------------------------------
    def _meta_state(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path / "meta.json")
        except OSError as exc:
            raise self._error("meta.json is gone (rebuild the index from the store)", exc) from exc
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _reload(self) -> None:
        index = self._opened()
        state = self._meta_state()
        if state != self._loaded:
            try:
                index.reload()
            except ValueError as exc:
                raise self._error("reload failed", exc) from exc
            self._loaded = state

    def _opened(self) -> tantivy.Index:
        if self._index is None:
            raise self._error("is closed")
        return self._index

    def _searcher(self) -> tantivy.Searcher:
        """A searcher of the last commit by any process (reloaded when meta.json changed)."""
        self._reload()
        return self._opened().searcher()

    def generation(self) -> int:
        """The opstamp of the last commit by any process: it grows with every committed write."""
        self._reload()
        try:
            return int(json.loads((self.path / "meta.json").read_text()).get("opstamp", 0))
        except (OSError, ValueError) as exc:
            raise self._error("cannot read meta.json", exc) from exc

    def sentence_count(self) -> int:
        return int(self._searcher().num_docs)

    def doc_count(self, filters: SearchFilters | None = None) -> int:
        """Articles with at least one sentence (without, one ranks nothing), within ``filters``."""
        return self._count(filtered(self._schema, self._int_term("idx", 0), filters))

    def _count(self, query: tantivy.Query) -> int:
        result = self._searcher().search(query, 1, count=True)
        return int(result.count)  # type: ignore[attr-defined]  # in tantivy-py, not in its stub

    def _int_term(self, field: str, value: int) -> tantivy.Query:
        return tantivy.Query.term_query(self._schema, field, value)

    def _ranked(self, query: tantivy.Query, k: int) -> list[Hit]:
        searcher = self._searcher()
        hits: list[Hit] = []
        for score, address in searcher.search(query, k, count=False).hits:
            doc = searcher.doc(address)
            key = SentenceKey(str(doc.get_first("doc_id")), int(doc.get_first("idx") or 0))
            hits.append(Hit(key, float(score) / (K1 + 1.0)))
        hits.sort(key=lambda h: (-h.score, h.key))
        return hits

    def search(self, terms: Iterable[str], k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """The ``k`` best sentences by BM25 over ``terms`` (analyzer output), within ``filters``;
        equal scores in the order of (doc_id, index)."""
        unique = unique_terms(terms)
        if k < 1 or not unique:
            return []
        return self._ranked(filtered(self._schema, any_term(self._schema, unique), filters), k)

    def scores(self, terms: Iterable[str], keys: Iterable[SentenceKey]) -> dict[SentenceKey, float]:
        """The BM25 score of each of ``keys`` for ``terms`` (keys that match no term are left out)."""
        unique, wanted = unique_terms(terms), sorted({key_term(k.doc_id, k.index) for k in keys})
        if not unique or not wanted:
            return {}
        only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(self._schema, "key", wanted), 0.0)
        must = tantivy.Occur.Must
        query = tantivy.Query.boolean_query([(must, any_term(self._schema, unique)), (must, only)])
        return {hit.key: hit.score for hit in self._ranked(query, len(wanted))}

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many (live) sentences contain each term (terms in no sentence are left out)."""
        found = {
            t: self._count(tantivy.Query.term_query(self._schema, "terms", t)) for t in unique_terms(terms)
        }
        return {t: n for t, n in found.items() if n}

    def idf(self, terms: Iterable[str]) -> dict[str, float]:
        """Inverse sentence frequency of each term, the in-memory index's formula (unseen: highest)."""
        wanted = list(dict.fromkeys(terms))
        size, df = self.sentence_count(), self.document_frequencies(wanted)
        return {t: math.log(1.0 + (size - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in wanted}

    def _first_sentences(self) -> Iterator[tantivy.Document]:
        """The stored fields of every article's sentence 0, one at a time."""
        searcher = self._searcher()
        query = self._int_term("idx", 0)
        total = max(1, self._count(query))
        return (searcher.doc(address) for _, address in searcher.search(query, total, count=False).hits)

    def versions(self) -> dict[str, str]:
        """doc_id -> version of every indexed article (with at least one sentence)."""
        return {str(d.get_first("doc_id")): str(d.get_first("version")) for d in self._first_sentences()}

    def stale(self, expected: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """Against ``expected`` (doc_id -> version, e.g. the SQLite file's): the articles to (re)index
        here (missing or of another version) and those to delete (not expected)."""
        have = self.versions()
        redo = sorted(d for d, v in expected.items() if have.get(d) != v)
        return redo, sorted(set(have) - set(expected))

    def check(self) -> list[str]:
        """Articles indexed twice or with a partial set of sentences (empty: consistent)."""
        problems: list[str] = []
        seen: set[str] = set()
        for doc in self._first_sentences():
            doc_id, expected = str(doc.get_first("doc_id")), int(doc.get_first("sentences") or 0)
            if doc_id in seen:
                problems.append(f"article {doc_id!r} is indexed twice")
            seen.add(doc_id)
            found = self._count(tantivy.Query.term_query(self._schema, "doc_id", doc_id))
            if found != expected:
                problems.append(f"article {doc_id!r} has {found} of its {expected} sentences")
        return problems

    def articles(self, doc_ids: Iterable[str]) -> dict[str, ArticlePayload]:
        """The article records of those of ``doc_ids`` indexed with one (see the module doc)."""
        return read_payloads(self._searcher(), self._schema, "record_of", doc_ids)

    def story_articles(self, stories: Iterable[str]) -> dict[str, ArticlePayload]:
        """The article records of every article whose ``story_id`` is one of ``stories``."""
        return read_payloads(self._searcher(), self._schema, "story", stories)

    def line_articles(self, lines: Iterable[str], cap: int) -> dict[str, int]:
        """For each line key (:func:`~ingest.storage.tantivy_schema.line_key`), how many distinct
        articles have a sentence of that line, counted up to ``cap`` (0: in no article)."""
        searcher = self._searcher()
        return {line: line_articles(searcher, self._schema, line, cap) for line in dict.fromkeys(lines)}

    def passing(self, doc_ids: Iterable[str] | None, filters: SearchFilters, limit: int = 0) -> set[str]:
        """Those of ``doc_ids`` (None: of all, at most ``limit``) whose articles pass ``filters``."""
        wanted = filters if doc_ids is None else replace(filters, doc_ids=frozenset(doc_ids))
        query, searcher = filtered(self._schema, self._int_term("idx", 0), wanted), self._searcher()
        hits = searcher.search(query, max(1, limit, len(wanted.doc_ids or ())), count=False).hits
        return {str(searcher.doc(address).get_first("doc_id")) for _, address in hits}

    def newest_articles(self, n: int) -> list[str]:
        """The doc_ids of the ``n`` most recently published articles, newest first; articles without
        a publication time come after all dated ones."""
        if n < 1:
            return []
        searcher = self._searcher()
        hits = searcher.search(
            self._int_term("idx", 0), n, count=False, order_by_field="published_ts", order=tantivy.Order.Desc
        ).hits
        return [str(searcher.doc(address).get_first("doc_id")) for _, address in hits]

    # --- writes: each one commit -----------------------------------------------------------------
    @contextmanager
    def _write(self, what: str, heap: int = WRITER_HEAP) -> Iterator[tantivy.IndexWriter]:
        with self._lock, index_writer(self._opened(), what, self.timeout_s, self._error, heap) as writer:
            yield writer
            try:
                writer.commit()
            except ValueError as exc:
                raise self._error(f"{what} (commit) failed", exc) from exc

    def add(self, articles: Iterable[IndexedArticle], delete: Iterable[str] = ()) -> int:
        """Index a group of articles in one commit, each replacing any earlier version of it, and
        remove the articles ``delete`` names; the number of sentences written. Both iterables are
        consumed while this process holds the write lock, ``articles`` first, then ``delete`` (so a
        generator can decide what to write from what is current then)."""
        seen: list[IndexedArticle] = []
        with self._write("add") as writer:
            written = sum(n for _, n in add_articles(writer, noting(articles, seen), self.analyzer))
            gone = list(delete)
            for doc_id in gone:
                writer.delete_documents_by_term("doc_id", doc_id)
        self.article_index.index_written(seen, gone)
        return written

    def _records(self, doc_ids: Sequence[str]) -> list[StoredArticle]:
        return [payload.article for payload in self.articles(doc_ids).values()]

    def articles_in_step(self, vectors: Vectors | None = None, force: bool = False) -> int:
        """The article index filled again from the records (``vectors``: their sentences' vectors)
        when it does not hold every indexed article (a kill between the two commits, a store from
        before it), or when ``force``; how many it holds."""
        return self.article_index.in_step(
            self._records, lambda: sorted(self.versions()), self.doc_count(), vectors, force
        )

    def delete(self, doc_id: str) -> bool:
        """Remove an article's sentences in one commit; False when it was not indexed."""
        if not self._count(tantivy.Query.term_query(self._schema, "doc_id", doc_id)):
            return False
        with self._write("delete") as writer:
            writer.delete_documents_by_term("doc_id", doc_id)
        self.article_index.add([], [doc_id])
        return True

    def rebuild(self, articles: Iterable[IndexedArticle], vectors: Vectors | None = None) -> int:
        """Replace the whole index with ``articles`` in one commit (readers see the old index until
        it commits), then the article index (with the sentences' ``vectors``); the number of
        sentences written. The articles are read one at a time, not held; a doc_id seen twice: the
        later one stays."""
        written: dict[str, int] = {}
        with self._write("rebuild", REBUILD_HEAP) as writer:
            writer.delete_all_documents()
            written.update(add_articles(writer, articles, self.analyzer))
        self.articles_in_step(vectors, force=True)
        return sum(written.values())

    def size_bytes(self) -> int:
        """Bytes on disk of the index folder."""
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
