"""The archives one process serves: an :class:`Assistant` per archive, built on first use and kept.

The default archive's assistant is the one the process was started with; a named archive's is
built from the same settings with its store's location (:mod:`ingest.storage.archives`), sharing
the default's embedding model and LLM (loaded once, not once per archive).
"""

from __future__ import annotations

import threading

from assistant.core.errors import ArchiveNotFoundError
from assistant.core.settings import Settings
from assistant.service import Assistant, create_assistant
from ingest.storage.archives import DEFAULT_ARCHIVE, ArchiveInfo, ArchiveRegistry, check_name


def archive_settings(settings: Settings, name: str) -> Settings:
    """The settings of archive ``name`` (the same settings for the default archive)."""
    location = ArchiveRegistry(settings.store).location(name)
    return settings.model_copy(update=location) if location else settings


class Archives:
    """The default archive's assistant and, built on first use, each named archive's."""

    def __init__(self, settings: Settings, default: Assistant) -> None:
        self.settings = settings
        self.default = default
        self.registry = ArchiveRegistry(settings.store)
        self._built: dict[str, Assistant] = {}
        self._lock = threading.Lock()

    def listed(self) -> list[ArchiveInfo]:
        return self.registry.listed()

    def assistant(self, name: str) -> Assistant:
        """The assistant of archive ``name``: ArchiveNameError for a bad name, ArchiveNotFoundError
        for one that is not registered (the registry is read again: another process may have made it)."""
        if check_name(name) == DEFAULT_ARCHIVE:
            return self.default
        with self._lock:
            built = self._built.get(name)
            if built is not None:
                return built
            self.registry.require(name)
            built = create_assistant(
                archive_settings(self.settings, name),
                embedder=self.default.components.embedder,
                chat_model=self.default.chat_model,
            )
            self._built[name] = built
            return built

    def create(self, name: str) -> ArchiveInfo:
        return self.registry.create(name)

    def remove(self, name: str) -> ArchiveInfo:
        """Remove archive ``name`` and its data (this process's assistant of it closed first)."""
        check_name(name)
        with self._lock:
            if name != DEFAULT_ARCHIVE and not self.registry.exists(name):
                raise ArchiveNotFoundError(name)
            built = self._built.pop(name, None)
            if built is not None:
                built.close()
            return self.registry.remove(name, delete_data=True)

    def close(self) -> None:
        """Close every named archive's assistant built here (not the default's)."""
        with self._lock:
            for built in self._built.values():
                built.close()
            self._built.clear()
