"""The answering path is one LangChain runnable: condense | scope | retrieve | read | answer | enrich,
each stage taking the value the one before it returned and returning a new one."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from langchain_core.runnables import RunnableGenerator, RunnableLambda, RunnableSequence

from assistant.pipeline.chain import STAGES
from assistant.pipeline.request import Request
from assistant.service import Assistant
from assistant.types import Answer, Cited


def test_the_chain_is_one_runnable_sequence_of_the_six_stages(sample_assistant: Assistant) -> None:
    chain = sample_assistant.chain
    assert isinstance(chain, RunnableSequence)
    assert [step.get_name() for step in chain.steps] == list(STAGES)
    assert all(isinstance(step, RunnableLambda) for step in chain.steps[:4])
    assert all(isinstance(step, RunnableGenerator) for step in chain.steps[4:])


def test_streaming_the_chain_gives_the_pieces_then_the_answer(sample_assistant: Assistant) -> None:
    pieces = list(sample_assistant.stream("Who met in Damascus?"))
    assert isinstance(pieces[-2], Cited) and isinstance(pieces[-1], Answer)
    assert all(isinstance(p, str) for p in pieces[:-2]) and pieces[:-2]
    assert "".join(p for p in pieces[:-2] if isinstance(p, str)) == pieces[-1].answer


def test_each_stage_returns_a_new_frozen_value_and_leaves_its_input_as_it_was(
    sample_assistant: Assistant,
) -> None:
    pipeline = sample_assistant.pipeline
    request = Request("Who led the Russian delegation to Damascus last week?", today=date(2024, 1, 10))
    condensed = pipeline.condense(request.accepted(2000, "extractive"))
    scoped = pipeline.scope(condensed)
    found = pipeline.retrieve(scoped)
    before = [dataclasses.astuple(c) for c in found.retrieval.candidates]
    reading = pipeline.read(found)
    for value in (request, condensed, scoped, found, reading):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, "request", None)  # noqa: B010 (the frozen check of any field)
    assert [dataclasses.astuple(c) for c in found.retrieval.candidates] == before
    assert scoped.dated is not None and scoped.dated.published_from == "2024-01-01"
    assert [n for n in reading.trail.notices if "dates" in n]  # the retrieve stage decided the scope
    assert [name for name, _ in reading.trail.timings][:1] == ["condense"]


def test_trace_walks_the_same_stages_and_keeps_the_retrieval(sample_assistant: Assistant) -> None:
    answer, retrieval = sample_assistant.trace(Request("Who led the Russian delegation to Damascus?"))
    asked = sample_assistant.ask("Who led the Russian delegation to Damascus?")
    assert answer.answer == asked.answer and answer.citations == asked.citations
    assert {c.doc_id for c in answer.citations} <= {c.doc_id for c in retrieval.candidates}
