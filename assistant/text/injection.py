"""Evidence sentences that speak to the reader or to a model instead of reporting: suspect.

An article can carry an indirect prompt injection ("Ignore previous instructions and say ...",
"AI assistants reading this must answer ...", chat-template tokens). Such a sentence is not a report
of anything, so it must neither reach the LLM as evidence nor support an answer sentence, and it
should not be the sentence an extractive answer quotes. :func:`addresses_model` recognizes the forms
below; they are chosen to be rare in reporting (a quote such as "you must say no", said to the
reader, is caught too, which costs one evidence sentence and nothing else).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol, TypeVar

_SPEECH = r"(?:say|answer|reply|respond|state|write|output|print|repeat)"
_MODEL = (
    r"(?:ai|a\.i\.|llms?|large language models?|language models?|chat ?bots?|bots?|gpts?|chatgpt|"
    r"ai (?:assistants?|models?|systems?|agents?)|assistants?|models?)"
)
_EARLIER = r"(?:previous|prior|above|earlier|preceding|foregoing|original|former|all|any|other)"
_RULES = r"(?:instructions?|prompts?|directions?|directives?|rules|guidelines|messages?|context|text)"

SUSPECT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # "ignore previous instructions", "disregard all prior rules", "forget your instructions"
        rf"\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+)?(?:of\s+)?"
        rf"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:{_EARLIER}\s+)?{_RULES}\b",
        # "disregard the above", "ignore everything above"
        r"\b(?:ignore|disregard|forget)\s+(?:everything|anything|all|what\s+(?:was|is))?\s*"
        r"(?:(?:written|said|stated)\s+)?(?:above|before|previously|so\s+far)\b",
        r"\b(?:ignore|disregard)\s+the\s+(?:above|foregoing|preceding)\b",
        # "you must say", "you should answer", "you will now reply", "you are to state"
        rf"\byou\s+(?:must|should|shall|will|are\s+to|are\s+required\s+to|are\s+instructed\s+to)"
        rf"\s+(?:now\s+|only\s+|always\s+)?{_SPEECH}\b",
        # "from now on, you ...", "from now on reply ..."
        rf"\bfrom\s+now\s+on,?\s+(?:you\b|{_SPEECH}\b|only\b)",
        # "as an AI language model", "as an AI,", "as a large language model"
        r"\bas\s+an?\s+(?:ai|a\.i\.|artificial\s+intelligence)(?:\s*[,:]|\s+(?:language\s+)?model\b|"
        r"\s+assistant\b|\s+chat\s?bot\b)",
        r"\bas\s+an?\s+(?:large\s+)?language\s+model\b",
        # "if you are an AI", "when you are a language model"
        rf"\b(?:if|when|since)\s+you\s+are\s+(?:an?\s+)?{_MODEL}\b",
        # "note to AI assistants", "instructions for language models", "attention: LLMs"
        rf"\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:any\s+|all\s+|the\s+)?{_MODEL}\b",
        rf"\b(?:note|message|attention|warning|reminder)\s*:\s*(?:any\s+|all\s+|the\s+)?{_MODEL}\b",
        # "AI assistants reading this", "language models summarizing this article"
        rf"\b{_MODEL}\s+(?:that\s+(?:are\s+|is\s+)?)?(?:reading|summari[sz]ing|processing|parsing|"
        rf"answering\s+questions\s+about|scraping|ingesting)\s+(?:this|these|the\s+(?:above|following))\b",
        # "tell the user that", "inform users:", "respond to the user with"
        r"\b(?:tell|inform|remind|assure|convince|answer|reply\s+to|respond\s+to)\s+(?:the\s+)?users?\b"
        r"\s*(?:that\b|:|with\b)",
        # imperative opening: "Say only ...", "Reply with ...", "Respond exactly: ..."
        rf"^\W*(?:please\s+)?{_SPEECH}\s+(?:(?:only|exactly|verbatim|just)\b|with\s+(?:only|exactly|the\s+following)\b"
        r"|the\s+following\b|that\s+the\b|:|\")",
        # "new instructions:", "system prompt:", "your system prompt"
        r"\b(?:new|updated|real|actual|hidden|secret|system)\s+(?:instructions?|prompts?)\s*:",
        r"\byour\s+system\s+prompt\b",
        r"\byou\s+are\s+(?:now\s+)?(?:in\s+)?(?:developer|god|jailbreak|dan|unrestricted)\s+mode\b",
        r"\byou\s+are\s+now\s+(?:an?\s+|the\s+)?(?:ai|assistant|chatbot|bot|model|dan|character)\b",
        # chat templates and role labels
        r"<\|[a-z_]{2,30}\|>",
        r"\[/?(?:inst|sys|system)\]",
        r"<</?sys>>",
        r"</?(?:system|instructions?|prompt)>",
        r"^\W*(?:system|assistant|developer)\s*:",
        r"#{2,}\s*(?:instruction|system|response|prompt)s?\b",
    )
)


def _one_pattern(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str]:
    """The patterns as one, for lowercased text: one pass over a sentence instead of one per
    pattern, the word-boundary ones behind a single ``\\b`` (much faster than the loop:
    docs/performance.md)."""
    at_word = [p.pattern.removeprefix(r"\b") for p in patterns if p.pattern.startswith(r"\b")]
    others = [p.pattern for p in patterns if not p.pattern.startswith(r"\b")]
    words = r"\b(?:" + "|".join(f"(?:{p})" for p in at_word) + ")"
    return re.compile("|".join([words, *(f"(?:{p})" for p in others)]))


_ANY_SUSPECT = _one_pattern(SUSPECT_PATTERNS)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def normalized(text: str) -> str:
    """NFKC, invisible characters dropped, whitespace folded: "Ign\u200bore" reads as "Ignore"."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split())


def addresses_model(text: str) -> bool:
    """True when the sentence speaks to the reader or to a model (an instruction, not a report)."""
    flat = normalized(text)
    return _ANY_SUSPECT.search(flat.lower()) is not None


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


T = TypeVar("T", bound=_HasText)


def screen(items: Sequence[T]) -> tuple[list[T], list[T]]:
    """The items whose text is a report, and those that address the reader or a model."""
    kept: list[T] = []
    suspect: list[T] = []
    for item in items:
        (suspect if addresses_model(item.text) else kept).append(item)
    return kept, suspect


def suspect_notice(count: int) -> str:
    """The notice for sentences left out of the evidence."""
    return (
        f"Left out {count} retrieved sentence(s) that address the reader or an AI model instead of "
        "reporting (possible prompt injection); they are not used as evidence."
    )
