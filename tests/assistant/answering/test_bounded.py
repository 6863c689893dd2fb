"""within(): a total time for a slow producer, which is closed once the consumer stops waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from assistant.answering.bounded import DeadlinePassed, within


def test_slow_drip_stops_at_the_total_deadline_and_the_producer_is_closed() -> None:
    closed = threading.Event()

    def drip() -> Iterator[int]:
        try:
            for n in range(100):
                time.sleep(0.1)
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
    assert closed.wait(1.0)  # at its next item the thread closes it (an HTTP stream: the connection)


def test_producer_that_never_yields_still_ends_at_the_deadline() -> None:
    release = threading.Event()

    def stalled() -> Iterator[int]:
        release.wait(5.0)
        yield 1

    started = time.monotonic()
    with pytest.raises(DeadlinePassed):
        list(within(0.3, stalled))
    assert time.monotonic() - started < 0.6
    release.set()


def test_producer_error_is_raised_to_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ConnectionError("server went away")

    got: list[int] = []
    with pytest.raises(ConnectionError, match="server went away"):
        for item in within(5.0, broken):
            got.append(item)
    assert got == [1]


def test_consumer_that_stops_early_closes_the_producer() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                time.sleep(0.01)
                yield n
        finally:
            closed.set()

    items = within(5.0, endless)
    assert next(items) == 1
    items.close()
    assert closed.wait(1.0)
