"""within(): a total time for an LLM's async reply; at the deadline the read in progress is
cancelled where it is, and the stream is closed."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator

import pytest

from assistant.answering.bounded import DeadlinePassed, within, within_call

ASKED_BY: contextvars.ContextVar[str] = contextvars.ContextVar("asked_by", default="nobody")


def test_slow_drip_stops_at_the_total_deadline_and_the_stream_is_closed_at_once() -> None:
    closed = threading.Event()

    async def drip() -> AsyncIterator[int]:
        try:
            for n in range(100):
                await asyncio.sleep(0.1)
                yield n
        finally:
            closed.set()

    got: list[int] = []
    started = time.monotonic()
    with pytest.raises(DeadlinePassed, match=r"0\.5 s"):
        for item in within(0.5, drip):
            got.append(item)
    assert time.monotonic() - started < 0.8
    assert 2 <= len(got) <= 5
    assert closed.is_set()  # the read in progress was cancelled: the stream (an HTTP response) is closed


def test_stream_that_never_yields_ends_at_the_deadline_without_waiting_for_it() -> None:
    cancelled = threading.Event()

    async def stalled() -> AsyncIterator[int]:
        try:
            await asyncio.sleep(30)
            yield 1
        except asyncio.CancelledError:
            cancelled.set()
            raise

    started = time.monotonic()
    with pytest.raises(DeadlinePassed):
        list(within(0.3, stalled))
    assert time.monotonic() - started < 0.6
    assert cancelled.is_set()


def test_stream_error_is_raised_to_the_consumer() -> None:
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise ConnectionError("server went away")

    got: list[int] = []
    with pytest.raises(ConnectionError, match="server went away"):
        for item in within(5.0, broken):
            got.append(item)
    assert got == [1]


def test_consumer_that_stops_early_closes_the_stream() -> None:
    closed = threading.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                n += 1
                await asyncio.sleep(0.01)
                yield n
        finally:
            closed.set()

    items = within(5.0, endless)
    assert next(items) == 1
    items.close()
    assert closed.is_set()


def test_the_callers_context_goes_along_and_a_slow_call_ends_at_the_deadline() -> None:
    async def who() -> AsyncIterator[str]:
        yield ASKED_BY.get()

    async def answer() -> str:
        return ASKED_BY.get()

    async def never() -> str:
        await asyncio.sleep(30)
        return "late"

    ASKED_BY.set("the chat")
    assert list(within(5.0, who)) == ["the chat"]
    assert within_call(5.0, answer) == "the chat"
    started = time.monotonic()
    with pytest.raises(DeadlinePassed):
        within_call(0.2, never)
    assert time.monotonic() - started < 0.5
