"""The archives one process serves: an :class:`Assistant` per archive, built on first use and kept.

The default archive's assistant is the one the process was started with; a named archive's is
built from the same settings with its store's location (:mod:`ingest.storage.archives`), sharing
the default's embedding model and LLM (loaded once, not once per archive).

A question asked of several archives at once (:meth:`Archives.stream_across`) is answered by each
archive the asker may read, from its own evidence; an archive the asker may not read is refused
before anything of it is opened or searched (:class:`ArchiveForbiddenError`), so its sentences can
never be among the citations. The grounded answers are put together best first (by their best
citation's score), their ``[n]`` markers numbered on, each citation naming its archive.

Each archive's followed feeds have a :class:`FeedScheduler` here, bound to that archive's pipeline
(:meth:`Archives.feeds`). While the app serves (:meth:`Archives.start_feeds`) every scheduler runs:
the default's at once, each named archive's when a look at the registry finds it (at the start,
then every ``feeds_check_s``: archives the CLI made are picked up without a restart) or when it
is first used; an archive removed has its scheduler stopped; :meth:`Archives.stop_feeds` stops all.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence

from assistant.core.access import Grants
from assistant.core.errors import (
    ArchiveForbiddenError,
    ArchiveNotFoundError,
    NamedArchiveError,
    NewsdeskError,
)
from assistant.core.settings import Settings
from assistant.pipeline.request import Request
from assistant.service import Assistant, create_assistant
from assistant.types import Answer, Cited, StreamItem
from ingest.feeds.registry import FeedRegistry
from ingest.feeds.schedule import FeedScheduler
from ingest.storage.archives import DEFAULT_ARCHIVE, ArchiveInfo, ArchiveRegistry, check_name

MAX_ASKED = 8  # archives one question may be asked of at once
MARKER = re.compile(r"\[(\d+)\]")
logger = logging.getLogger(__name__)


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
        self._feeds = {DEFAULT_ARCHIVE: FeedScheduler(settings.ingest, default.components.pipeline)}
        self._scheduling = False  # start_feeds() was called: every scheduler runs
        self._stop_looking = threading.Event()
        self._looker: threading.Thread | None = None

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
            self._bind_feeds(name, built)
            return built

    def _bind_feeds(self, name: str, built: Assistant) -> None:
        """A scheduler of ``name``'s feeds on ``built``'s pipeline (started while scheduling), in
        place of one on an assistant of it built earlier."""
        earlier = self._feeds.pop(name, None)
        if earlier is not None:
            earlier.stop()
        scheduler = FeedScheduler(built.settings.ingest, built.components.pipeline)
        self._feeds[name] = scheduler
        if self._scheduling:
            scheduler.start()

    def feeds(self, name: str) -> FeedScheduler:
        """The feed scheduler of archive ``name`` (its assistant built on first use, as
        :meth:`assistant` does; the same errors)."""
        built = self.assistant(name)
        with self._lock:
            if name != DEFAULT_ARCHIVE and self._built.get(name) is not built:
                raise ArchiveNotFoundError(name)  # removed (its assistant closed) since it was built
            scheduler = self._feeds.get(name)
            if scheduler is None or scheduler.syncer.pipeline is not built.components.pipeline:
                self._bind_feeds(name, built)
            return self._feeds[name]

    def feed_registries(self) -> dict[str, FeedRegistry]:
        """The feed registries of the named archives opened here (the metrics' view)."""
        with self._lock:
            return {name: s.registry for name, s in self._feeds.items() if name != DEFAULT_ARCHIVE}

    def scheduled(self) -> list[str]:
        """The archives whose feeds are synced on their schedule now."""
        with self._lock:
            return sorted(name for name, scheduler in self._feeds.items() if scheduler.running)

    # --- the schedules while serving --------------------------------------------------------
    def start_feeds(self) -> None:
        """Sync every archive's feeds on their schedule from now on (idempotent): the default's at
        once, the named archives' from a look at the registry now and every ``feeds_check_s``."""
        with self._lock:
            if self._scheduling:
                return
            self._scheduling = True
            for scheduler in self._feeds.values():
                scheduler.start()
        self._stop_looking.clear()
        self._looker = threading.Thread(target=self._look_on, name="newsdesk-archive-feeds", daemon=True)
        self._looker.start()

    def stop_feeds(self) -> None:
        """Stop every archive's schedule (waiting for the syncs in progress)."""
        self._stop_looking.set()
        if self._looker is not None:
            self._looker.join(30.0)
            self._looker = None
        with self._lock:
            self._scheduling = False
            schedulers = list(self._feeds.values())
        for scheduler in schedulers:
            scheduler.stop()

    def _look_on(self) -> None:
        while not self._stop_looking.is_set():
            self.look()
            self._stop_looking.wait(self.settings.ingest.feeds_check_s)

    def look(self) -> None:
        """Schedule the feeds of each archive in the registry, and no longer those of an archive
        gone from it (removed by another process). An archive that cannot be opened is logged and
        looked at again next time."""
        try:
            names = set(self.registry.names())
        except NewsdeskError as exc:
            logger.warning("archive feeds: %s", exc)
            return
        for name in sorted(names - {DEFAULT_ARCHIVE}):
            if self._stop_looking.is_set():
                return
            try:
                self.feeds(name)
            except ArchiveNotFoundError:
                names.discard(name)  # removed since the registry was read
            except NewsdeskError as exc:
                logger.warning("archive feeds of %r: %s", name, exc)
        with self._lock:
            gone = {n: s for n, s in self._feeds.items() if n not in names and not self.registry.exists(n)}
        for name, scheduler in gone.items():
            self._forget(name, scheduler)

    def _forget(self, name: str, scheduler: FeedScheduler) -> None:
        """No schedule (stopped first, so what :meth:`scheduled` leaves out is stopped) and no
        assistant for archive ``name``, removed by another process."""
        scheduler.stop()
        with self._lock:
            if self._feeds.get(name) is scheduler:
                del self._feeds[name]
            built = self._built.pop(name, None)
        if built is not None:
            built.close()

    def create(self, name: str) -> ArchiveInfo:
        return self.registry.create(name)

    def readable(self, grants: Grants) -> list[str]:
        """The archives ``grants`` may read, the default first."""
        return grants.readable(self.registry.names())

    def asked(self, names: Sequence[str], grants: Grants) -> list[str]:
        """``names`` once each, checked: each well formed, readable with ``grants``
        (ArchiveForbiddenError, whether it exists or not) and existing (ArchiveNotFoundError)."""
        unique = list(dict.fromkeys(check_name(name) for name in names))
        if not unique or len(unique) > MAX_ASKED:
            raise NamedArchiveError(f"ask 1 to {MAX_ASKED} archives at once, not {len(unique)}")
        for name in unique:
            if not grants.can_read(name):
                raise ArchiveForbiddenError(name)
        for name in unique:
            self.registry.require(name)
        return unique

    def stream_across(self, request: Request, names: Sequence[str], grants: Grants) -> Iterator[StreamItem]:
        """The answer to ``request`` from the archives ``names`` (checked by :meth:`asked` before
        any is opened): one archive's streamed as it comes; several archives' answered each, then
        put together (:func:`merge_answers`). Every citation names its archive."""
        asked = self.asked(names, grants)
        if len(asked) == 1:
            for item in self.assistant(asked[0]).stream(request):
                yield tagged(item, asked[0])
            return
        merged = merge_answers([(name, self.assistant(name).ask(request)) for name in asked])
        yield merged.answer
        yield merged

    def ask_across(self, request: Request, names: Sequence[str], grants: Grants) -> Answer:
        """The complete answer of :meth:`stream_across`."""
        answers = [item for item in self.stream_across(request, names, grants) if isinstance(item, Answer)]
        return answers[-1]

    def remove(self, name: str) -> ArchiveInfo:
        """Remove archive ``name`` and its data (this process's assistant of it closed first)."""
        check_name(name)
        with self._lock:
            if name != DEFAULT_ARCHIVE and not self.registry.exists(name):
                raise ArchiveNotFoundError(name)
            scheduler = self._feeds.pop(name, None) if name != DEFAULT_ARCHIVE else None
            if scheduler is not None:
                scheduler.stop()
            built = self._built.pop(name, None)
            if built is not None:
                built.close()
            return self.registry.remove(name, delete_data=True)

    def close(self) -> None:
        """Stop the schedules and close every named archive's assistant built here (not the default's)."""
        self.stop_feeds()
        with self._lock:
            for built in self._built.values():
                built.close()
            self._built.clear()


def tagged(item: StreamItem, archive: str) -> StreamItem:
    """A streamed item with the citations of its answer (if it carries one) naming ``archive``."""
    if isinstance(item, Answer):
        return tag_archive(item, archive)
    if isinstance(item, Cited):
        return Cited(tag_archive(item.answer, archive))
    return item


def tag_archive(answer: Answer, archive: str) -> Answer:
    """``answer`` with each citation naming ``archive``."""
    citations = [c.model_copy(update={"archive": archive}) for c in answer.citations]
    return answer.model_copy(update={"citations": citations})


def renumbered(text: str, offset: int) -> str:
    """``text`` with each ``[n]`` marker made ``[n + offset]``."""
    return MARKER.sub(lambda m: f"[{int(m.group(1)) + offset}]", text) if offset else text


def best_score(answer: Answer) -> float:
    return max((c.score for c in answer.citations), default=float("-inf"))


def merge_answers(answers: Sequence[tuple[str, Answer]]) -> Answer:
    """One answer of several archives' answers to the same question: the grounded ones, best first
    (by their best citation's score), their markers and citations numbered on; when none is
    grounded, the first archive's refusal. Notices say which archives were asked."""
    tagged = [(name, tag_archive(answer, name)) for name, answer in answers]
    grounded = sorted((pair for pair in tagged if pair[1].grounded), key=lambda p: -best_score(p[1]))
    notice = "Asked the archives " + ", ".join(name for name, _ in tagged) + "."
    notices = list(dict.fromkeys(n for _, a in tagged for n in a.notices))
    if not grounded:
        return tagged[0][1].model_copy(update={"notices": [*notices, notice]})
    parts, citations, offset = [], [], 0
    for _, answer in grounded:
        parts.append(renumbered(answer.answer, offset))
        citations += [c.model_copy(update={"n": c.n + offset}) for c in answer.citations]
        offset += max((c.n for c in answer.citations), default=0)
    timings: dict[str, float] = {}
    for _, answer in tagged:
        for stage, ms in answer.timings_ms.items():
            timings[stage] = timings.get(stage, 0.0) + ms
    first = grounded[0][1]
    return first.model_copy(
        update={
            "answer": "\n\n".join(parts),
            "citations": citations,
            "notices": [*notices, notice],
            "as_of": max(a.as_of for _, a in tagged),
            "timings_ms": timings,
        }
    )
