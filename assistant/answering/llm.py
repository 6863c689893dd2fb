"""The optional LLM answerer, and the checks every sentence of its reply must pass.

The prompt (``prompts/answer_system.txt``, ``prompts/answer_user.txt``) gives the numbered evidence
sentences JSON-encoded between two lines carrying a random fence token, so evidence cannot close the
block or pose as instructions. The reply is read sentence by sentence as it streams, each sentence
with the markers that belong to it (after it; or before it, when the first marker starts a line):

* a marker ``[n]`` naming no evidence sentence is removed; a sentence left with no valid marker is
  dropped (and counted in a notice), so nothing uncited is ever shown as cited;
* a sentence the evidence it cites does not support (:mod:`assistant.answering.support`: its numbers and
  enough of its words, or its meaning, must be in the cited sentences, and an evidence sentence
  that addresses a model supports nothing) is dropped and counted in a notice;
* a sentence repeating one already shown (the same words, or a near-repeat:
  :mod:`assistant.answering.reply_repeats`) is dropped, never streamed, and counted in a notice;
* links, HTML tags, Markdown markup and "(outlet, date)" labels that are not evidence are removed;
* the kept markers are renumbered 1..k in order of first use, matching the answer's citations.

The whole reply gets ``llm_timeout_s`` seconds and ``llm_max_reply_chars`` characters (and the
model is asked for at most ``llm_max_tokens``); past a limit it is cut off. Any failure (endpoint
error, timeout, empty or malformed reply, nothing left after the checks) is reported as a failed
:class:`LLMOutcome`; the service then falls back to the extractive answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.answering.bounded import DeadlinePassed, within, within_call
from assistant.answering.evidence import Evidence, evidence_block
from assistant.answering.prompts import render
from assistant.answering.reply import NOT_FOUND, ReplyChecker, ReplySplitter
from assistant.answering.support import Embed
from assistant.core.errors import ConfigError
from assistant.core.sections import LLMSettings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage


def build_chat_model(settings: LLMSettings) -> BaseChatModel | None:
    """A ChatOpenAI client for the configured OpenAI-compatible endpoint, or None if none is set.

    The reply's token limit goes out as ``llm_max_tokens_field``: ChatOpenAI itself sends
    ``max_completion_tokens``, which OpenAI's newer models require but servers such as
    llama-cpp-python's ignore (they read ``max_tokens``); sending both breaks others."""
    if not settings.llm_base_url:
        return None
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    key = settings.llm_api_key or SecretStr("not-needed")
    limit: dict[str, Any] = (
        {"max_tokens": settings.llm_max_tokens}
        if settings.llm_max_tokens_field == "max_completion_tokens"
        else {"extra_body": {"max_tokens": settings.llm_max_tokens}}
    )
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=settings.llm_temperature,
        **limit,
    )


def answer_messages(question: str, evidence: Sequence[Evidence]) -> list[BaseMessage]:
    """System and user messages of the answer prompt, evidence fenced by a random token."""
    from langchain_core.messages import HumanMessage, SystemMessage

    fence = f"EVIDENCE-{secrets.token_hex(6)}"
    system = render("answer_system", not_found=NOT_FOUND)
    user = render("answer_user", question=question, fence=fence, evidence=evidence_block(evidence))
    return [SystemMessage(content=system), HumanMessage(content=user)]


@dataclass
class LLMOutcome:
    """The checked reply: text with renumbered markers and the evidence numbers cited, in order."""

    text: str = ""
    cited: list[int] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    grounded: bool = True
    failed: bool = False
    reason: str = ""


