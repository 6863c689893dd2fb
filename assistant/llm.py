"""The optional LLM answerer, and the checks every sentence of its reply must pass.

The prompt (``prompts/answer_system.txt``, ``prompts/answer_user.txt``) gives the numbered evidence
sentences JSON-encoded between two lines carrying a random fence token, so evidence cannot close the
block or pose as instructions. The reply is read sentence by sentence as it streams:

* a marker ``[n]`` naming no evidence sentence is removed; a sentence left with no valid marker is
  dropped (and counted in a notice), so nothing uncited is ever shown as cited;
* links, HTML tags and Markdown markup that occur in no evidence sentence are removed;
* the kept markers are renumbered 1..k in order of first use, matching the answer's citations.

Any failure (endpoint error, timeout, empty or malformed reply, nothing left after the checks) is
reported as a failed :class:`LLMOutcome`; the service then falls back to the extractive answer.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.prompts import render
from ingest.errors import ConfigError
from ingest.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

NOT_FOUND = "NOT_FOUND"
MARKER_RE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
SPLIT_RE = re.compile(r"(?<=[.!?\]\"”])\s+(?=[A-Z0-9“\"'(])")
URL_RE = re.compile(r"(?:https?://|www\.)[^\s\])>\"']+", re.IGNORECASE)
MD_LINK_RE = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
HTML_TAG_RE = re.compile(r"</?[A-Za-z][^>]*>")
MD_MARKUP_RE = re.compile(r"(\*\*|__|`{1,3}|^#{1,6}\s+|^\s*[-*+]\s+|^\s*>\s*)", re.MULTILINE)


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """A ChatOpenAI client for the configured OpenAI-compatible endpoint, or None if none is set."""
    if not settings.llm_base_url:
        return None
    if settings.llm_timeout_s <= 0:
        raise ConfigError(f"llm_timeout_s must be positive, got {settings.llm_timeout_s}")
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    key = settings.llm_api_key or SecretStr("not-needed")
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key,
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=settings.llm_temperature,
    )


@dataclass(frozen=True)
class Evidence:
    """One numbered evidence sentence as shown to the LLM."""

    n: int
    text: str
    source: str = ""
    published: str = ""


def evidence_block(evidence: Sequence[Evidence]) -> str:
    """One line per evidence sentence: ``[n] (outlet, date) "JSON-encoded sentence"``."""
    return "\n".join(f"[{e.n}] ({_label(e)}) {json.dumps(e.text, ensure_ascii=False)}" for e in evidence)


def _label(e: Evidence) -> str:
    return f"{e.source or 'unknown outlet'}, {e.published or 'undated'}"


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


class ReplyChecker:
    """Checks reply sentences against the evidence and renumbers their markers."""

    def __init__(self, evidence: Sequence[Evidence]) -> None:
        self.numbers = {e.n for e in evidence}
        self.evidence_text = " ".join(e.text for e in evidence)
        self.order: list[int] = []
        self.dropped_sentences = 0
        self.dropped_markers = 0
        self.removed_markup = 0

    def check(self, sentence: str) -> str | None:
        """The sentence as shown (markers renumbered), or None when it cites no evidence."""
        cleaned = self._clean_markup(sentence)
        cited: list[int] = []
        for match in MARKER_RE.finditer(cleaned):
            for number in (int(x) for x in re.split(r"[,;]", match.group(1))):
                if number in self.numbers:
                    cited.append(number)
                else:
                    self.dropped_markers += 1
        body = " ".join(MARKER_RE.sub("", cleaned).split())
        body = re.sub(r"\s+([.,;:!?])", r"\1", body)
        if not cited or not re.search(r"\w", body):
            self.dropped_sentences += 1 if body.strip() else 0
            return None
        marks = "".join(f"[{self._renumber(n)}]" for n in dict.fromkeys(cited))
        return f"{body} {marks}"

    def _renumber(self, number: int) -> int:
        if number not in self.order:
            self.order.append(number)
        return self.order.index(number) + 1

    def _clean_markup(self, text: str) -> str:
        before = text
        text = MD_LINK_RE.sub(
            lambda m: m.group(1) if m.group(2) not in self.evidence_text else m.group(0), text
        )
        text = URL_RE.sub(lambda m: m.group(0) if m.group(0) in self.evidence_text else "", text)
        text = HTML_TAG_RE.sub(lambda m: m.group(0) if m.group(0) in self.evidence_text else "", text)
        text = MD_MARKUP_RE.sub("", text)
        if text != before:
            self.removed_markup += 1
        return text

    def notices(self) -> list[str]:
        out = []
        if self.dropped_sentences:
            out.append(
                f"Removed {self.dropped_sentences} sentence(s) of the LLM reply that cited no evidence."
            )
        if self.dropped_markers:
            out.append(f"Removed {self.dropped_markers} citation marker(s) naming no evidence sentence.")
        if self.removed_markup:
            out.append("Removed links or markup that are not in the evidence.")
        return out


class SentenceBuffer:
    """Collects streamed text and releases it sentence by sentence."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, piece: str) -> list[str]:
        self.text += piece
        parts = SPLIT_RE.split(self.text)
        self.text = parts[-1]
        return [p for p in parts[:-1] if p.strip()]

    def flush(self) -> list[str]:
        rest, self.text = self.text, ""
        return [p for p in SPLIT_RE.split(rest) if p.strip()]


