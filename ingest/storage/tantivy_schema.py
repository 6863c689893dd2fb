"""The Tantivy lexical index on disk: its folder, its schema, the documents and keys it holds, and
its writer (one at a time across processes: Tantivy's lock file)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from ingest.storage.lexical_records import IndexedArticle, SearchFilters
from ingest.storage.records import StoredArticle

INDEX_DIR = "lexical.tantivy"
KEY_SEPARATOR = "\x1f"
LOCK_POLL_S = 0.05
WRITER_HEAP = 64_000_000
RECORDS_RUN = 256  # the record documents of this many articles are written together (add_articles)
SPAN_DTYPE = "<i4"  # sentence offsets as stored on an article's last sentence
Analyzer = Callable[[str], Sequence[str]]
ErrorFactory = Callable[[str, object], Exception]


def tantivy_path(store_dir: Path) -> Path:
    """Where the Tantivy lexical index of an embedded store folder lives."""
    return Path(store_dir) / INDEX_DIR


def tantivy_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("doc_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("key", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("version", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("source", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("line", stored=True, tokenizer_name="raw", index_option="basic")  # line_key
    # the line key again on the first sentence of each line of an article only, so that the number of
    # (live) sentences with a term here is the number of articles with that line
    builder.add_text_field("first_line", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("idx", stored=True, indexed=True, fast=True)
    builder.add_integer_field("sentences", stored=True)  # the article's count, on every sentence
    builder.add_integer_field("published_ts", indexed=True, fast=True)
    # on the article's last sentence only: its doc_id again (to find the record), its story (syndicated
    # copies share it) and the article record the read side builds its view from (see article_payload).
    # Not on sentence 0, which versions() and passing() read for every article: those stay small.
    builder.add_text_field("record_of", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("story", tokenizer_name="raw", index_option="basic")
    for name in ("record", "text", "spans", "title_vector"):
        builder.add_bytes_field(name, stored=True, indexed=False)
    return builder.build()


def key_term(doc_id: str, index: int) -> str:
    return f"{doc_id}{KEY_SEPARATOR}{index}"


def line_key(source: str, text: str) -> str:
    """A sentence as a line of its outlet: 16 hex digits of a hash of the outlet and the sentence's
    normalised text (lowercase, whitespace folded). The same line in several articles of one outlet
    is boilerplate (sign-up lines, ads): :meth:`TantivyLexicalIndex.line_articles` counts them."""
    normal = " ".join(text.lower().split())
    return hashlib.blake2b(f"{source}{KEY_SEPARATOR}{normal}".encode(), digest_size=8).hexdigest()


def line_articles(searcher: tantivy.Searcher, schema: tantivy.Schema, line: str, cap: int) -> int:
    """How many distinct articles have a sentence of ``line`` (a line key), counted up to ``cap``."""
    if cap < 1:
        return 0
    found = searcher.search(tantivy.Query.term_query(schema, "first_line", line), 1, count=True)
    return min(int(found.count), cap)  # type: ignore[attr-defined]  # in tantivy-py, not its stub


def filter_clauses(schema: tantivy.Schema, filters: SearchFilters) -> list[tantivy.Query]:
    """The queries a document must match to pass ``filters`` (fields ``published_ts``, ``source``,
    ``doc_id``, which both the sentence and the article index have)."""
    clauses: list[tantivy.Query] = []
    if filters.ts_from is not None or filters.ts_to is not None:
        # an upper bound also excludes documents without a date (published_ts -1)
        lower = filters.ts_from if filters.ts_to is None else max(filters.ts_from or 0, 0)
        integer = tantivy.FieldType.Integer
        clauses.append(tantivy.Query.range_query(schema, "published_ts", integer, lower, filters.ts_to))
    if filters.sources:
        clauses.append(tantivy.Query.term_set_query(schema, "source", sorted(filters.sources)))
    if filters.doc_ids is not None:
        if not filters.doc_ids:
            clauses.append(tantivy.Query.empty_query())
        else:
            clauses.append(tantivy.Query.term_set_query(schema, "doc_id", sorted(filters.doc_ids)))
    return clauses


def any_term(schema: tantivy.Schema, terms: Sequence[str]) -> tantivy.Query:
    """Documents holding any of ``terms`` in their ``terms`` field, scored by BM25."""
    should = tantivy.Occur.Should
    return tantivy.Query.boolean_query(
        [(should, tantivy.Query.term_query(schema, "terms", t)) for t in terms]
    )


def filtered(schema: tantivy.Schema, query: tantivy.Query, filters: SearchFilters | None) -> tantivy.Query:
    """``query`` restricted by ``filters`` (:func:`filter_clauses`); the restrictions add nothing to
    the score."""
    clauses = filter_clauses(schema, filters or SearchFilters())
    if not clauses:
        return query
    must = tantivy.Occur.Must
    zero = [(must, tantivy.Query.const_score_query(c, 0.0)) for c in clauses]
    return tantivy.Query.boolean_query([(must, query), *zero])


def unique_terms(terms: Iterable[str]) -> list[str]:
    """Each term once; empty ones and ones with whitespace (which the index cannot hold) left out."""
    return [t for t in dict.fromkeys(terms) if t and not any(c.isspace() for c in t)]


def article_payload(article: IndexedArticle) -> dict[str, str | bytes]:
    """The fields of an article's last sentence that hold its record (none without its metadata):
    the record's metadata as JSON, its text (UTF-8), its committed sentence offsets (int32 pairs) and
    its title vector (float32)."""
    if article.metadata is None:
        return {}
    story = str(article.metadata.get("story_id", ""))
    return {
        "record_of": article.doc_id,
        **({"story": story} if story else {}),
        "record": json.dumps(dict(article.metadata)).encode(),
        "text": article.text.encode(),
        "spans": np.asarray(article.spans, dtype=SPAN_DTYPE).reshape(-1, 2).tobytes(),
        "title_vector": article.title_vector,
    }


@dataclass(frozen=True)
class ArticlePayload:
    """An article record as the index holds it (see :func:`article_payload`)."""

    article: StoredArticle
    title_vector: bytes  # float32


def read_payload(doc_id: str, doc: tantivy.Document) -> ArticlePayload | None:
    """The record a document holds (None: it holds none)."""
    record, text, spans = (doc.get_first(f) for f in ("record", "text", "spans"))
    if not isinstance(record, bytes) or not isinstance(text, bytes) or not isinstance(spans, bytes):
        return None
    span_array = np.frombuffer(spans, dtype=SPAN_DTYPE).astype(np.int64).reshape(-1, 2)
    vector = doc.get_first("title_vector")
    article = StoredArticle(doc_id, text.decode(), json.loads(record), span_array)
    return ArticlePayload(article, vector if isinstance(vector, bytes) else b"")


def read_payloads(
    searcher: tantivy.Searcher, schema: tantivy.Schema, field: str, values: Iterable[str]
) -> dict[str, ArticlePayload]:
    """The article records whose ``field`` is one of ``values`` (``record_of``: doc_ids; ``story``:
    every article of those stories), by doc_id."""
    wanted, out = sorted(set(values)), dict[str, ArticlePayload]()
    if not wanted:
        return out
    query = tantivy.Query.term_set_query(schema, field, wanted)
    found = int(searcher.search(query, 1, count=True).count)  # type: ignore[attr-defined]  # not in its stub
    for _, address in searcher.search(query, max(1, found), count=False).hits:
        doc = searcher.doc(address)
        doc_id = str(doc.get_first("doc_id"))
        if (payload := read_payload(doc_id, doc)) is not None:
            out[doc_id] = payload
    return out


def sentence_documents(article: IndexedArticle, analyzer: Analyzer) -> Iterator[tantivy.Document]:
    """The Tantivy documents of an article: one per sentence (the last also holds the record)."""
    total, seen = len(article.spans), set()
    for i, (start, end) in enumerate(article.spans):
        sentence = article.text[start:end]
        line = line_key(article.source, sentence)
        first: dict[str, Any] = {} if line in seen else {"first_line": line}
        if i == total - 1:
            first.update(article_payload(article))
        seen.add(line)
        yield tantivy.Document(
            terms=" ".join(analyzer(sentence)),
            doc_id=article.doc_id,
            key=key_term(article.doc_id, i),
            version=article.version,
            source=article.source,
            line=line,
            idx=i,
            sentences=total,
            published_ts=article.published_ts,
            **first,
        )


def add_articles(
    writer: tantivy.IndexWriter, articles: Iterable[IndexedArticle], analyzer: Analyzer
) -> list[tuple[str, int]]:
    """Write each article's documents, replacing any earlier version of it; (doc_id, sentences) of
    each. The documents holding a record (each article's last sentence) are written after the
    others, ``RECORDS_RUN`` articles at a time: the store's blocks that hold the articles' sentences 0
    (which ``versions`` and ``passing`` read, for every article) then hold few records, so those
    reads touch little of the memory-mapped store. A doc_id seen twice: the later one stays."""
    deferred: dict[str, tantivy.Document] = {}
    written: list[tuple[str, int]] = []
    for article in articles:
        article.check()
        writer.delete_documents_by_term("doc_id", article.doc_id)  # an earlier copy of it
        deferred.pop(article.doc_id, None)
        docs = list(sentence_documents(article, analyzer))
        for doc in docs[:-1]:
            writer.add_document(doc)
        if docs:
            deferred[article.doc_id] = docs[-1]
        written.append((article.doc_id, len(article.spans)))
        if len(deferred) >= RECORDS_RUN:
            _flush(writer, deferred)
    _flush(writer, deferred)
    return written


def _flush(writer: tantivy.IndexWriter, deferred: dict[str, tantivy.Document]) -> None:
    for doc in deferred.values():
        writer.add_document(doc)
    deferred.clear()


@contextmanager
def index_writer(
    index: tantivy.Index, what: str, timeout_s: float, error: ErrorFactory, heap: int = WRITER_HEAP
) -> Iterator[tantivy.IndexWriter]:
    """The index's writer, waiting up to ``timeout_s`` for another one (in any process) to finish;
    uncommitted operations are rolled back on an error, and the lock is released at the end.
    Failures raise ``error(what, detail)``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            writer = index.writer(heap_size=heap, num_threads=1)
            break
        except ValueError as exc:
            if "LockBusy" not in str(exc):
                raise error(f"{what} failed", exc) from exc
            if time.monotonic() >= deadline:
                raise error(
                    f"{what} failed (another process held the write lock for more than {timeout_s:g} s)", ""
                ) from exc
            time.sleep(LOCK_POLL_S)
    try:
        yield writer
    except BaseException:
        writer.rollback()
        raise
    finally:
        writer.wait_merging_threads()  # finishes merges and releases the lock
