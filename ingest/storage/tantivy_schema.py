"""The Tantivy lexical index on disk: its folder, its schema and the terms and keys it holds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import tantivy

INDEX_DIR = "lexical.tantivy"
KEY_SEPARATOR = "\x1f"


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
    builder.add_integer_field("idx", stored=True, indexed=True, fast=True)
    builder.add_integer_field("sentences", stored=True)  # the article's count, on every sentence
    builder.add_integer_field("published_ts", indexed=True, fast=True)
    return builder.build()


def key_term(doc_id: str, index: int) -> str:
    return f"{doc_id}{KEY_SEPARATOR}{index}"


def unique_terms(terms: Iterable[str]) -> list[str]:
    """Each term once; empty ones and ones with whitespace (which the index cannot hold) left out."""
    return [t for t in dict.fromkeys(terms) if t and not any(c.isspace() for c in t)]
