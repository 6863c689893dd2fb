"""The one settings object of Newsdesk, for both the write side and the read side.

Values come, highest priority first, from keyword arguments, ``NEWSDESK_*`` environment variables, a
``.env`` file, and an optional TOML settings file named by ``NEWSDESK_SETTINGS_FILE`` (or passed to
:meth:`Settings.load`). Every knob is documented in ``docs/settings.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ingest.errors import ConfigError
from ingest.sections import Sections, check_allowed_hosts, reference_page
from ingest.setting_values import host_names, listed, origins

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_AT_LEAST_ONE = (
    "embed_batch_size", "write_batch_size", "ingest_group_size", "sentence_max_chars", "retrieve_k",
    "lexical_k", "rrf_k", "answer_max_sentences", "max_body_bytes", "max_question_chars", "queue_size",
    "concurrency", "upload_max_bytes", "upload_max_files", "syndication_shingle_words",
    "corroboration_candidates", "feeds_concurrency", "llm_max_tokens", "max_file_bytes", "fetch_max_bytes",
    "max_pdf_pages", "max_article_chars", "max_article_sentences",
)  # fmt: skip
_ABOVE_ZERO_SECONDS = (
    "fetch_timeout_s", "chroma_timeout_s", "llm_timeout_s", "rate_limit_timeout_s", "feed_min_every_s",
    "feeds_backoff_max_s", "feeds_lease_s", "feeds_check_s", "extract_timeout_s",
)  # fmt: skip
_NOT_NEGATIVE = (
    "rate_limit_per_minute", "max_history_turns", "latest_score_margin", "date_phrase_margin",
    "fetch_max_redirects", "context_sentences", "context_words", "ui_example_questions",
)  # fmt: skip


class Settings(Sections, BaseSettings):
    """Typed settings; environment variable names are the field names with a NEWSDESK_ prefix."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- storage -------------------------------------------------------------------------
    store_dir: Path = Field(Path(".newsdesk/store"), description="Embedded Chroma folder.")
    collection: str = Field("news", description="Collection name prefix in Chroma.")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_auth_token: SecretStr | None = Field(None, description="Token sent to Chroma server.")
    chroma_auth_header: str = Field("Authorization", description="Header carrying the token.")
    write_batch_size: int = Field(2000, description="Records per Chroma write (capped by Chroma).")
    chroma_timeout_s: float = Field(
        5.0,
        description="Longest wait for one call to the Chroma server, seconds (connecting included), and for "
        "another process's write to the lexical index; a hung server gives a clear error, not a hang.",
    )
    lexical_dir: Path | None = Field(
        None,
        description="Lexical (Tantivy) index folder, a subfolder per collection; unset = lexical.tantivy in "
        "store_dir. A folder of this machine: with a Chroma server, the workers on one machine share it; "
        "workers on several machines would need an engine behind the same interface (not built).",
    )

    # --- embedding -----------------------------------------------------------------------
    model_name: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path.")
    embed_batch_size: int = Field(64, description="Sentences per model forward pass.")
    torch_threads: int = Field(0, description="Torch intra-op threads; 0 = number of cores.")
    query_threads: int = Field(
        1,
        description="Torch intra-op threads for embedding a question: one is as fast for a short text, "
        "and much faster than several when an ingest or other requests busy the cores.",
    )
    embed_precision: Literal["fp32", "bf16", "auto"] = Field(
        "auto",
        description="Embedding maths: bf16 autocast (about 2x faster on CPUs with native bf16, cosine "
        "0.9999 to fp32), fp32, or auto = bf16 where the CPU has native bf16, else fp32.",
    )
    embed_backend: Literal["light", "sentence-transformers"] = Field(
        "light",
        description="light = built-in BERT encoder for BERT mean-pooling models (same vectors, 5 s faster "
        "start; other models fall back), or always sentence-transformers.",
    )

    # --- ingest --------------------------------------------------------------------------
    max_file_bytes: int = Field(20 * 1024 * 1024, description="Largest input file accepted.")
    max_pdf_pages: int = Field(
        500, description="Most pages of a PDF: a longer one is refused before its text is extracted."
    )
    max_article_chars: int = Field(
        1_000_000, description="Most characters of one article's text: a longer article is refused."
    )
    max_article_sentences: int = Field(
        10_000, description="Most sentences of one article: a longer one is refused before it is embedded."
    )
    extract_timeout_s: float = Field(
        60.0, description="Longest text extraction of one file or page (HTML, PDF), seconds; then refused."
    )
    sentence_engine: Literal["blingfire", "pysbd", "syntok"] = Field(
        "blingfire", description="Sentence splitter engine (pysbd/syntok need their package)."
    )
    sentence_max_chars: int = Field(1000, description="Longer sentences are cut at whitespace.")
    ingest_group_size: int = Field(32, description="Articles embedded and committed together.")
    context_sentences: int = Field(1, description="Neighbour sentences embedded with a sentence.")
    context_words: int = Field(
        0,
        description="Most words of context embedded before a sentence (the last words of the "
        "context_sentences before it); 0 = all of them. Fewer tokens, faster ingest.",
    )
    context_mode: Literal["previous", "pairs"] = Field(
        "previous",
        description="How sentences are embedded. 'previous': each sentence after the context_sentences "
        "before it. 'pairs': consecutive sentences two at a time, both sharing the pair's vector; half "
        "the embedding work (ingest about 2x faster) at a measured cost in answers (docs/performance.md). "
        "Applies to articles embedded from then on.",
    )
    fetch_timeout_s: float = Field(15.0, description="Timeout of one HTTP fetch, seconds.")
    fetch_max_bytes: int = Field(10 * 1024 * 1024, description="Largest HTTP body fetched.")
    fetch_max_redirects: int = Field(5, description="Redirects followed per fetch.")
    fetch_allow_private: bool = Field(
        False,
        description="Allow loopback/private/link-local addresses (tests, intranets); never the server's own.",
    )
    fetch_allowed_hosts: Annotated[
        list[str], NoDecode, BeforeValidator(listed), AfterValidator(check_allowed_hosts)
    ] = Field(
        default_factory=list,
        description="Hosts allowed even if private, each with its port: host:port, scheme://host:port, "
        "[::1]:8080 (comma-separated or a JSON list), e.g. 127.0.0.1:8080. A host without a port opens "
        "only port 80 (http) and 443 (https). The server's own host:port is never fetched.",
    )
    fetch_user_agent: str = Field("Newsdesk/0.1 (+article ingest)", description="User-Agent.")

    # --- followed feeds (ingest/feeds/registry.py, ingest/feeds/sync.py, docs/feeds.md) ----------------
    feeds_sync: bool = Field(
        True,
        description="`newsdesk serve` syncs the followed feeds on their schedule (off: only `feeds sync`).",
    )
    feed_every: str = Field("15m", description="Default interval between syncs of a feed (90s, 15m, 2h, 1d).")
    feed_min_every_s: float = Field(60.0, description="Shortest interval a feed may be synced at, seconds.")
    feeds_concurrency: int = Field(2, description="Feeds synced at once by the server.")
    feeds_jitter: float = Field(
        0.1, description="Each next sync moves by up to this fraction of the interval, so feeds spread out."
    )
    feeds_backoff_max_s: float = Field(
        3600.0, description="Longest wait before retrying a failing feed (the wait doubles per failure)."
    )
    feeds_lease_s: float = Field(
        600.0, description="How long a process may hold a feed's sync lease before others may take it over."
    )
    feeds_check_s: float = Field(
        30.0, description="How often the server re-reads the feed list (feeds added by other processes)."
    )

    # --- answering -----------------------------------------------------------------------
    answer_mode: Literal["extractive", "llm"] = Field("extractive", description="Answerer.")
    retrieve_k: int = Field(40, description="Dense candidates fetched per question.")
    answer_max_sentences: int = Field(3, description="Most sentences in an answer.")
    lexical_k: int = Field(40, description="BM25 sentence candidates fetched per question.")
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant (dense + BM25 ranks).")
    neighbour_candidates: int = Field(
        10, description="The sentences before and after each of this many best-fused candidates join them."
    )
    answer_score_margin: float = Field(
        1.0,
        description="Extra answer sentences must score within this margin of the best one (ranker score "
        "units: a question's candidates spread about 1.3 around their mean) and be supported.",
    )
    duplicate_overlap: float = Field(
        0.6, description="Word overlap (Jaccard, 0-1) above which a sentence repeats one already cited."
    )
    refusal_min_support: float = Field(
        0.35,
        description="Refuse when the best sentence's support (mean of its dense similarity to the question "
        "and the IDF-weighted share of question terms found around it) is below this.",
    )
    chat_history_turns: int = Field(6, description="Earlier chat turns used to resolve a follow-up question.")
    llm_max_evidence: int = Field(8, description="Evidence sentences given to the LLM.")
    llm_temperature: float = Field(0.0, description="Sampling temperature of the LLM.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint URL.")
    llm_model: str = Field("gpt-4o-mini", description="Model name at the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(None, description="Key for the LLM endpoint.")
    llm_timeout_s: float = Field(
        30.0,
        description="Time the whole LLM reply may take, seconds: past it the reply is cut off (the "
        "sentences checked so far are kept; with none, the extractive answer is shown).",
    )
    llm_max_tokens: int = Field(400, description="Most tokens the LLM is asked to generate for a reply.")
    llm_max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens",
        description="Request field carrying llm_max_tokens: 'max_tokens' (read by llama.cpp, vLLM, Ollama, "
        "LM Studio and OpenAI's GPT-4 family) or 'max_completion_tokens' (required by OpenAI's reasoning "
        "models; ignored by llama-cpp-python's server).",
    )
    llm_max_reply_chars: int = Field(
        2000, description="Most characters of an LLM reply read: past it the reply is cut off."
    )

    # --- news: syndication, corroboration, corrections ------------------------------------
    syndication_threshold: float = Field(
        0.7, description="Estimated Jaccard similarity (word shingles) above which articles are one story."
    )
    syndication_shingle_words: int = Field(5, description="Words per shingle for syndication MinHash.")
    corroboration_threshold: float = Field(
        0.8, description="Cosine similarity (sentences alone) above which two sentences say the same thing."
    )
    corroboration_candidates: int = Field(30, description="Nearest sentences checked per cited sentence.")
    latest_prefers_newest: bool = Field(
        True,
        description="For questions about the latest or current state, cite first the newest sentence that "
        "answers about as well as the best one (see latest_score_margin); the refusal decision is unchanged.",
    )
    latest_score_margin: float = Field(
        0.5,
        description="A newer sentence may lead a 'latest' answer if it scores within this of the best one.",
    )
    question_date_filters: bool = Field(
        True,
        description='Read a date phrase of the question ("in January 2023", "last week") as a published-date '
        "filter, kept only when the articles of that range answer about as well as all articles do.",
    )
    date_phrase_margin: float = Field(
        0.8,
        description="The date range read from a question is used when its best sentence scores within "
        "this of the best sentence of all articles.",
    )

    # --- serving -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(7860, description="Port the server listens on.")
    root_path: str = Field("", description="URL prefix when served behind a reverse proxy.")
    feedback_path: Path = Field(Path(".newsdesk/feedback.jsonl"), description="Feedback log.")
    ui_passage_chars: int = Field(
        700, ge=80, description="Most characters of article text shown around a cited sentence in the UI."
    )
    ui_example_questions: int = Field(4, description="Example questions offered in the empty chat.")

    # --- HTTP API, authentication and embedding (assistant/frontends/http/{api,security}.py) ---
    api_keys: SecretStr = Field(
        SecretStr(""),
        description='API keys, comma-separated; a ":ro" suffix makes a key read-only ("k1,k2:ro"). '
        "Keys are at least 16 characters. Empty = no authentication (only safe on 127.0.0.1).",
    )
    allowed_origins: Annotated[list[str], NoDecode, BeforeValidator(origins)] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port], comma-separated) that may call the API from a "
        "browser (CORS) and frame the UI (CSP frame-ancestors). Empty = same origin only.",
    )
    trusted_user_header: str = Field(
        "",
        description="Header naming the signed-in user, set by a trusted auth proxy: with api_keys "
        "set, the UI accepts it instead of its login. Only if the proxy overwrites it.",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Proxy addresses (comma-separated) whose X-Forwarded-For/-Proto are believed; empty = "
        "none, so clients cannot pick their address (set 127.0.0.1 for a proxy on this host).",
    )
    max_body_bytes: int = Field(1024 * 1024, description="Largest request body (uploads excepted).")
    max_question_chars: int = Field(2000, description="Longest question accepted (characters).")
    max_history_turns: int = Field(20, description="Most earlier chat turns sent with a question.")
    allowed_hosts: Annotated[list[str], NoDecode, BeforeValidator(host_names)] = Field(
        default_factory=list,
        description="Host names the server answers to (the request's Host header; comma-separated, "
        "*.example.com for subdomains, * for any): requests naming another host get 400, so DNS "
        "rebinding cannot reach the server. Empty = the bound address and localhost, 127.0.0.1, ::1 "
        "(and this machine's name when bound to 0.0.0.0). Behind a proxy, the public host name.",
    )
    rate_limit_per_minute: int = Field(
        60,
        description="Requests per minute per key (per client address without keys), counted over every "
        "way in: the API, the chat's queue, uploads and the login; 0 = off.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where the rate-limit counts live: memory:// (this process), or a storage that "
        "several workers share, redis://host:6379 (the redis extra); any storage URI of the limits "
        "library.",
    )
    rate_limit_timeout_s: float = Field(
        2.0,
        description="Longest wait for the rate-limit storage, seconds; past it the request gets 503.",
    )
    queue_size: int = Field(64, description="Most events waiting in the Gradio queue.")
    concurrency: int = Field(2, description="Answers or ingests computed at once (UI and API each).")
    upload_max_bytes: int = Field(50 * 1024 * 1024, description="Largest upload request (all files).")
    upload_max_files: int = Field(20, description="Most files in one upload request.")
    upload_dir: Path | None = Field(
        None, description="Folder for uploads being ingested; unset = 'uploads' beside the store folder."
    )

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not (3 <= len(value) <= 50) or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"collection {value!r} must be 3-50 letters, digits, '-' or '_'")
        return value

    @field_validator(*_AT_LEAST_ONE)
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator(*_NOT_NEGATIVE)
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError(f"must be 0 or more, got {value}")
        return value

    @field_validator(*_ABOVE_ZERO_SECONDS)
    @classmethod
    def _positive_seconds(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"must be above 0 seconds, got {value}")
        return value

    @field_validator("feeds_jitter")
    @classmethod
    def _jitter(cls, value: float) -> float:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"must be at least 0 and below 1, got {value}")
        return value

    @field_validator("syndication_threshold", "corroboration_threshold")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"must be above 0 and at most 1, got {value}")
        return value

    @field_validator("duplicate_overlap")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"must be within [0, 1], got {value}")
        return value

    @model_validator(mode="after")
    def _context_pairs(self) -> Settings:
        if self.context_mode == "pairs" and (self.context_sentences, self.context_words) != (1, 0):
            raise ValueError(
                "context_mode 'pairs' embeds each sentence with its neighbour: it needs context_sentences = 1"
                f" and context_words = 0, got {self.context_sentences} and {self.context_words}"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        settings_file = settings_cls.model_config.get("toml_file") or os.environ.get("NEWSDESK_SETTINGS_FILE")
        if settings_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(str(settings_file))))
        return tuple(sources)

    @classmethod
    def load(cls, settings_file: Path | None = None, **overrides: Any) -> Settings:
        """Build settings, optionally from a TOML file; raise ConfigError naming the bad value."""
        target = cls
        if settings_file is not None:
            if not settings_file.is_file():
                raise ConfigError(f"settings file {settings_file} does not exist")
            config = SettingsConfigDict(**{**cls.model_config, "toml_file": settings_file})
            target = type("FileSettings", (cls,), {"model_config": config})
        try:
            return target(**overrides)
        except ValueError as exc:  # pydantic's ValidationError and TOML decoding errors
            raise ConfigError(f"invalid settings: {exc}") from exc


def settings_reference() -> str:
    """Markdown table of every setting: environment variable, type, default and description."""
    return reference_page(Settings.model_fields)


if __name__ == "__main__":
    print(settings_reference(), end="")