class LLMAnswerer:
    """Streams a checked answer from a chat model; reports failure instead of raising."""

    def __init__(self, chat_model: BaseChatModel) -> None:
        self.chat_model = chat_model

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | LLMOutcome]:
        """Checked answer pieces (str), then the :class:`LLMOutcome`."""
        checker = ReplyChecker(evidence)
        buffer = SentenceBuffer()
        shown: list[str] = []
        raw: list[str] = []
        try:
            for chunk in self.chat_model.stream(answer_messages(question, evidence)):
                piece = _chunk_text(chunk.content)
                raw.append(piece)
                for sentence in buffer.feed(piece):
                    yield from _emit(checker.check(sentence), shown)
        except Exception as exc:  # any endpoint, transport or timeout error of any provider
            if not shown:
                yield LLMOutcome(failed=True, reason=f"the LLM endpoint failed ({type(exc).__name__}: {exc})")
                return
            checker_notice = "The LLM reply was cut short by an error; showing what was checked."
            yield LLMOutcome(" ".join(shown), checker.order, [checker_notice, *checker.notices()])
            return
        reply = "".join(raw).strip()
        if reply.startswith(NOT_FOUND) or reply.endswith(NOT_FOUND):
            yield LLMOutcome(grounded=False, reason="the evidence does not answer the question")
            return
        for sentence in buffer.flush():
            yield from _emit(checker.check(sentence), shown)
        if not shown:
            why = "an empty reply" if not reply else "no sentence citing the evidence"
            yield LLMOutcome(failed=True, reason=f"the LLM gave {why}", notices=checker.notices())
            return
        yield LLMOutcome(" ".join(shown), checker.order, checker.notices())


def _emit(sentence: str | None, shown: list[str]) -> Iterator[str]:
    if sentence is None:
        return
    yield (" " if shown else "") + sentence
    shown.append(sentence)


def _chunk_text(content: object) -> str:
    """Text of a message chunk (content may be a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, str | dict)
        )
    raise TypeError(f"unexpected LLM message content of type {type(content).__name__}")


def condense_with_llm(chat_model: BaseChatModel, question: str, history_lines: Sequence[str]) -> str | None:
    """A standalone question rewritten by the LLM, or None when it fails or answers oddly."""
    from langchain_core.messages import HumanMessage

    fence = f"CHAT-{secrets.token_hex(6)}"
    prompt = render("condense", fence=fence, history="\n".join(history_lines), question=question)
    try:
        reply = chat_model.invoke([HumanMessage(content=prompt)])
        text = " ".join(_chunk_text(reply.content).split())
    except Exception:  # the heuristic standalone question is the fallback
        return None
    if not text or len(text) > 400 or fence in text:
        return None
    return text
