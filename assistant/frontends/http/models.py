"""The request and response bodies of the HTTP API (its OpenAPI schema)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.frontends.http.days import ISO_DAY_RE
from assistant.pipeline.request import Request
from assistant.types import ChatTurn, Filters
from ingest.loading.uploads import IngestDocument

INGEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/IngestRequest"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                        "description": "files with a filename ending in .txt, .md, .html, .htm, .pdf, "
                        ".jsonl, .xml, .rss or .atom (others: 415)",
                    }
                },
            }
        },
    },
}


class AskRequest(BaseModel):
    """A question, with the earlier turns of the conversation, filters and answer mode."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="the question (at most NEWSDESK_MAX_QUESTION_CHARS)")
    history: list[ChatTurn] = Field(default_factory=list, description="earlier turns, oldest first")
    filters: Filters | None = None
    mode: Literal["extractive", "llm"] | None = Field(None, description="default: NEWSDESK_ANSWER_MODE")
    today: date | None = Field(
        None,
        description='the day the question is asked (YYYY-MM-DD): "last week" in it is relative to it; '
        "default: the server's date",
    )

    @field_validator("today", mode="before")
    @classmethod
    def _a_day(cls, value: object) -> object:
        if value is not None and not (isinstance(value, str) and ISO_DAY_RE.fullmatch(value)):
            raise ValueError("must be a day written YYYY-MM-DD")
        return value

    def request(self) -> Request:
        """The pipeline's request of this body."""
        return Request.of(self.question, self.history, self.filters, self.mode, self.today)


class IngestRequest(BaseModel):
    """Articles to add: documents given inline, and/or http(s) URLs of pages or feeds to fetch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # at least one document or URL (else 400)
            "anyOf": [
                {"required": ["documents"], "properties": {"documents": {"minItems": 1}}},
                {"required": ["urls"], "properties": {"urls": {"minItems": 1}}},
            ]
        },
    )

    documents: list[IngestDocument] = Field(default_factory=list)
    urls: list[str] = Field(
        default_factory=list,
        description="http(s) URLs of article pages or feeds (others: 400)",
        json_schema_extra={"items": {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}},
    )


class IngestFailure(BaseModel):
    source: str
    error: str


class IngestResult(BaseModel):
    """What an ingest did; ``doc_ids`` are the articles received (for URLs: the ones added)."""

    added: int
    updated: int
    unchanged: int
    sentences: int
    failed: list[IngestFailure]
    doc_ids: list[str]


class DocumentOut(BaseModel):
    doc_id: str
    text: str = Field(..., description="canonical text: citations are offsets into it")
    metadata: dict[str, str | int | float | bool]


class DeletedOut(BaseModel):
    deleted: str


class StatsOut(BaseModel):
    articles: int
    sentences: int
    sources: dict[str, int]
    first_published: str
    last_published: str


class ErrorOut(BaseModel):
    error: str


class FieldError(BaseModel):
    loc: list[str | int] = Field(..., description='where: ["body", "question"], ["body", "history", 0]')
    msg: str


class ValidationErrorOut(BaseModel):
    """A 422: the request does not match the schema (the input is not echoed)."""

    error: str = Field(..., description='"invalid request"')
    detail: list[FieldError]


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "unavailable"]
    store: bool
    model_loaded: bool
    articles: int


class ArchiveIn(BaseModel):
    """A new archive."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        ...,
        description="1-40 lowercase letters, digits or hyphens; not 'default' (else 400)",
        json_schema_extra={"pattern": "^[a-z0-9-]{1,40}$"},
    )


class ArchiveOut(BaseModel):
    """An archive: its name, when it was created (empty for the default archive)."""

    name: str
    created_at: str
    default: bool


class ArchiveRemovedOut(BaseModel):
    removed: str
