"""The answer object: the same in every front end (CLI, Gradio, HTTP API), so they cannot drift.

A citation points into an article's canonical text: ``sentence == text[char_start:char_end]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from assistant.core.types import safe_url


def _web_url(url: str) -> str:
    return safe_url(url) or ""


WebUrl = Annotated[str, AfterValidator(_web_url)]
"""An http(s) URL or "": a stored link from before ingest refused other schemes is dropped."""


class Filters(BaseModel):
    """Restrict the evidence: published date range (ISO dates, inclusive) and sources (outlets)."""

    published_from: str | None = None
    published_to: str | None = None
    sources: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.published_from or self.published_to or self.sources)


class ChatTurn(BaseModel):
    """One earlier turn of the conversation."""

    role: Literal["user", "assistant"]
    content: str


class CitationRef(BaseModel):
    """A short reference to another sentence (used by corroboration and syndication)."""

    doc_id: str
    title: str = ""
    source: str = ""
    url: WebUrl = ""
    published: str = ""
    char_start: int = 0
    char_end: int = 0
    sentence: str = ""


class Corroboration(BaseModel):
    """How many independent stories (different story groups and outlets) say the same thing."""

    count: int = 1
    supporting: list[CitationRef] = Field(default_factory=list)


class Citation(BaseModel):
    """One cited sentence; ``n`` is the number used by the ``[n]`` marker in the answer text."""

    n: int
    sentence: str
    doc_id: str
    title: str = ""
    url: WebUrl = ""
    published: str = ""
    source: str = ""
    char_start: int
    char_end: int
    score: float = 0.0
    deep_link: WebUrl = ""
    dates: dict[str, str] = Field(default_factory=dict)
    also_published_by: list[str] = Field(default_factory=list)
    corroboration: Corroboration | None = None
    archive: str = Field(
        "", description="The archive of the cited article, when asked through /api/archives/{names}/ask."
    )


class ShortAnswer(BaseModel):
    """The answer itself inside the first cited sentence ("Colorado Avalanche", "115"):
    ``text == canonical_text[char_start:char_end]`` of article ``doc_id``."""

    text: str
    doc_id: str
    char_start: int
    char_end: int


class Answer(BaseModel):
    """An answer with ``[n]`` markers, its citations, and how it was produced."""

    question: str
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    short_answer: ShortAnswer | None = Field(
        None, description="The span of the first cited sentence that answers the question, if any."
    )
    grounded: bool
    mode: Literal["extractive", "llm"] = "extractive"
    standalone_question: str = ""
    notices: list[str] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list)
    as_of: str = ""
    filters_applied: Filters | None = Field(
        None,
        description="The filters the evidence search used (the caller's, or a date range read from "
        "the question); null = all articles.",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)


@dataclass(frozen=True)
class Cited:
    """The answer and its citations as soon as they are composed, before the news fields
    (corroboration, syndicated copies, anchored dates, corrections) are added: a stream gives it
    before the complete :class:`Answer`, so a reader sees the cited sentences first."""

    answer: Answer


StreamItem = str | Cited | Answer
"""What an answer's stream gives: pieces of the answer text, then :class:`Cited`, then the
complete :class:`Answer`."""
