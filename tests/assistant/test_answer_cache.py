"""Repeated questions are answered from the answer cache while the store is unchanged, and afresh
after any write; LLM answers and abandoned streams are not kept (real model, real Chroma)."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import date
from pathlib import Path
from typing import cast

from assistant.core.settings import Settings
from assistant.pipeline.cache import AnswerCache
from assistant.pipeline.request import Request
from assistant.service import create_assistant
from assistant.types import Answer, Cited, Filters, StreamItem
from ingest.embedding.embedder import Embedder
from tests.conftest import SAMPLE

QUESTION = "Where were the talks held?"


def test_a_repeated_question_is_given_the_kept_answer_until_an_article_is_written(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")
    assistant = create_assistant(settings, embedder=embedder)
    assistant.ingest_sources([str(SAMPLE)])
    first = list(assistant.stream(QUESTION))
    again = list(assistant.stream(QUESTION))
    assert [type(item) for item in again] == [type(item) for item in first]
    made, kept = first[-1], again[-1]
    assert isinstance(made, Answer) and isinstance(kept, Answer) and isinstance(again[-2], Cited)
    assert made.citations and kept.model_dump(exclude={"timings_ms"}) == made.model_dump(
        exclude={"timings_ms"}
    )
    assert {"embed", "answer"} <= set(made.timings_ms) and set(kept.timings_ms) == {"cache", "total"}
    citations = list(made.citations)
    made.citations.clear()  # a caller changing what it was given changes nothing kept
    kept.citations.clear()
    assert assistant.ask(QUESTION).citations == citations

    other = assistant.ask(Request.of(QUESTION, today=date(2031, 1, 1)))  # another day: not the same request
    assert "cache" not in other.timings_ms
    llm = [assistant.ask(Request.of(QUESTION, mode="llm")) for _ in range(2)]
    assert all("cache" not in answer.timings_ms for answer in llm)

    extra = tmp_path / "ferry.txt"
    extra.write_text("The Quendale ferry resumed service on Monday after repairs. " * 12, encoding="utf-8")
    assistant.ingest_sources([str(extra)])
    after = assistant.ask(QUESTION)
    assert "cache" not in after.timings_ms and after.citations == citations


def test_the_cache_keeps_the_last_answers_and_only_streams_read_to_their_end() -> None:
    calls: list[str] = []
    generation = ["g1"]

    def answer(request: Request) -> Iterator[StreamItem]:
        calls.append(request.question)
        yield "text"
        yield Answer(question=request.question, answer="text", grounded=True)

    cache = AnswerCache(2, lambda: generation[0])

    def ask(question: str, **kwargs: object) -> list[StreamItem]:
        return list(cache.stream(Request.of(question, mode="extractive", **kwargs), answer))  # type: ignore[arg-type]

    for question in ("a", "b", "a", "c", "b"):  # "b" was the least recently used when "c" came
        ask(question)
    assert calls == ["a", "b", "c", "b"] and len(cache) == 2
    ask("a", filters=Filters(sources=["wire"]))
    assert calls[-1] == "a"
    abandoned = cast(Generator[StreamItem], cache.stream(Request.of("d", mode="extractive"), answer))
    next(abandoned)
    abandoned.close()
    ask("d")
    assert calls[-2:] == ["d", "d"]
    generation[0] = "g2"  # a write: nothing kept before it is given again
    ask("d")
    assert calls[-1] == "d" and calls.count("d") == 3
    off = AnswerCache(0, lambda: generation[0])
    list(off.stream(Request.of("e", mode="extractive"), answer))
    list(off.stream(Request.of("e", mode="extractive"), answer))
    assert calls.count("e") == 2 and len(off) == 0
