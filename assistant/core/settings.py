"""The one settings object of Newsdesk, for both the write side and the read side.

Values come, highest priority first, from keyword arguments, ``NEWSDESK_*`` environment variables, a
``.env`` file, and an optional TOML settings file named by ``NEWSDESK_SETTINGS_FILE`` (or passed to
:meth:`Settings.load`). Each setting is declared once, in its section (``assistant/core/sections/``);
``Settings`` inherits them all, flat. Every knob is documented in ``docs/settings.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.core.errors import ConfigError
from assistant.core.sections import (
    DEFAULT_MODEL,
    AnsweringSettings,
    APISettings,
    AuthSettings,
    IngestSettings,
    LLMSettings,
    ModelSettings,
    NewsSettings,
    ObservabilitySettings,
    RetrievalSettings,
    ServerSettings,
    StoreSettings,
    UISettings,
)

__all__ = ["DEFAULT_MODEL", "Settings", "settings_reference"]

ENVIRONMENT_ONLY = ("oidc_client_secret",)  # secrets a settings file may not hold


class SettingsFile(TomlConfigSettingsSource):
    """The TOML settings file; a secret of ``ENVIRONMENT_ONLY`` in it is refused (ValueError)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for name in ENVIRONMENT_ONLY:
            if name in values:
                raise ValueError(
                    f"{name} is a secret: set NEWSDESK_{name.upper()} in the environment, "
                    "not in the settings file"
                )
        return values


class Settings(  # the last base's fields come first: store, model, ingest, ..., ui, observability
    ObservabilitySettings,
    UISettings,
    AuthSettings,
    APISettings,
    ServerSettings,
    NewsSettings,
    LLMSettings,
    AnsweringSettings,
    RetrievalSettings,
    IngestSettings,
    ModelSettings,
    StoreSettings,
    BaseSettings,
):
    """Typed settings; environment variable names are the field names with a NEWSDESK_ prefix.

    Every field, with its range, is inherited from its section; the settings themselves may be
    copied with changes (``model_copy(update=...)``), and each section property builds its frozen
    view afresh, so a copy is seen through its sections.
    """

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", extra="ignore", validate_default=True, frozen=False
    )

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
    def auth(self) -> AuthSettings:
        return AuthSettings.of(self)

    @property
    def ui(self) -> UISettings:
        return UISettings.of(self)

    @property
    def observability(self) -> ObservabilitySettings:
        return ObservabilitySettings.of(self)

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
            sources.append(SettingsFile(settings_cls, toml_file=Path(str(settings_file))))
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


def reference_page(settings_fields: Mapping[str, FieldInfo]) -> str:
    """docs/settings.md: a Markdown table of every setting (its environment variable, type, default
    and description) from the fields of ``Settings``, section by section
    (``python -m assistant.core.settings``)."""
    lines = [
        "# Settings",
        "",
        "Every knob of Newsdesk. Set them as environment variables, in a `.env` file, or in a TOML",
        "file named by `NEWSDESK_SETTINGS_FILE` (or `newsdesk --settings FILE`), whose keys are the",
        'field names (`store_dir = "/srv/newsdesk"`). Environment variables win over the file.',
        "Secrets (API keys, tokens) belong in the environment only.",
        "",
        "This file is generated from `assistant/core/settings.py`",
        "(`python -m assistant.core.settings > docs/settings.md`); a test fails when the two drift apart.",
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


if __name__ == "__main__":
    print(settings_reference(), end="")
