"""Newsdesk: answers questions about a news archive with sentences that cite their articles.

The front door for programs that embed it (docs/api.md, "From Python")::

    from assistant import Settings, create_assistant

    desk = create_assistant(Settings(store_dir="/var/lib/newsdesk/store"))
    desk.ingest_sources(["articles.jsonl"])
    answer = desk.ask("Who led the Russian delegation to Damascus?")
    for citation in answer.citations:
        print(citation.doc_id, citation.char_start, citation.char_end, citation.sentence)

Every name of ``__all__`` is imported on first use (PEP 562), so ``import assistant`` loads neither
the model nor Chroma nor the web stack: building happens in :func:`create_assistant`, never at import.
Errors are :class:`NewsdeskError` and its kinds; each message names the file, value or setting.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Newsdesk never phones home: Gradio reads this when it is imported (by the UI and the HTTP front ends).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

if TYPE_CHECKING:
    from assistant.core.errors import (
        ConfigError,
        DocumentNotFoundError,
        FetchError,
        ModelError,
        NewsdeskError,
        StoreError,
        StoreLockedError,
    )
    from assistant.core.settings import Settings
    from assistant.core.types import Article
    from assistant.pipeline.request import Request
    from assistant.service import Assistant, create_assistant
    from assistant.types import Answer, ChatTurn, Citation, Filters, ShortAnswer
    from ingest.pipeline import IngestReport

_HOMES = {
    "Assistant": "assistant.service",
    "create_assistant": "assistant.service",
    "Request": "assistant.pipeline.request",
    "Answer": "assistant.types",
    "ChatTurn": "assistant.types",
    "Citation": "assistant.types",
    "Filters": "assistant.types",
    "ShortAnswer": "assistant.types",
    "Article": "assistant.core.types",
    "IngestReport": "ingest.pipeline",
    "Settings": "assistant.core.settings",
    "NewsdeskError": "assistant.core.errors",
    "ConfigError": "assistant.core.errors",
    "DocumentNotFoundError": "assistant.core.errors",
    "FetchError": "assistant.core.errors",
    "ModelError": "assistant.core.errors",
    "StoreError": "assistant.core.errors",
    "StoreLockedError": "assistant.core.errors",
}

__all__ = [
    "Answer",
    "Article",
    "Assistant",
    "ChatTurn",
    "Citation",
    "ConfigError",
    "DocumentNotFoundError",
    "FetchError",
    "Filters",
    "IngestReport",
    "ModelError",
    "NewsdeskError",
    "Request",
    "Settings",
    "ShortAnswer",
    "StoreError",
    "StoreLockedError",
    "create_assistant",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
