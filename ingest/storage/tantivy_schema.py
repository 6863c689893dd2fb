"""The Tantivy lexical index on disk: its folder, its schema, the documents and keys it holds, and
its writer (one at a time across processes: Tantivy's lock file)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import tantivy

from ingest.storage.lexical_records import IndexedArticle

INDEX_DIR = "lexical.tantivy"
KEY_SEPARATOR = "\x1f"
LOCK_POLL_S = 0.05
WRITER_HEAP = 64_000_000
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
    return builder.build()


def key_term(doc_id: str, index: int) -> str:
    return f"{doc_id}{KEY_SEPARATOR}{index}"


def line_key(source: str, text: str) -> str:
    """A sentence as a line of its outlet: 16 hex digits of a hash of the outlet and the sentence's
    normalised text (lowercase, whitespace folded). The same line in several articles of one outlet
    is boilerplate (sign-up lines, ads): :meth:`TantivyLexicalIndex.line_articles` counts them."""
    normal = " ".join(text.lower().split())
    return hashlib.blake2b(f"{source}{KEY_SEPARATOR}{normal}".encode(), digest_size=8).hexdigest()


def unique_terms(terms: Iterable[str]) -> list[str]:
    """Each term once; empty ones and ones with whitespace (which the index cannot hold) left out."""
    return [t for t in dict.fromkeys(terms) if t and not any(c.isspace() for c in t)]


def sentence_documents(article: IndexedArticle, analyzer: Analyzer) -> Iterator[tantivy.Document]:
    """The Tantivy documents of an article: one per sentence."""
    total, seen = len(article.spans), set()
    for i, (start, end) in enumerate(article.spans):
        sentence = article.text[start:end]
        line = line_key(article.source, sentence)
        first = {} if line in seen else {"first_line": line}
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
