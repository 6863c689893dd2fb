"""The sections of serving: the server process, the HTTP API and the UI. Each field is the one
declaration of a flat setting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode

from assistant.core.sections.base import Section
from assistant.core.setting_values import host_names, origins


class ServerSettings(Section):
    """The process serving the API and the UI (assistant/server.py)."""

    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(7860, description="Port the server listens on.")
    root_path: str = Field("", description="URL prefix when served behind a reverse proxy.")
    forwarded_allow_ips: str = Field(
        "",
        description="Proxy addresses (comma-separated) whose X-Forwarded-For/-Proto are believed; empty = "
        "none, so clients cannot pick their address (set 127.0.0.1 for a proxy on this host).",
    )
    queue_size: int = Field(64, ge=1, description="Most events waiting in the Gradio queue.")
    concurrency: int = Field(2, ge=1, description="Answers or ingests computed at once (UI and API each).")


class APISettings(Section):
    """The JSON API: keys, origins, limits and uploads (assistant/frontends/http/{api,security}.py)."""

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
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="Largest request body (uploads excepted).")
    max_history_turns: int = Field(20, ge=0, description="Most earlier chat turns sent with a question.")
    allowed_hosts: Annotated[list[str], NoDecode, BeforeValidator(host_names)] = Field(
        default_factory=list,
        description="Host names the server answers to (the request's Host header; comma-separated, "
        "*.example.com for subdomains, * for any): requests naming another host get 400, so DNS "
        "rebinding cannot reach the server. Empty = the bound address and localhost, 127.0.0.1, ::1 "
        "(and this machine's name when bound to 0.0.0.0). Behind a proxy, the public host name.",
    )
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
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
        gt=0,
        description="Longest wait for the rate-limit storage, seconds; past it the request gets 503.",
    )
    upload_max_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest upload request (all files).")
    upload_max_files: int = Field(20, ge=1, description="Most files in one upload request.")
    upload_dir: Path | None = Field(
        None, description="Folder for uploads being ingested; unset = 'uploads' beside the store folder."
    )


class UISettings(Section):
    """The Gradio UI (assistant/frontends/ui/)."""

    feedback_path: Path = Field(Path(".newsdesk/feedback.jsonl"), description="Feedback log.")
    ui_passage_chars: int = Field(
        700, ge=80, description="Most characters of article text shown around a cited sentence in the UI."
    )
    ui_example_questions: int = Field(4, ge=0, description="Example questions offered in the empty chat.")
