"""The sections of the settings: one typed, frozen view per component, composed into ``Settings``.

``ingest/settings.py`` reads every value (``NEWSDESK_*`` variables, the TOML file, with the flat
names users' files already use) and checks each rule once; ``settings.retrieval``,
``settings.answering`` and the others give each component only its own section. Every flat setting
belongs to exactly one section (``tests/ingest/test_settings.py`` checks it). Also here, below the
settings so both they and the fetcher use them: :class:`AllowedHost` (an entry of
``fetch_allowed_hosts``) and :func:`reference_page` (docs/settings.md).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal, Self

from pydantic import SecretStr
from pydantic.fields import FieldInfo

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_ENTRY = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?"
    r"(?:\[(?P<ipv6>[^\]]*)\]|(?P<name>[A-Za-z0-9_.-]+))(?::(?P<port>[^/]*))?/?"
)


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
class AllowedHost:
    """An entry of ``fetch_allowed_hosts``: a host name or IP address and the one port it opens.

    ``host:port`` opens that port (http or https), ``scheme://host:port`` that port for that scheme
    only; without a port, an entry opens only the default port of the scheme (80 for http, 443 for
    https), never every port of the host.
    """

    host: str  # lower case, without brackets or a trailing dot; an IP address in its normal form
    scheme: str | None = None  # None: http or https
    port: int | None = None  # None: the scheme's default port

    def allows(self, scheme: str, port: int) -> bool:
        """True when a request with ``scheme`` to ``port`` of this host is allowed."""
        if self.scheme is not None and scheme != self.scheme:
            return False
        return port == (DEFAULT_PORTS.get(scheme) if self.port is None else self.port)


def allowed_host(entry: str) -> AllowedHost:
    """The :class:`AllowedHost` of one ``fetch_allowed_hosts`` entry (``host``, ``host:port``,
    ``scheme://host[:port]``, ``[IPv6]:port`` or a bare IPv6 address); ValueError naming the entry."""
    text = entry.strip()
    try:  # a bare IPv6 address has colons but no port
        return AllowedHost(str(ipaddress.IPv6Address(text)))
    except ValueError:
        pass
    match = _HOST_ENTRY.fullmatch(text)
    if match is None:
        raise ValueError(f"entry {entry!r} is not host, host:port, scheme://host:port or [IPv6]:port")
    scheme = match["scheme"].lower() if match["scheme"] else None
    if scheme is not None and scheme not in DEFAULT_PORTS:
        raise ValueError(f"entry {entry!r}: scheme {scheme!r} is not http or https")
    host = _entry_host(entry, match["ipv6"], match["name"])
    return AllowedHost(host, scheme, None if match["port"] is None else _entry_port(entry, match["port"]))


def check_allowed_hosts(entries: list[str]) -> list[str]:
    """``entries`` unchanged once each is a valid :func:`allowed_host` entry (ValueError otherwise)."""
    for entry in entries:
        allowed_host(entry)
    return entries


def _entry_host(entry: str, ipv6: str | None, name: str | None) -> str:
    if ipv6 is not None:
        try:
            return str(ipaddress.IPv6Address(ipv6))
        except ValueError as exc:
            raise ValueError(f"entry {entry!r}: {ipv6!r} is not an IPv6 address") from exc
    host = (name or "").lower().rstrip(".")
    if not host.strip("."):
        raise ValueError(f"entry {entry!r} has no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _entry_port(entry: str, port: str) -> int:
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"entry {entry!r}: port {port!r} is not a number from 1 to 65535")
    return int(port)


@dataclass(frozen=True)
class IngestSettings(Section):
    """Loading, splitting, fetching and the followed feeds (ingest/)."""

    max_file_bytes: int
    max_pdf_pages: int
    max_article_chars: int
    max_article_sentences: int
    extract_timeout_s: float
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

    @property
    def fetch_allowlist(self) -> tuple[AllowedHost, ...]:
        """The entries of ``fetch_allowed_hosts`` (checked when the settings were read)."""
        return tuple(allowed_host(entry) for entry in self.fetch_allowed_hosts)


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
    allowed_hosts: list[str]
    rate_limit_per_minute: int
    rate_limit_storage: str
    rate_limit_timeout_s: float
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


def reference_page(settings_fields: Mapping[str, FieldInfo]) -> str:
    """docs/settings.md: a Markdown table of every setting (its environment variable, type, default and
    description) from the fields of ``Settings`` (``python -m ingest.settings`` prints it)."""
    lines = [
        "# Settings",
        "",
        "Every knob of Newsdesk. Set them as environment variables, in a `.env` file, or in a TOML",
        "file named by `NEWSDESK_SETTINGS_FILE` (or `newsdesk --settings FILE`), whose keys are the",
        'field names (`store_dir = "/srv/newsdesk"`). Environment variables win over the file.',
        "Secrets (API keys, tokens) belong in the environment only.",
        "",
        "This file is generated from `ingest/settings.py` (`python -m ingest.settings > docs/settings.md`);",
        "a test fails when the two drift apart.",
        "",
        "| environment variable | type | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in settings_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "" if default is None else str(default)
        kind = str(info.annotation).replace("typing.", "").replace("pathlib.", "").replace("<class '", "")
        kind = kind.replace("'>", "").replace("pydantic.types.", "").replace("|", "or")
        lines.append(f"| `NEWSDESK_{name.upper()}` | {kind} | `{shown}` | {info.description or ''} |")
    return "\n".join(lines) + "\n"
