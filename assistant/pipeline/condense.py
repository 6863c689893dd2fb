"""Stage 1, condense: conversation history -> a standalone question.

A follow-up ("and who did he meet?") leans on earlier turns. Without an LLM it is completed with
the key terms of the recent user questions and the names in the last answer's first sentence, e.g.
"and who did he meet? (Russian delegation, Damascus, Yunus-Bege Evkurov)". With an LLM the model
may rewrite it (see :mod:`assistant.answering.llm`); the heuristic result is the fallback.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.answering.llm import condense_with_llm
from assistant.pipeline.request import Request, Trail
from assistant.text.lexical import STOPWORDS, words, wordset
from assistant.text.question import NOT_NAMES, ask_part, typed_spans
from assistant.text.question import AnswerType as _T
from assistant.types import ChatTurn

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|but|also|so|then|what about|how about|and what|what else|why|tell me more|more)\b",
    re.IGNORECASE,
)
PRONOUNS = wordset("he she him her his hers they them their theirs it its this that these those there then")
MARKER_RE = re.compile(r"\s*\[\d+\]")
MAX_KEYWORDS = 8


@dataclass(frozen=True)
class Standalone:
    """The question to retrieve with, and whether history was used to build it."""

    text: str
    is_follow_up: bool
    previous_answer: str = ""


@dataclass(frozen=True)
class Condensed:
    """A request with the question it is retrieved with."""

    request: Request
    standalone: Standalone
    trail: Trail


class Condense:
    """The condense stage: a follow-up is completed from the recent history (by the heuristic of
    :func:`condense`; in LLM mode, when a model is configured, rewritten by it, the heuristic
    question being the fallback)."""

    def __init__(self, history_turns: int, chat_model: BaseChatModel | None, timeout_s: float) -> None:
        self.history_turns = history_turns
        self.chat_model = chat_model
        self.timeout_s = timeout_s

    def __call__(self, request: Request) -> Condensed:
        clock = time.perf_counter()
        standalone = condense(request.question, request.history, self.history_turns)
        if standalone.is_follow_up and request.mode == "llm" and self.chat_model is not None:
            recent = request.history[-self.history_turns :] if self.history_turns > 0 else ()
            lines = [f"{t.role}: {t.content}" for t in recent]
            rewritten = condense_with_llm(self.chat_model, request.question, lines, self.timeout_s)
            if rewritten:
                standalone = Standalone(rewritten, True, standalone.previous_answer)
        return Condensed(request, standalone, Trail().timed("condense", clock))


def is_follow_up(question: str) -> bool:
    """A question that cannot stand alone: opens like a continuation or leans on a pronoun."""
    tokens = words(question)
    if not tokens:
        return False
    if FOLLOW_UP_START.search(question):
        return True
    content = [t for t in tokens if t not in STOPWORDS]
    return bool(PRONOUNS & set(tokens)) and len(content) <= 4


def condense(question: str, history: Sequence[ChatTurn], max_turns: int = 6) -> Standalone:
    """The question completed from the recent history when it is a follow-up."""
    recent = list(history)[-max_turns:] if max_turns > 0 else []
    if not recent or not is_follow_up(question):
        return Standalone(question, False)
    last_answer = next((t.content for t in reversed(recent) if t.role == "assistant"), "")
    keywords = _keywords(recent, last_answer, question)
    if not keywords:
        return Standalone(question, False)
    return Standalone(f"{question.strip()} ({', '.join(keywords)})", True, last_answer)


def _keywords(recent: Sequence[ChatTurn], last_answer: str, question: str) -> list[str]:
    asked = {w for w in words(question)}
    found: list[str] = []
    for turn in reversed(recent):
        if turn.role == "user":
            found.extend(_phrases(turn.content))
            if len(found) >= MAX_KEYWORDS:
                break
    found.extend(_answer_names(last_answer))
    unique = [k for k in dict.fromkeys(found) if not set(words(k)) <= asked]
    return unique[:MAX_KEYWORDS]


def _phrases(text: str) -> list[str]:
    """Names first, then the remaining content words of a question's asking part and lead."""
    names = list(typed_spans(text, _T.PERSON)) + list(typed_spans(text, _T.PLACE))
    names = [n for n in dict.fromkeys(names) if n.lower() not in NOT_NAMES]
    named = {w for n in names for w in words(n)}
    rest = [w for w in words(ask_part(text) if len(text) > 200 else text) if w not in STOPWORDS]
    return names + [w for w in rest if w not in named and len(w) > 2]


def _answer_names(answer: str) -> list[str]:
    """Names in the first sentence of the last answer (who or what "he" or "it" may be)."""
    first = MARKER_RE.split(answer, maxsplit=1)[0] if answer else ""
    return list(dict.fromkeys(typed_spans(first, _T.PERSON)))[:3]


def strip_markers(text: str) -> str:
    """Answer text without its ``[n]`` markers."""
    return MARKER_RE.sub("", text)
