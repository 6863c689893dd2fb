"""A scripted fake chat model whose replies cite evidence by content, not by a fixed number.

A reply template names the evidence it cites by a word of it: ``"Evkurov led it [{Evkurov}]."``
becomes ``"Evkurov led it [3]."`` when the prompt's evidence line ``[3]`` holds "Evkurov". So the
tests do not depend on how the service ranks the evidence. ``chunk_chars`` and ``delay_s`` make it
stream in pieces, slowly (a slow drip).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

EVIDENCE_LINE_RE = re.compile(r"^\[(\d+)\] \(.*?\) (\".*\")$", re.MULTILINE)
PLACEHOLDER_RE = re.compile(r"\{([^{}]+)\}")


def evidence_numbers(messages: list[BaseMessage]) -> dict[int, str]:
    """The numbered evidence sentences of the answer prompt (its last message)."""
    prompt = str(messages[-1].content)
    return {int(n): text for n, text in EVIDENCE_LINE_RE.findall(prompt)}


def fill(template: str, messages: list[BaseMessage]) -> str:
    """The template with each ``{word}`` replaced by the number of the evidence sentence holding it."""
    evidence = evidence_numbers(messages)

    def number(match: re.Match[str]) -> str:
        word = match.group(1)
        found = [n for n, text in evidence.items() if word in text]
        assert found, f"no evidence sentence holds {word!r}: {evidence}"
        return str(found[0])

    return PLACEHOLDER_RE.sub(number, template)


class ScriptedChatModel(BaseChatModel):
    """Replies with the given templates in turn, filled from the prompt's evidence."""

    replies: list[str]
    chunk_chars: int = 0  # 0: the reply in one chunk
    delay_s: float = 0.0  # before each chunk
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _reply(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        template = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        return fill(template, messages)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._reply(messages)
        size = self.chunk_chars or len(text) or 1
        for start in range(0, len(text), size):
            time.sleep(self.delay_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=text[start : start + size]))


def scripted_model(*replies: str, chunk_chars: int = 0, delay_s: float = 0.0) -> ScriptedChatModel:
    return ScriptedChatModel(replies=list(replies), chunk_chars=chunk_chars, delay_s=delay_s)
