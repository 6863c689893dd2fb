"""The Assistant: the one object every front end (CLI, Gradio, HTTP API) answers through.

A question walks the answering pipeline once (:mod:`assistant.pipeline.chain`, one LangChain
runnable)::

    condense -> scope -> retrieve -> read -> answer -> enrich

Everything is built in :func:`create_assistant`; nothing happens at import time.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from assistant.answering.llm import build_chat_model
from assistant.core.errors import NewsdeskError, StoreLockedError
from assistant.core.settings import Settings
from assistant.core.telemetry.metrics import record_answer
from assistant.core.telemetry.tracing import Attributes, in_context, records_questions, span, traced_iter
from assistant.core.types import Article
from assistant.pipeline.chain import Pipeline, build_pipeline
from assistant.pipeline.request import Request
from assistant.retrieval.corpus import ArticleLookup
from assistant.retrieval.retrieve import HybridSearch, Retrieval
from assistant.text.titles import clean_title, real_title
from assistant.types import Answer, StreamItem
from ingest.components import IngestComponents
from ingest.embedding.embedder import Embedder
from ingest.storage.records import StoredArticle, StoreStats

READ_WORKERS = 8  # threads for the reads of an answer that overlap others (a task never waits on another)
T = TypeVar("T")

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from ingest.pipeline import IngestReport


class Assistant:
    """Answers questions about the stored articles with cited sentences; also ingests and reports."""

    def __init__(
        self, settings: Settings, components: IngestComponents, chat_model: BaseChatModel | None = None
    ) -> None:
        self.settings = settings
        self.components = components
        self.chat_model = chat_model
        # threads for the overlapping reads of an answer (shared by this process's requests; see READ_WORKERS)
        self.workers = TracedExecutor(READ_WORKERS, thread_name_prefix="newsdesk-read")
        self.pipeline: Pipeline = build_pipeline(settings, components, chat_model, self.workers)

    # --- answering -------------------------------------------------------------------------
    @property
    def llm_available(self) -> bool:
        return self.chat_model is not None

    @property
    def chain(self) -> Runnable[Request, StreamItem]:
        """The whole answering pipeline as one LangChain runnable (:mod:`assistant.pipeline.chain`)."""
        return self.pipeline.chain

    @property
    def search(self) -> HybridSearch:
        """The hybrid sentence search the retrieve stage uses (also read by the ranker's fitting)."""
        return self.pipeline.retrieve.search

    def ask(self, request: Request | str) -> Answer:
        """The answer to a request (or a bare question), with citations (or a refusal)."""
        final: Answer | None = None
        for item in self.stream(request):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # stream always ends with the Answer
        return final

    def stream(self, request: Request | str) -> Iterator[StreamItem]:
        """Answer text pieces, the answer with its citations (:class:`Cited`), then the complete
        Answer (the same as :meth:`ask` returns, news fields added): one trace
        (``newsdesk.ask``), counted by the mode of its answer (``newsdesk_answers_total``)."""
        accepted = self._accepted(request)
        pieces = self.pipeline.stream(accepted)
        for item in traced_iter("newsdesk.ask", pieces, ask_attributes(accepted), answer_attributes):
            if isinstance(item, Answer):
                record_answer(answer_outcome(accepted.mode, item), item.timings_ms)
            yield item

    def trace(self, request: Request | str) -> tuple[Answer, Retrieval]:
        """The answer with the retrieval it was composed from (its candidates): for evaluation."""
        accepted = self._accepted(request)
        with span("newsdesk.ask", ask_attributes(accepted)):
            return self.pipeline.trace(accepted)

    def _accepted(self, request: Request | str) -> Request:
        asked = Request(request) if isinstance(request, str) else request
        return asked.accepted(self.settings.max_question_chars, self.settings.answer_mode)

    # --- corpus ----------------------------------------------------------------------------
    def ingest_sources(self, sources: Sequence[str]) -> IngestReport:
        return self.components.pipeline.run(list(sources), show_progress=False)

    def ingest_articles(self, articles: Sequence[Article]) -> IngestReport:
        return self.components.pipeline.ingest_articles(list(articles))

    def document(self, doc_id: str) -> StoredArticle:
        return self.components.store.require_article(doc_id)

    def delete(self, doc_id: str) -> None:
        self.components.pipeline.delete(doc_id)

    def stats(self) -> StoreStats:
        return self.components.store.stats()

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions about the newest stories of the loaded corpus, from their real titles (an article
        whose title is only its file's name gives none)."""
        newest = self.components.store.lexical.newest_articles(max(n * 5, n) * 2)
        found = ArticleLookup(self.components.store)
        found.load(newest)
        dated = [found[d] for d in newest if d in found]
        titles = [t for t in dict.fromkeys(clean_title(real_title(a.metadata)) for a in dated) if t]
        rng = random.Random(",".join(newest))
        picked = rng.sample(titles[: max(n * 5, n)], k=min(n, len(titles)))
        return [f"What do the articles say about “{t}”?" for t in picked]

    def health(self) -> dict[str, object]:
        try:
            articles = self.components.store.check_readable()
            store_ok = True
        except NewsdeskError:
            articles, store_ok = 0, False
        return {"store": store_ok, "model_loaded": self.components.embedder.loaded, "articles": articles}

    def prepare(self, ingest_model: bool = False) -> None:
        """Load what questions need (in a thread: it mostly waits on file reads) while the lexical
        index is brought in step with the store (:meth:`prepare_index`); with ``ingest_model`` also
        the model that embeds ingest's batches (torch; a server may be sent articles)."""
        loader = threading.Thread(
            target=self._load_model_quietly, args=(ingest_model,), name="newsdesk-model-load"
        )
        loader.start()
        try:
            self.prepare_index()
        finally:
            loader.join()
        self._load_model(ingest_model)  # re-raises a load error in this thread, as a ModelError

    def prepare_index(self) -> None:
        """Open the lexical index, rebuilt or repaired from Chroma if a crash or an older Newsdesk left
        it behind, when this process may write to the store; when another process writes or serves
        it, that process keeps the index in step, and this one only reads it."""
        store = self.components.store
        try:
            with store.write_lock():
                store.lexical_sync.prepare()
        except StoreLockedError:
            store.lexical.sentence_count()

    def _load_model_quietly(self, ingest_model: bool) -> None:
        """Load and run the encoders, then touch the vector index (Chroma loads it on the first query)."""
        with contextlib.suppress(NewsdeskError):  # prepare() raises it again in the caller's thread
            embedder = self.components.embedder
            self._load_model(ingest_model)
            embedder.embed(["warm up the kernels"], threads=embedder.query_threads)  # first pass is slow
            if ingest_model:
                embedder.embed(["and the thread pool", "of a batch"])  # a batch: the ingest model's
            probe = np.full(embedder.dimension, embedder.dimension**-0.5, dtype=np.float32)
            self.components.store.query_sentences(probe, 1)

    def _load_model(self, ingest_model: bool) -> None:
        """The torch model with ``ingest_model`` (questions then embed on it too), else only what
        questions need (the numpy encoder where it applies)."""
        embedder = self.components.embedder
        if ingest_model:
            embedder.load()
        else:
            embedder.load_for_questions()

    def close(self) -> None:
        """Stop the read threads and release the store (its Chroma client and lexical index)."""
        self.workers.shutdown(wait=False)
        self.components.store.close()

    def warm_up(self) -> None:
        """Load the models and the in-memory indexes, and run one query through the chain."""
        self.prepare(ingest_model=True)
        self.ask("What is the latest news?")


class TracedExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in the context of the code that submitted them: the spans of
    the reads it overlaps are children of the stage that started them."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(in_context(fn), *args, **kwargs)


def ask_attributes(request: Request) -> Attributes:
    """The ask span's attributes: the question's length (its text only with otel_record_questions)."""
    attributes: dict[str, str | int | bool] = {
        "newsdesk.question.length": len(request.question),
        "newsdesk.history.turns": len(request.history),
        "newsdesk.mode.requested": request.mode or "",
    }
    if records_questions():
        attributes["newsdesk.question"] = request.question
    return attributes


def answer_attributes(item: StreamItem) -> Attributes:
    """The ask span's attributes of its answer (none for a piece of its text)."""
    if not isinstance(item, Answer):
        return {}
    return {
        "newsdesk.citations": len(item.citations),
        "newsdesk.grounded": item.grounded,
        "newsdesk.mode": item.mode,
    }


def answer_outcome(requested: str | None, answer: Answer) -> str:
    """How a question was answered: refusal (nothing grounded), fallback (asked of the LLM, which
    failed, so the extractive answer was shown), llm or extractive."""
    if not answer.grounded:
        return "refusal"
    if requested == "llm" and answer.mode == "extractive" and "llm" in answer.timings_ms:
        return "fallback"
    return answer.mode


def create_assistant(
    settings: Settings, embedder: Embedder | None = None, chat_model: BaseChatModel | None = None
) -> Assistant:
    """Build the store, model (loaded on first use), indexes and optional LLM from settings."""
    components = IngestComponents.build(settings, embedder=embedder)
    return Assistant(settings, components, chat_model or build_chat_model(settings.llm))
