"""The sections of the write side: the store, the embedding model, and ingest (loading, splitting,
fetching, the followed feeds). Each field is the one declaration of a flat setting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from assistant.core.sections.base import Section
from assistant.core.sections.hosts import AllowedHost, allowed_host, check_allowed_hosts
from assistant.core.setting_values import listed

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class StoreSettings(Section):
    """Chroma: the embedded folder or the server (ingest/storage/)."""

    store_dir: Path = Field(Path(".newsdesk/store"), description="Embedded Chroma folder.")
    collection: str = Field("news", description="Collection name prefix in Chroma.")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded.")
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_auth_token: SecretStr | None = Field(None, description="Token sent to Chroma server.")
    chroma_auth_header: str = Field("Authorization", description="Header carrying the token.")
    write_batch_size: int = Field(2000, ge=1, description="Records per Chroma write (capped by Chroma).")
    chroma_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Longest wait for one call to the Chroma server, seconds (connecting included), and for "
        "another process's write to the lexical index; a hung server gives a clear error, not a hang.",
    )
    lexical_dir: Path | None = Field(
        None,
        description="Lexical (Tantivy) index folder, a subfolder per collection; unset = lexical.tantivy in "
        "store_dir. A folder of this machine: with a Chroma server, the workers on one machine share it; "
        "workers on several machines would need an engine behind the same interface (not built).",
    )

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not (3 <= len(value) <= 50) or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"collection {value!r} must be 3-50 letters, digits, '-' or '_'")
        return value

    @property
    def uses_server(self) -> bool:
        """True when a Chroma server is configured instead of the embedded store."""
        return bool(self.chroma_host)


class ModelSettings(Section):
    """The sentence embedding model (ingest/embedding/)."""

    model_name: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or path.")
    embed_batch_size: int = Field(64, ge=1, description="Sentences per model forward pass.")
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


class IngestSettings(Section):
    """Loading, splitting, fetching and the followed feeds (ingest/; ingest/feeds/, docs/feeds.md)."""

    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest input file accepted.")
    max_pdf_pages: int = Field(
        500, ge=1, description="Most pages of a PDF: a longer one is refused before its text is extracted."
    )
    max_article_chars: int = Field(
        1_000_000, ge=1, description="Most characters of one article's text: a longer article is refused."
    )
    max_article_sentences: int = Field(
        10_000,
        ge=1,
        description="Most sentences of one article: a longer one is refused before it is embedded.",
    )
    extract_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Longest text extraction of one file or page (HTML, PDF), seconds; then refused.",
    )
    sentence_engine: Literal["blingfire", "pysbd", "syntok"] = Field(
        "blingfire", description="Sentence splitter engine (pysbd/syntok need their package)."
    )
    sentence_max_chars: int = Field(1000, ge=1, description="Longer sentences are cut at whitespace.")
    ingest_group_size: int = Field(32, ge=1, description="Articles embedded and committed together.")
    context_sentences: int = Field(1, ge=0, description="Neighbour sentences embedded with a sentence.")
    context_words: int = Field(
        0,
        ge=0,
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
    fetch_timeout_s: float = Field(15.0, gt=0, description="Timeout of one HTTP fetch, seconds.")
    fetch_max_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Largest HTTP body fetched.")
    fetch_max_redirects: int = Field(5, ge=0, description="Redirects followed per fetch.")
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
    page_min_words: int = Field(
        50,
        ge=0,
        description="A WARC capture or sitemap page whose extracted text has fewer words is skipped as "
        "too short (or as a paywall stub when it says so); 0 keeps every page with text.",
    )
    page_max_link_density: float = Field(
        0.75,
        ge=0,
        le=1,
        description="A WARC capture or sitemap page that does not declare itself an article and has more "
        "of its visible text in links than this share is skipped as an index page; 1 turns the test off.",
    )
    sitemap_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1,
        description="Largest sitemap read, in bytes once gunzipped (the sitemap protocol's limit is 50 MB).",
    )
    sitemap_max_urls: int = Field(
        50_000,
        ge=1,
        description="Most page URLs read from one sitemap walk (an index and all its sitemaps); the rest "
        "are left out and the report says so.",
    )
    crawl_delay_s: float = Field(
        1.0,
        ge=0,
        description="Least time between the starts of two requests to one host while reading a sitemap "
        "and its pages, seconds; a longer robots.txt Crawl-delay (up to 60 s) wins.",
    )
    crawl_concurrency: int = Field(
        1,
        ge=1,
        le=16,
        description="Pages of a sitemap fetched at once (each host still waits crawl_delay_s between "
        "the starts of its requests).",
    )
    sitemap_sync_max_pages: int = Field(
        200,
        ge=1,
        description="Most pages one sync of a followed sitemap fetches, the newest first; "
        "`newsdesk ingest --sitemap` has --limit instead.",
    )
    feeds_sync: bool = Field(
        True,
        description="`newsdesk serve` syncs the followed feeds on their schedule (off: only `feeds sync`).",
    )
    feed_every: str = Field("15m", description="Default interval between syncs of a feed (90s, 15m, 2h, 1d).")
    feed_min_every_s: float = Field(
        60.0, gt=0, description="Shortest interval a feed may be synced at, seconds."
    )
    feeds_concurrency: int = Field(2, ge=1, description="Feeds synced at once by the server.")
    feeds_jitter: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Each next sync moves by up to this fraction of the interval, so feeds spread out.",
    )
    feeds_backoff_max_s: float = Field(
        3600.0,
        gt=0,
        description="Longest wait before retrying a failing feed (the wait doubles per failure).",
    )
    feeds_lease_s: float = Field(
        600.0,
        gt=0,
        description="How long a process may hold a feed's sync lease before others may take it over.",
    )
    feeds_check_s: float = Field(
        30.0,
        gt=0,
        description="How often the server re-reads the feed list (feeds added by other processes).",
    )

    @model_validator(mode="after")
    def _context_pairs(self) -> Self:
        if self.context_mode == "pairs" and (self.context_sentences, self.context_words) != (1, 0):
            raise ValueError(
                "context_mode 'pairs' embeds each sentence with its neighbour: it needs context_sentences = 1"
                f" and context_words = 0, got {self.context_sentences} and {self.context_words}"
            )
        return self

    @property
    def fetch_allowlist(self) -> tuple[AllowedHost, ...]:
        """The entries of ``fetch_allowed_hosts`` (checked when the settings were read)."""
        return tuple(allowed_host(entry) for entry in self.fetch_allowed_hosts)
