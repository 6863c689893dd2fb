"""The sections of the settings: one typed, frozen view per component, composed into ``Settings``.

``ingest/settings.py`` reads every value (``NEWSDESK_*`` variables, the TOML file, with the flat
names users' files already use) and checks each rule once; ``settings.retrieval``,
``settings.answering`` and the others give each component only its own section. Every flat setting
belongs to exactly one section (``tests/ingest/test_settings.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, Self

from pydantic import SecretStr


@dataclass(frozen=True)
class Section:
    """A section: its fields are named exactly as the flat settings they are read from."""

    @classmethod
    def of(cls, flat: object) -> Self:
        """The section of a flat settings object (read through attributes of the same names)."""
        return cls(**{f.name: getattr(flat, f.name) for f in fields(cls)})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class StoreSettings(Section):
    """Chroma: the embedded folder or the server (ingest/storage/)."""

    store_dir: Path
    collection: str
    chroma_host: str | None
    chroma_port: int
    chroma_ssl: bool
    chroma_auth_token: SecretStr | None
    chroma_auth_header: str
    write_batch_size: int
    chroma_timeout_s: float
    lexical_dir: Path | None

    @property
    def uses_server(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.chroma_host)


@dataclass(frozen=True)
class ModelSettings(Section):
    """The sentence embedding model (ingest/embedding/)."""

    model_name: str
    embed_batch_size: int
    torch_threads: int
    query_threads: int
    embed_precision: Literal["fp32", "bf16", "auto"]
    embed_backend: Literal["light", "sentence-transformers"]


@dataclass(frozen=True)
class IngestSettings(Section):
    """Loading, splitting, fetching and the followed feeds (ingest/)."""

    max_file_bytes: int
    sentence_engine: Literal["blingfire", "pysbd", "syntok"]
    sentence_max_chars: int
    ingest_group_size: int
    context_sentences: int
    context_words: int
    context_mode: Literal["previous", "pairs"]
    fetch_timeout_s: float
    fetch_max_bytes: int
    fetch_max_redirects: int
    fetch_allow_private: bool
    fetch_allowed_hosts: list[str]
    fetch_user_agent: str
    feeds_sync: bool
    feed_every: str
    feed_min_every_s: float
    feeds_concurrency: int
    feeds_jitter: float
    feeds_backoff_max_s: float
    feeds_lease_s: float
    feeds_check_s: float


@dataclass(frozen=True)
class RetrievalSettings(Section):
    """Dense + lexical candidates and their fusion (assistant/retrieval/)."""

    retrieve_k: int
    lexical_k: int
    rrf_k: int
    neighbour_candidates: int


@dataclass(frozen=True)
class AnsweringSettings(Section):
    """The question, the turn and the extractive answer (assistant/service.py, assistant/answering/)."""

    answer_mode: Literal["extractive", "llm"]
    answer_max_sentences: int
    answer_score_margin: float
    duplicate_overlap: float
    refusal_min_support: float
    chat_history_turns: int
    latest_prefers_newest: bool
    latest_score_margin: float
    question_date_filters: bool
    date_phrase_margin: float
    max_question_chars: int


@dataclass(frozen=True)
class LLMSettings(Section):
    """The LLM endpoint and the limits of its reply (assistant/answering/llm.py)."""

    llm_max_evidence: int
    llm_temperature: float
    llm_base_url: str | None
    llm_model: str
    llm_api_key: SecretStr | None
    llm_timeout_s: float
    llm_max_tokens: int
    llm_max_tokens_field: Literal["max_tokens", "max_completion_tokens"]
    llm_max_reply_chars: int


@dataclass(frozen=True)
class NewsSettings(Section):
    """Syndication and corroboration (ingest/storage/stories.py, assistant/news/)."""

    syndication_threshold: float
    syndication_shingle_words: int
    corroboration_threshold: float
    corroboration_candidates: int


@dataclass(frozen=True)
class ServerSettings(Section):
    """The process serving the API and the UI (assistant/server.py)."""

    host: str
    port: int
    root_path: str
    forwarded_allow_ips: str
    queue_size: int
    concurrency: int


@dataclass(frozen=True)
class APISettings(Section):
    """The JSON API: keys, origins, limits and uploads (assistant/frontends/http/)."""

    api_keys: SecretStr
    allowed_origins: list[str]
    trusted_user_header: str
    max_body_bytes: int
    max_history_turns: int
    rate_limit_per_minute: int
    upload_max_bytes: int
    upload_max_files: int
    upload_dir: Path | None


@dataclass(frozen=True)
class UISettings(Section):
    """The Gradio UI (assistant/frontends/ui/)."""

    feedback_path: Path
    ui_passage_chars: int
    ui_example_questions: int


SECTIONS: dict[str, type[Section]] = {
    "store": StoreSettings,
    "model": ModelSettings,
    "ingest": IngestSettings,
    "retrieval": RetrievalSettings,
    "answering": AnsweringSettings,
    "llm": LLMSettings,
    "news": NewsSettings,
    "server": ServerSettings,
    "api": APISettings,
    "ui": UISettings,
}


class Sections:
    """The sections of the flat ``Settings`` (a mixin: each property builds its section afresh, so a
    ``model_copy(update=...)`` of the settings is seen through its sections)."""

    @property
    def uses_server(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return self.store.uses_server

    @property
    def store(self) -> StoreSettings:
        return StoreSettings.of(self)

    @property
    def model(self) -> ModelSettings:
        return ModelSettings.of(self)

    @property
    def ingest(self) -> IngestSettings:
        return IngestSettings.of(self)

    @property
    def retrieval(self) -> RetrievalSettings:
        return RetrievalSettings.of(self)

    @property
    def answering(self) -> AnsweringSettings:
        return AnsweringSettings.of(self)

    @property
    def llm(self) -> LLMSettings:
        return LLMSettings.of(self)

    @property
    def news(self) -> NewsSettings:
        return NewsSettings.of(self)

    @property
    def server(self) -> ServerSettings:
        return ServerSettings.of(self)

    @property
    def api(self) -> APISettings:
        return APISettings.of(self)

    @property
    def ui(self) -> UISettings:
        return UISettings.of(self)
