"""LLM mode against a real local model: llama-cpp-python's OpenAI-compatible server on 127.0.0.1
with Gemma 3 270M (tests/llama_server.py). The model is tiny, so these tests assert behaviour, not
answer quality: streaming, the citation and support checks, the length and time limits, and the
fallback to the extractive answer when the server dies mid-reply."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from assistant.answering.evidence import Evidence
from assistant.answering.llm import answer_messages, build_chat_model
from assistant.answering.reply import MARKER_RE
from assistant.pipeline.request import Request
from assistant.service import Assistant
from assistant.types import Answer
from tests.conftest import SAMPLE
from tests.llama_server import LlamaServer, doomed_llama_server, gguf_model, llama_server

pytestmark = pytest.mark.llm
__all__ = ["doomed_llama_server", "gguf_model", "llama_server"]  # fixtures used below
QUESTION = "Who led the Russian delegation to Damascus?"


def assistant_on(base: Assistant, server: LlamaServer, **limits: object) -> Assistant:
    settings = server.settings(base.settings, **limits)
    return Assistant(settings, base.components, build_chat_model(settings.llm))


def ask_streaming(assistant: Assistant) -> tuple[list[str], Answer, float]:
    started = time.monotonic()
    pieces: list[str] = []
    answer: Answer | None = None
    for item in assistant.stream(Request.of(QUESTION, mode="llm")):
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, str):
            pieces.append(item)
    assert answer is not None
    return pieces, answer, time.monotonic() - started


def test_real_model_answer_streams_in_pieces_that_cite_their_own_sentences(
    sample_assistant: Assistant, llama_server: LlamaServer
) -> None:
    assistant = assistant_on(sample_assistant, llama_server, llm_max_tokens=200, llm_timeout_s=120.0)
    pieces, answer, _ = ask_streaming(assistant)
    assert pieces and "".join(pieces) == answer.answer
    if answer.mode == "extractive":  # the checks left nothing of the reply: the fallback says so
        assert any("Showing the extractive answer" in n for n in answer.notices)
        return
    assert answer.grounded and answer.citations
    for citation in answer.citations:
        assert (
            citation.sentence
            == sample_assistant.document(citation.doc_id).text[citation.char_start : citation.char_end]
        )
    for sentence, marks in _sentences_with_markers(answer.answer):
        assert marks and all(1 <= n <= len(answer.citations) for n in marks)
        quoted = [c for c in answer.citations if c.sentence in sentence]
        assert all(c.n in marks for c in quoted), f"{sentence!r} quotes a sentence it does not cite"


def _sentences_with_markers(text: str) -> Iterator[tuple[str, list[int]]]:
    """Each answer sentence with the marker numbers after it."""
    for match in re.finditer(r"(.+?)((?:\s*\[\d+\])+)(?=\s|$)", text):
        yield match.group(1), [int(n) for n in MARKER_RE.findall(match.group(2))]


def test_real_server_stops_at_llm_max_tokens(sample_assistant: Assistant, llama_server: LlamaServer) -> None:
    settings = llama_server.settings(sample_assistant.settings, llm_max_tokens=12, llm_timeout_s=120.0)
    model = build_chat_model(settings.llm)
    assert model is not None
    sentences = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    reply = model.invoke(answer_messages(QUESTION, [Evidence(n, s) for n, s in enumerate(sentences, 1)]))
    assert reply.response_metadata["finish_reason"] == "length"
    assert reply.response_metadata["token_usage"]["completion_tokens"] <= 12


def test_real_model_reply_cut_at_the_token_limit_is_reported(
    sample_assistant: Assistant, llama_server: LlamaServer
) -> None:
    assistant = assistant_on(sample_assistant, llama_server, llm_max_tokens=24, llm_timeout_s=120.0)
    _, answer, _ = ask_streaming(assistant)
    assert answer.grounded
    assert any("token limit" in n for n in answer.notices)


def test_real_model_reply_is_cut_off_at_llm_timeout_s(
    sample_assistant: Assistant, llama_server: LlamaServer
) -> None:
    assistant = assistant_on(sample_assistant, llama_server, llm_max_tokens=400, llm_timeout_s=3.0)
    _, answer, took = ask_streaming(assistant)
    assert took < 3.0 + 5.0  # the reply's 3 s, plus retrieval and the extractive fallback
    assert answer.grounded
    assert any("cut off" in n and "3 s" in n for n in answer.notices)


class KillsServerAfterChunks:
    """The real chat model, whose server is killed (SIGKILL) once a few chunks have arrived."""

    def __init__(self, model: BaseChatModel, server: LlamaServer, chunks: int) -> None:
        self.model, self.server, self.chunks = model, server, chunks

    async def astream(self, messages: Any) -> AsyncIterator[Any]:
        n = 0
        async for chunk in self.model.astream(messages):
            yield chunk
            n += 1
            if n == self.chunks:
                self.server.kill()


def test_server_dying_mid_reply_falls_back_to_the_extractive_answer(
    sample_assistant: Assistant, doomed_llama_server: LlamaServer
) -> None:
    settings = doomed_llama_server.settings(sample_assistant.settings, llm_timeout_s=60.0)
    model = build_chat_model(settings.llm)
    assert model is not None
    dying = KillsServerAfterChunks(model, doomed_llama_server, chunks=3)
    assistant = Assistant(settings, sample_assistant.components, dying)  # type: ignore[arg-type]
    _, answer, took = ask_streaming(assistant)
    assert doomed_llama_server.proc is not None and doomed_llama_server.proc.poll() is not None
    assert answer.mode == "extractive" and answer.grounded and took < 60.0
    assert "Yunus-Bege Evkurov" in answer.citations[0].sentence
    assert any("Showing the extractive answer: the LLM endpoint failed" in n for n in answer.notices)