class LLMAnswerer:
    """Streams a checked answer from a chat model; reports failure instead of raising.

    The whole reply gets ``timeout_s`` seconds and ``max_chars`` characters: past either it is
    cut off, keeping the sentences already checked (or, when there are none, failing)."""

    def __init__(
        self,
        chat_model: BaseChatModel,
        timeout_s: float = 30.0,
        max_chars: int = 2000,
        embed: Embed | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"llm_timeout_s must be positive, got {timeout_s}")
        if max_chars < 1:
            raise ConfigError(f"llm_max_reply_chars must be at least 1, got {max_chars}")
        self.chat_model = chat_model
        self.timeout_s = timeout_s
        self.max_chars = max_chars
        self.embed = embed

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | LLMOutcome]:
        """Checked answer pieces (str), then the :class:`LLMOutcome`."""
        reply = _Reply(ReplyChecker(evidence, self.embed))
        messages = answer_messages(question, evidence)
        at_token_limit = False
        try:
            for chunk in within(self.timeout_s, lambda: self.chat_model.astream(messages)):
                at_token_limit = at_token_limit or chunk.response_metadata.get("finish_reason") == "length"
                piece = _chunk_text(chunk.content)
                room = self.max_chars - reply.length
                yield from reply.feed(piece[:room])
                if len(piece) > room:
                    yield from reply.cut(f"it passed {self.max_chars} characters (llm_max_reply_chars)")
                    return
        except DeadlinePassed:
            yield from reply.cut(f"it took longer than {self.timeout_s:g} s (llm_timeout_s)")
            return
        except Exception as exc:  # any endpoint, transport or timeout error of any provider
            yield from reply.broken(exc)
            return
        if at_token_limit:
            yield from reply.cut("it reached the token limit, llm_max_tokens")
            return
        yield from reply.finish()


class _Reply:
    """One reply as it streams: raw text, the checked sentences shown, and how it ended."""

    def __init__(self, checker: ReplyChecker) -> None:
        self.checker = checker
        self.splitter = ReplySplitter()
        self.raw: list[str] = []
        self.shown: list[str] = []
        self.length = 0

    def feed(self, piece: str) -> Iterator[str]:
        self.raw.append(piece)
        self.length += len(piece)
        for sentence in self.splitter.feed(piece):
            yield from self._emit(sentence)

    def _emit(self, sentence: str) -> Iterator[str]:
        checked = self.checker.check(sentence)
        if checked is not None:
            yield (" " if self.shown else "") + checked
            self.shown.append(checked)

    def _outcome(self, notices: Sequence[str] = ()) -> LLMOutcome:
        return LLMOutcome(" ".join(self.shown), self.checker.order, [*notices, *self.checker.notices()])

    def cut(self, why: str) -> Iterator[str | LLMOutcome]:
        """The reply stopped by a limit: its complete sentences count, the rest is dropped."""
        for sentence in self.splitter.flush(complete_only=True):
            yield from self._emit(sentence)
        if not self.shown:
            yield LLMOutcome(
                failed=True, reason=f"the LLM reply was cut off: {why}", notices=self.checker.notices()
            )
            return
        yield self._outcome(
            [f"The LLM reply was cut off ({why}); showing the sentences checked before that."]
        )

    def broken(self, exc: Exception) -> Iterator[LLMOutcome]:
        if not self.shown:
            yield LLMOutcome(failed=True, reason=f"the LLM endpoint failed ({type(exc).__name__}: {exc})")
            return
        yield self._outcome(["The LLM reply was cut short by an error; showing what was checked."])

    def finish(self) -> Iterator[str | LLMOutcome]:
        text = "".join(self.raw).strip()
        if text.startswith(NOT_FOUND) or text.endswith(NOT_FOUND):
            yield LLMOutcome(grounded=False, reason="the evidence does not answer the question")
            return
        for sentence in self.splitter.flush():
            yield from self._emit(sentence)
        if not self.shown:
            why = "an empty reply" if not text else "no sentence citing the evidence"
            if self.checker.unsupported:
                why = "no sentence that the evidence it cites supports"
            yield LLMOutcome(failed=True, reason=f"the LLM gave {why}", notices=self.checker.notices())
            return
        yield self._outcome()


def _chunk_text(content: object) -> str:
    """Text of a message chunk (content may be a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, str | dict)
        )
    raise TypeError(f"unexpected LLM message content of type {type(content).__name__}")


def condense_with_llm(
    chat_model: BaseChatModel, question: str, history_lines: Sequence[str], timeout_s: float = 30.0
) -> str | None:
    """A standalone question rewritten by the LLM (within ``timeout_s`` in all), or None when it
    fails or answers oddly."""
    from langchain_core.messages import HumanMessage

    fence = f"CHAT-{secrets.token_hex(6)}"
    prompt = render("condense", fence=fence, history="\n".join(history_lines), question=question)
    try:
        reply = within_call(timeout_s, lambda: chat_model.ainvoke([HumanMessage(content=prompt)]))
        text = " ".join(_chunk_text(reply.content).split())
    except Exception:  # the heuristic standalone question is the fallback
        return None
    if not text or len(text) > 400 or fence in text:
        return None
    return text
