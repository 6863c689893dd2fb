"""Iterate a slow producer (a streamed LLM reply) within a total time, not a per-item one.

An HTTP client's timeout bounds each read: a server that sends one token every few seconds never
trips it, and a reply can take minutes. :func:`within` runs the producer in a daemon thread and
stops waiting when the total time is up, wherever the producer is; the thread then closes the
producer at its next item (or when the client's own read timeout ends a stalled read), which closes
the connection and so tells the server to stop generating.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class DeadlinePassed(TimeoutError):
    """The total time given to a producer is up."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete reply within {seconds:g} s")
        self.seconds = seconds


class _Done:
    """End of the producer's items."""


class _Failed(Generic[T]):
    def __init__(self, error: BaseException) -> None:
        self.error = error


def within(
    seconds: float, produce: Callable[[], Iterator[T]], name: str = "newsdesk-bounded"
) -> Generator[T]:
    """The items of ``produce()`` as they come; :class:`DeadlinePassed` once ``seconds`` have passed.

    The producer's own exceptions are re-raised here. Stopping early (a ``break``, a closed
    generator, the deadline) makes the thread close the producer at its next item."""
    items: queue.Queue[T | _Done | _Failed[T]] = queue.Queue()
    stop = threading.Event()
    context = contextvars.copy_context()  # the caller's context (LangChain callbacks, tracing) goes along
    worker = threading.Thread(target=context.run, args=(_pump, produce, items, stop), name=name, daemon=True)
    deadline = time.monotonic() + seconds
    worker.start()
    try:
        while True:
            item = _next(items, deadline, seconds)
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()


def _next(
    items: queue.Queue[T | _Done | _Failed[T]], deadline: float, seconds: float
) -> T | _Done | _Failed[T]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlinePassed(seconds)
    try:
        return items.get(timeout=remaining)
    except queue.Empty:
        raise DeadlinePassed(seconds) from None


def _pump(
    produce: Callable[[], Iterator[T]], items: queue.Queue[T | _Done | _Failed[T]], stop: threading.Event
) -> None:
    try:
        iterator = produce()
        try:
            for item in iterator:
                if stop.is_set():
                    break
                items.put(item)
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()
        items.put(_Done())
    except BaseException as exc:  # handed to the consumer, which re-raises it
        items.put(_Failed(exc))
