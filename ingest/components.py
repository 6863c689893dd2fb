"""Construction of the write side's components from settings, in one place.

Nothing here runs at import time: callers (CLI, ``create_app``, tests) decide what gets built.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.settings import Settings
from ingest.embedding.embedder import Embedder
from ingest.pipeline import IngestPipeline
from ingest.sentences import SentenceSplitter
from ingest.storage.store import NewsStore


@dataclass
class IngestComponents:
    """The store, the embedder (model loaded on first use), the splitter and the pipeline."""

    settings: Settings
    store: NewsStore
    embedder: Embedder
    splitter: SentenceSplitter
    pipeline: IngestPipeline

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None) -> IngestComponents:
        store = NewsStore(settings.store)
        embedder = embedder or Embedder(
            settings.model_name,
            settings.embed_batch_size,
            settings.torch_threads,
            settings.embed_precision,
            settings.embed_backend,
            settings.query_threads,
        )
        splitter = SentenceSplitter(settings.sentence_engine, settings.sentence_max_chars)
        pipeline = IngestPipeline(settings, store, embedder, splitter)
        return cls(settings, store, embedder, splitter, pipeline)
