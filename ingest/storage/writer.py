"""Writing groups of articles in a writer thread while the next group is embedded (ingest/pipeline.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from assistant.core.telemetry import tracing


class GroupWriter:
    """Runs the writes of one group in a thread while the caller prepares and embeds the next one
    (without ``background``: at once, in the caller's thread).

    At most one group is in flight and groups are stored in submission order (one thread, and each
    submit first waits for the previous group), so the write order of ingest/storage/store.py holds across
    groups. An error of a write is raised to the caller at its next ``submit``, ``wait`` or at exit;
    leaving the block waits for the group in flight.
    """

    def __init__(self, background: bool = True) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="newsdesk-writer") if background else None
        self._pending: Future[None] | None = None
        self._doc_ids: frozenset[str] = frozenset()

    def submit(self, write: Callable[[], None], doc_ids: Iterable[str]) -> None:
        """Start ``write`` (which stores ``doc_ids``) once the previous group is stored; without
        ``background``, run it now."""
        self.wait()
        if self._pool is None:
            write()
            return
        self._pending, self._doc_ids = self._pool.submit(tracing.in_context(write)), frozenset(doc_ids)

    def wait(self) -> None:
        """Block until the group in flight is stored (raising its error, if any)."""
        pending, self._pending, self._doc_ids = self._pending, None, frozenset()
        if pending is not None:
            pending.result()

    def wait_for(self, doc_ids: Iterable[str]) -> None:
        """Block until none of ``doc_ids`` is being written (so reads of their records are current)."""
        if not self._doc_ids.isdisjoint(doc_ids):
            self.wait()

    def __enter__(self) -> GroupWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self.wait()
            elif self._pending is not None:  # the error in flight is the news; still finish the group
                self._pending.exception()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
