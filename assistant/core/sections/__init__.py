"""The sections of the settings: each declares its flat settings once, and ``Settings`` inherits them.

A section is a frozen pydantic model (:class:`~assistant.core.sections.base.Section`) whose fields are the
one declaration of its settings: type, default, range (``Field(ge=...)``) and description.
``assistant/core/settings.py`` composes them into the flat ``Settings`` that reads every value
(``NEWSDESK_*`` variables, the TOML file, with the flat names users' files already use) and checks
each rule once; ``settings.retrieval``, ``settings.answering`` and the others give each component a
frozen view of only its own section. Every flat setting belongs to exactly one section
(``tests/assistant/core/test_settings.py`` checks it). Also here: :class:`AllowedHost` (an entry of
``fetch_allowed_hosts``), used by both the settings and the fetcher.
"""

from __future__ import annotations

from assistant.core.sections.auth import AuthSettings
from assistant.core.sections.base import Section
from assistant.core.sections.hosts import DEFAULT_PORTS, AllowedHost, allowed_host, check_allowed_hosts
from assistant.core.sections.operations import ObservabilitySettings
from assistant.core.sections.read_side import AnsweringSettings, LLMSettings, NewsSettings, RetrievalSettings
from assistant.core.sections.serving import APISettings, ServerSettings, UISettings
from assistant.core.sections.write_side import DEFAULT_MODEL, IngestSettings, ModelSettings, StoreSettings

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
    "auth": AuthSettings,
    "ui": UISettings,
    "observability": ObservabilitySettings,
}

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PORTS",
    "SECTIONS",
    "APISettings",
    "AllowedHost",
    "AnsweringSettings",
    "AuthSettings",
    "IngestSettings",
    "LLMSettings",
    "ModelSettings",
    "NewsSettings",
    "ObservabilitySettings",
    "RetrievalSettings",
    "Section",
    "ServerSettings",
    "StoreSettings",
    "UISettings",
    "allowed_host",
    "check_allowed_hosts",
]
