"""The answering pipeline as one LangChain runnable, each stage a step that takes what the one
before it produced and returns a new value::

    Request ─▶ condense ─▶ scope ─▶ retrieve ─▶ read ─▶ answer ─▶ enrich ─▶ pieces…, Answer
               Condensed   Scoped   Retrieved   Reading  pieces…,  pieces…,
                                                         Drafted   Answer

The first four are ``RunnableLambda`` steps over frozen values; ``answer`` and ``enrich`` are
``RunnableGenerator`` steps, so the chain streams: pieces of the answer text as they are composed,
then the complete :class:`~assistant.types.Answer`. :meth:`Pipeline.trace` runs the same steps in
two parts, to keep the retrieval between them (evaluation reads its candidates).

Each step is a span named after it (``newsdesk.condense`` ... ``newsdesk.enrich``), opened by the
step around its own work only, never while it waits for the step before it to give its input
(:func:`traced`, :func:`traced_pieces`): LangChain pulls a streamed sequence from its last step,
so a span held open across that pull would make each stage the child of the one after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.llm import LLMAnswerer
from assistant.answering.reading import Reader
from assistant.core.settings import Settings
from assistant.core.telemetry.tracing import Attributes, add_attributes, span, traced_iter
from assistant.news.enrich import NewsEnricher
from assistant.pipeline.answer import AnswerStage, Drafted, Piece
from assistant.pipeline.cache import AnswerCache
from assistant.pipeline.condense import Condense, Condensed
from assistant.pipeline.enrich import Enrich
from assistant.pipeline.read import Read, Reading
from assistant.pipeline.request import Request
from assistant.pipeline.retrieve import Retrieve, Retrieved
from assistant.pipeline.scope import Scope, Scoped
from assistant.retrieval.retrieve import HybridSearch, Retrieval
from assistant.types import Answer, StreamItem
from ingest.components import IngestComponents
from ingest.embedding.embedder import Vectors

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

STAGES = ("condense", "scope", "retrieve", "read", "answer", "enrich")
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class Pipeline:
    """The six stages of answering a question, built once per Assistant (see the module doc)."""

    condense: Condense
    scope: Scope
    retrieve: Retrieve
    read: Read
    answer: AnswerStage
    enrich: Enrich
    cache: AnswerCache

    @cached_property
    def chain(self) -> Runnable[Request, StreamItem]:
        """The whole pipeline as one runnable sequence of the six named steps."""
        return self.front | self.back

    @cached_property
    def front(self) -> Runnable[Request, Retrieved]:
        """condense | scope | retrieve: a request to its candidates."""
        from langchain_core.runnables import RunnableLambda

        return (
            RunnableLambda(traced("condense", self.condense, _condensed), name="condense")
            | RunnableLambda(traced("scope", self.scope, _scoped), name="scope")
            | RunnableLambda(traced("retrieve", self.retrieve, _retrieved), name="retrieve")
        )

    @cached_property
    def back(self) -> Runnable[Retrieved, StreamItem]:
        """read | answer | enrich: the candidates to the answer's pieces and the Answer."""
        from langchain_core.runnables import RunnableGenerator, RunnableLambda

        return (
            RunnableLambda(traced("read", self.read, _reading), name="read")
            | RunnableGenerator(_each(traced_pieces("answer", self.answer)), name="answer")
            | RunnableGenerator(self.enrich.__call__, name="enrich")
        )

    def stream(self, request: Request) -> Iterator[StreamItem]:
        """The chain's stream, or the kept stream of the same request asked before on the same
        store (:mod:`assistant.pipeline.cache`)."""
        yield from self.cache.stream(request, self.chain.stream)

    def trace(self, request: Request) -> tuple[Answer, Retrieval]:
        """The answer with the retrieval it was read from (its candidates): for evaluation."""
        found = self.front.invoke(request)
        answers = [item for item in self.back.stream(found) if isinstance(item, Answer)]
        return answers[-1], found.retrieval


def build_pipeline(
    settings: Settings,
    components: IngestComponents,
    chat_model: BaseChatModel | None,
    workers: Executor,
) -> Pipeline:
    """The stages from settings and the store and model (nothing is loaded or opened here)."""
    embedder = components.embedder

    def embed(texts: Sequence[str]) -> Vectors:  # the LLM reply's support check, with the query threads
        return embedder.embed(list(texts), threads=embedder.query_threads)

    reader = Reader(settings.refusal_min_support)
    search = HybridSearch(settings.retrieval, components.store, embedder, workers)
    llm = (
        LLMAnswerer(chat_model, settings.llm_timeout_s, settings.llm_max_reply_chars, embed)
        if chat_model is not None
        else None
    )
    return Pipeline(
        condense=Condense(settings.chat_history_turns, chat_model, settings.llm_timeout_s),
        scope=Scope(settings.question_date_filters),
        retrieve=Retrieve(search, reader, settings.date_phrase_margin),
        read=Read(reader),
        answer=AnswerStage(
            settings.answering, ExtractiveAnswerer(settings.answering, reader), llm, settings.llm_max_evidence
        ),
        enrich=Enrich(NewsEnricher(settings.news, components.store, embedder, workers)),
        cache=AnswerCache(settings.answer_cache_size, lambda: components.store.generation()),
    )


def traced(name: str, step: Callable[[In], Out], note: Callable[[Out], Attributes]) -> Callable[[In], Out]:
    """``step`` in a span ``newsdesk.<name>`` with the attributes ``note`` gives of its value."""

    def run(value: In) -> Out:
        with span(f"newsdesk.{name}", {"langchain.run_name": name}):
            out = step(value)
            add_attributes(note(out))
            return out

    return run


def traced_pieces(name: str, step: Callable[[In], Iterator[Piece]]) -> Callable[[In], Iterator[Piece]]:
    """A streaming ``step`` in a span ``newsdesk.<name>`` (current while it makes each piece)."""

    def run(value: In) -> Iterator[Piece]:
        return traced_iter(f"newsdesk.{name}", step(value), {"langchain.run_name": name}, _drafted)

    return run


def _condensed(value: Condensed) -> Attributes:
    return {"newsdesk.follow_up": value.standalone.is_follow_up}


def _scoped(value: Scoped) -> Attributes:
    return {"newsdesk.filtered": value.filters is not None, "newsdesk.dated": value.dated is not None}


def _retrieved(value: Retrieved) -> Attributes:
    return {"newsdesk.candidates": len(value.retrieval.candidates)}


def _reading(value: Reading) -> Attributes:
    return {"newsdesk.ranked": len(value.ranking.ranked), "newsdesk.answerable": value.ranking.answerable}


def _drafted(piece: Piece) -> Attributes:
    if not isinstance(piece, Drafted):
        return {}
    answer = piece.answer
    return {
        "newsdesk.mode": answer.mode,
        "newsdesk.citations": len(answer.citations),
        "newsdesk.grounded": answer.grounded,
    }


def _each(step: Callable[[In], Iterator[Out]]) -> Callable[[Iterator[In]], Iterator[Out]]:
    """A one-value-in, pieces-out step as the transform of a RunnableGenerator."""

    def transform(values: Iterator[In]) -> Iterator[Out]:
        for value in values:
            yield from step(value)

    return transform


__all__ = ["STAGES", "Piece", "Pipeline", "build_pipeline"]
