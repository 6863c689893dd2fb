"""Construction of the write side's components from settings, in one place.

Nothing here runs at import time: callers (CLI, ``create_app``, tests) decide what gets built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.core.settings import Settings
from ingest.embedding.embedder import Embedder
from ingest.sentences import SentenceSplitter
from ingest.storage.store import NewsStore

if TYPE_CHECKING:
    from ingest.pipeline import IngestPipeline


@dataclass
class IngestComponents:
    """The store, the embedder (model loaded on first use), the splitter and, built when first
    used (a process that only asks never imports the loaders), the ingest pipeline."""

    settings: Settings
    store: NewsStore
    embedder: Embedder
    splitter: SentenceSplitter

    @cached_property
    def pipeline(self) -> IngestPipeline:
        from ingest.pipeline import IngestPipeline

        return IngestPipeline(self.settings, self.store, self.embedder, self.splitter)

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None) -> IngestComponents:
        store = NewsStore(settings.store)
        embedder = embedder or embedder_of(settings)
        splitter = SentenceSplitter(settings.sentence_engine, settings.sentence_max_chars)
        return cls(settings, store, embedder, splitter)


def embedder_of(settings: Settings) -> Embedder:
    """The embedder the settings describe (nothing loaded yet)."""
    return Embedder(
        settings.model_name,
        settings.embed_batch_size,
        settings.torch_threads,
        settings.embed_precision,
        settings.embed_backend,
        settings.query_threads,
    )
