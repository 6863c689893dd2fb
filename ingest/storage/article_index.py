"""The article-level lexical index: one Tantivy document per article (its title's terms twice, then
its text's), so that BM25 ranks whole articles, the first stage of "retrieve articles, then read
them" (docs/answering.md).

It is its own Tantivy index beside the sentence index (``articles.tantivy`` next to
``lexical.tantivy``): in one index a field that only the article documents carry would get an
average length counted over the sentence documents too, about 85 times too small, and BM25's length
normalisation would rank by it. It is derived from the sentence index, never from Chroma: the sentence
index writes it after each of its own commits (:class:`~ingest.storage.lexical_tantivy.TantivyLexicalIndex`),
and when the two disagree (a kill between the commits, an older store without it) it is filled again
from the article records the sentence index holds (:meth:`TantivyArticleIndex.fill`).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import tantivy

from assistant.core.errors import LexicalIndexError
from ingest.storage.lexical_records import IndexedArticle, SearchFilters
from ingest.storage.records import StoredArticle
from ingest.storage.tantivy_schema import (
    RECORDS_RUN,
    WRITER_HEAP,
    Analyzer,
    any_term,
    filtered,
    index_writer,
    unique_terms,
)

ARTICLES_DIR = "articles.tantivy"
SETTINGS_FILE = "newsdesk.json"
SCHEMA_VERSION = "2"  # 2: each article's version and int8 sentence vectors
K1 = 1.2  # Tantivy's BM25 constant: its scores are k1 + 1 times bm25s's
Records = Callable[[Sequence[str]], Iterable[StoredArticle]]
"""The article records of some doc_ids, as the sentence index holds them."""
Vectors = Callable[[Sequence[StoredArticle]], Mapping[str, bytes]]
"""The int8 sentence vectors of some article records (:mod:`ingest.storage.quantized`), from the
store that holds their embeddings; an article left out gets none."""


class ArticleHit(NamedTuple):
    """An article found: its BM25 score, the version indexed and its sentences' int8 vectors (one
    row per committed sentence, in text order; empty when the index holds none for it)."""

    doc_id: str
    score: float
    version: str
    vectors: bytes


def article_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("doc_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("source", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("published_ts", indexed=True, fast=True)
    builder.add_text_field("version", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("vectors", stored=True, indexed=False)
    return builder.build()


def articles_path(lexical_path: Path) -> Path:
    """Where the article index of a sentence index folder lives (its sibling)."""
    return Path(lexical_path).with_name(ARTICLES_DIR)


def record_article(article: StoredArticle, vectors: bytes = b"") -> IndexedArticle:
    """What the article index takes of an article record the sentence index holds (``vectors``: its
    sentences' int8 vectors)."""
    meta = article.metadata
    ts = meta.get("published_ts")
    published = int(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else -1
    title, source = str(meta.get("title", "")), str(meta.get("source", ""))
    return IndexedArticle(
        article.doc_id, article.version, article.text, (), title, source, published, sentence_vectors=vectors
    )


def article_document(article: IndexedArticle, analyzer: Analyzer) -> tantivy.Document:
    """An article's document: its title's terms twice (a title is the article's own summary), then
    its text's."""
    title = list(analyzer(article.title))
    return tantivy.Document(
        terms=" ".join([*title, *title, *analyzer(article.text)]),
        doc_id=article.doc_id,
        source=article.source,
        published_ts=article.published_ts,
        version=article.version,
        vectors=article.sentence_vectors,
    )


class TantivyArticleIndex:
    """BM25 over whole articles (see the module doc); safe to share between a process's threads."""

    def __init__(self, path: Path, analyzer: Analyzer, analyzer_name: str, timeout_s: float) -> None:
        self.path = Path(path)
        self.analyzer = analyzer
        self.analyzer_name = analyzer_name
        self.timeout_s = timeout_s
        self._schema = article_schema()
        self._index: tantivy.Index | None = None
        self._lock = threading.Lock()

    def _error(self, what: str, detail: object = "") -> LexicalIndexError:
        return LexicalIndexError(f"article index {self.path}: {what}{f': {detail}' if detail else ''}")

    def _opened(self) -> tantivy.Index:
        """The index, opened on first use; a folder of another schema or analyzer, or damaged, is
        made again empty (it is derived: :meth:`fill` gives it back its articles)."""
        with self._lock:
            if self._index is None:
                self._index = self._open_or_create()
            return self._index

    def _open_or_create(self) -> tantivy.Index:
        wanted = {"schema": SCHEMA_VERSION, "analyzer": self.analyzer_name}
        try:
            if json.loads((self.path / SETTINGS_FILE).read_text()) == wanted:
                index = tantivy.Index.open(str(self.path))
                index.config_reader("manual")
                return index
        except (OSError, ValueError):
            pass
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        index = tantivy.Index(self._schema, path=str(self.path), reuse=False)
        with index_writer(index, "create", self.timeout_s, self._error) as writer:
            writer.commit()
        (self.path / SETTINGS_FILE).write_text(json.dumps(wanted))
        index.config_reader("manual")
        return index

    def _searcher(self) -> tantivy.Searcher:
        index = self._opened()
        index.reload()
        return index.searcher()

    def count(self) -> int:
        """The articles indexed."""
        return int(self._searcher().num_docs)

    def search(self, terms: Iterable[str], k: int, filters: SearchFilters | None = None) -> list[ArticleHit]:
        """The ``k`` best articles by BM25 over ``terms`` (analyzer output), within ``filters``,
        best first; equal scores in doc_id order."""
        unique = unique_terms(terms)
        if k < 1 or not unique:
            return []
        query = filtered(self._schema, any_term(self._schema, unique), filters)
        searcher = self._searcher()
        found = [
            _hit(searcher.doc(address), float(score) / (K1 + 1.0))
            for score, address in searcher.search(query, k, count=False).hits
        ]
        return sorted(found, key=lambda hit: (-hit.score, hit.doc_id))

    @contextmanager
    def _write(self, what: str) -> Iterator[tantivy.IndexWriter]:
        index = self._opened()
        with index_writer(index, what, self.timeout_s, self._error, WRITER_HEAP) as writer:
            yield writer
            try:
                writer.commit()
            except ValueError as exc:
                raise self._error(f"{what} (commit) failed", exc) from exc

    def add(self, articles: Iterable[IndexedArticle], delete: Iterable[str] = ()) -> None:
        """Index ``articles`` (each replacing an earlier copy) and remove ``delete``, one commit."""
        with self._write("add") as writer:
            for article in articles:
                writer.delete_documents_by_term("doc_id", article.doc_id)
                writer.add_document(article_document(article, self.analyzer))
            for doc_id in delete:
                writer.delete_documents_by_term("doc_id", doc_id)

    def fill(self, articles: Iterable[IndexedArticle]) -> int:
        """Replace every document with ``articles`` (read one at a time), one commit; how many."""
        written: set[str] = set()
        with self._write("fill") as writer:
            writer.delete_all_documents()
            for article in articles:
                writer.delete_documents_by_term("doc_id", article.doc_id)
                writer.add_document(article_document(article, self.analyzer))
                written.add(article.doc_id)
        return len(written)

    def index_written(self, articles: Sequence[IndexedArticle], gone: Sequence[str]) -> None:
        """In step with a commit of the sentence index: the ``articles`` it just wrote indexed (the
        later of two copies of a doc_id), ``gone`` removed."""
        latest = list({a.doc_id: a for a in articles}.values())
        chunks = [latest[i : i + RECORDS_RUN] for i in range(0, len(latest), RECORDS_RUN)] or [[]]
        for n, chunk in enumerate(chunks):
            self.add(chunk, gone if n == 0 else ())

    def in_step(
        self,
        records: Records,
        every_id: Callable[[], Sequence[str]],
        expected: int,
        vectors: Vectors | None = None,
        force: bool = False,
    ) -> int:
        """Filled again from every record (with its sentence ``vectors``) when it does not hold
        ``expected`` articles, or when ``force``; how many it holds."""
        if not force and self.count() == expected:
            return expected
        ids = every_id()
        chunks = (ids[i : i + RECORDS_RUN] for i in range(0, len(ids), RECORDS_RUN))
        return self.fill(a for chunk in chunks for a in _with_vectors(list(records(chunk)), vectors))


def _with_vectors(records: Sequence[StoredArticle], vectors: Vectors | None) -> Iterator[IndexedArticle]:
    found = vectors(records) if vectors is not None and records else {}
    for article in records:
        yield record_article(article, found.get(article.doc_id, b""))


def _hit(doc: tantivy.Document, score: float) -> ArticleHit:
    vectors = doc.get_first("vectors")
    return ArticleHit(
        str(doc.get_first("doc_id")),
        score,
        str(doc.get_first("version") or ""),
        vectors if isinstance(vectors, bytes) else b"",
    )


def noting(articles: Iterable[IndexedArticle], seen: list[IndexedArticle]) -> Iterator[IndexedArticle]:
    """The articles, each noted in ``seen`` as it is taken."""
    for article in articles:
        seen.append(article)
        yield article
