"""The answering path is one LangChain runnable: condense | retrieve | mode | answer, with the
LLM answer falling back to the extractive one through ``with_fallbacks``."""

from __future__ import annotations

from langchain_core.runnables import RunnableBranch, RunnableSequence, RunnableWithFallbacks

from assistant.answering.chain import LLMFallback
from assistant.service import Assistant
from assistant.types import Answer


def test_the_chain_is_one_runnable_sequence_of_named_steps(sample_assistant: Assistant) -> None:
    chain = sample_assistant.chain
    assert isinstance(chain, RunnableSequence)
    names = [step.get_name() for step in chain.steps]
    assert names[:3] == ["standalone_question", "hybrid_retrieval", "answer_mode"]
    branch = chain.steps[3].bound  # type: ignore[attr-defined]
    assert isinstance(branch, RunnableBranch)
    (_, llm), extractive = branch.branches[0], branch.default
    assert isinstance(llm, RunnableWithFallbacks)
    assert llm.runnable.get_name() == "llm_answer"
    assert llm.exceptions_to_handle == (LLMFallback,)
    assert [f.get_name() for f in llm.fallbacks] == [extractive.get_name()] == ["extractive_answer"]


def test_streaming_the_chain_gives_the_pieces_then_the_answer(sample_assistant: Assistant) -> None:
    pieces = list(sample_assistant.stream("Who met in Damascus?"))
    assert isinstance(pieces[-1], Answer)
    assert all(isinstance(p, str) for p in pieces[:-1]) and pieces[:-1]
    assert "".join(p for p in pieces[:-1] if isinstance(p, str)) == pieces[-1].answer
