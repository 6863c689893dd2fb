"""The answering chain, as one LangChain runnable: condense | retrieve | answer.

::

    standalone_question ─▶ hybrid_retrieval ─▶ answer_mode ─▶ answer
                                                  ├─ llm: llm_answer, falling back to extractive_answer
                                                  └─ extractive: extractive_answer

Each step is a method of the :class:`ChainSteps` (the ``Assistant``); a step takes the
:class:`Turn` of the question and passes it on. The answer steps stream: pieces of the answer text,
then the complete :class:`Answer`. The LLM step raises :class:`LLMFallback` when its reply fails
before any of it was shown; ``with_fallbacks`` then gives the extractive answer of the same turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from assistant.answering.turn import Turn
from assistant.types import Answer

if TYPE_CHECKING:
    from langchain_core.runnables import Runnable

Piece = str | Answer


class LLMFallback(Exception):
    """The LLM reply failed its checks (or the endpoint failed) before any of it was streamed."""


class ChainSteps(Protocol):
    def standalone(self, turn: Turn) -> Turn: ...
    def retrieve(self, turn: Turn) -> Turn: ...
    def answer_mode(self, turn: Turn) -> Turn: ...
    def llm_answer(self, turn: Turn) -> Iterator[Piece]: ...
    def extractive_answer(self, turn: Turn) -> Iterator[Piece]: ...


def build_chain(steps: ChainSteps) -> Runnable[Turn, Piece]:
    """The typed runnable sequence of the whole answering path (built once per Assistant)."""
    from langchain_core.runnables import RunnableBranch, RunnableGenerator, RunnableLambda

    extractive: Runnable[Turn, Piece] = RunnableGenerator(
        _each(steps.extractive_answer), name="extractive_answer"
    )
    llm = RunnableGenerator(_each(steps.llm_answer), name="llm_answer").with_fallbacks(
        [extractive], exceptions_to_handle=(LLMFallback,)
    )
    answer: Runnable[Turn, Piece] = RunnableBranch((_wants_llm, llm), extractive)
    return (
        RunnableLambda(steps.standalone, name="standalone_question")
        | RunnableLambda(steps.retrieve, name="hybrid_retrieval")
        | RunnableLambda(steps.answer_mode, name="answer_mode")
        | answer.with_config(run_name="answer")
    )


def _wants_llm(turn: Turn) -> bool:
    return turn.mode == "llm"


def _each(step: Callable[[Turn], Iterator[Piece]]) -> Callable[[Iterator[Turn]], Iterator[Piece]]:
    """A per-turn answer step as the transform of a RunnableGenerator (one turn in, pieces out)."""

    def transform(turns: Iterator[Turn]) -> Iterator[Piece]:
        for turn in turns:
            yield from step(turn)

    return transform
