"""Read an LLM's async reply within a total time, not a per-read one.

An HTTP client's timeout bounds each read: a server that sends one token every few seconds never
trips it, and a reply can take minutes. :func:`within` reads the model's async stream (``astream``)
item by item on the one event loop this process keeps for its LLM calls, each read awaited in an
``anyio`` cancel scope whose deadline is the reply's: when the time is up, the read in progress is
cancelled where it is, which closes the HTTP stream and so tells the server to stop generating.
:func:`within_call` does the same for a single awaited call (``ainvoke``).

The caller's context variables (LangChain callbacks, tracing) go along with every read.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

import anyio

T = TypeVar("T")
_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


class DeadlinePassed(TimeoutError):
    """The total time given to a reply is up."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete reply within {seconds:g} s")
        self.seconds = seconds


class _End:
    """The stream has no more items."""


def within(seconds: float, produce: Callable[[], AsyncIterator[T]]) -> Generator[T]:
    """The items of the async stream ``produce()`` as they come; :class:`DeadlinePassed` once
    ``seconds`` have passed since the call. The stream's own exceptions are re-raised here;
    stopping early (a ``break``, a closed generator, the deadline) closes the stream."""
    context = contextvars.copy_context()
    stream, deadline = _run(_open(produce, seconds), context)
    try:
        while True:
            item = _run(_next(stream, deadline, seconds), context)
            if isinstance(item, _End):
                return
            yield item
    finally:
        _run(_close(stream), context)


def within_call(seconds: float, call: Callable[[], Awaitable[T]]) -> T:
    """The result of awaiting ``call()``; :class:`DeadlinePassed` once ``seconds`` have passed."""
    return _run(_bounded(call, seconds), contextvars.copy_context())


async def _open(produce: Callable[[], AsyncIterator[T]], seconds: float) -> tuple[AsyncIterator[T], float]:
    return produce(), anyio.current_time() + seconds


async def _next(stream: AsyncIterator[T], deadline: float, seconds: float) -> T | _End:
    with anyio.CancelScope(deadline=deadline) as scope:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return _End()
    assert scope.cancelled_caught
    raise DeadlinePassed(seconds)


async def _bounded(call: Callable[[], Awaitable[T]], seconds: float) -> T:
    with anyio.move_on_after(seconds):
        return await call()
    raise DeadlinePassed(seconds)


async def _close(stream: AsyncIterator[T]) -> None:
    close = getattr(stream, "aclose", None)
    if callable(close):
        await close()


def _run(coroutine: Coroutine[Any, Any, T], context: contextvars.Context) -> T:
    """Run a coroutine on the LLM event loop, in ``context``, and wait for its result here."""
    loop = _event_loop()
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def start() -> None:
        task = loop.create_task(coroutine, context=context)
        task.add_done_callback(lambda finished: _settle(done, finished))

    loop.call_soon_threadsafe(start)
    return done.result()


def _settle(done: concurrent.futures.Future[T], task: asyncio.Task[T]) -> None:
    if task.cancelled():
        done.cancel()
    elif (error := task.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(task.result())


def _event_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for LLM calls, started on first use in a daemon thread (an HTTP
    client's connection pool belongs to one loop, so every call uses this one)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="newsdesk-llm-loop", daemon=True).start()
            _LOOP = loop
        return _LOOP
