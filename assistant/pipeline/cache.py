"""Answers to repeated questions: the whole stream of an extractive answer kept, and given again
while the store has not changed.

An extractive answer is a function of the request (question, conversation, filters, mode, the day it
is asked on) and of the stored articles, so the same request asked again before any article was
written or deleted gets the same answer: a desk's common questions, a portal's suggested ones, a
reload. The store's generation token (:meth:`~ingest.storage.store.NewsStore.generation`, changed by
every write of any process) is read *before* the pipeline runs and is part of the key: an answer
made while a write landed is kept under the older token, which no later request reads again. LLM
answers are not kept (they differ from one call to the next, and a person asking again may want
another). A hit gives the kept pieces, :class:`~assistant.types.Cited` and the
:class:`~assistant.types.Answer` again (copies), with the timings ``cache`` and ``total`` instead
of the stages'. The look-up is a span, ``newsdesk.cache`` (``newsdesk.cache_hit``), before the
stages' spans.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

from assistant.core.telemetry.tracing import add_attributes, span
from assistant.pipeline.request import Request, ms_since
from assistant.types import Answer, Cited, StreamItem

Key = tuple[str, ...]


class AnswerCache:
    """The last ``size`` extractive answers, by request and store generation (thread-safe)."""

    def __init__(self, size: int, generation: Callable[[], str]) -> None:
        self.size, self._generation = size, generation
        self._kept: OrderedDict[Key, tuple[StreamItem, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def stream(
        self, request: Request, answer: Callable[[Request], Iterator[StreamItem]]
    ) -> Iterator[StreamItem]:
        """The answer's stream: the kept one for a request asked before on this generation of the
        store, else ``answer(request)``'s, kept when it was read to its end."""
        if self.size <= 0 or request.mode != "extractive":
            yield from answer(request)
            return
        with span("newsdesk.cache"):  # the look-up, its store read a child of it
            key = (self._generation(), *request_key(request))
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    self._kept.move_to_end(key)
            add_attributes({"newsdesk.cache_hit": kept is not None})
        if kept is not None:
            yield from replayed(kept, request.started)
            return
        items: list[StreamItem] = []
        for item in answer(request):
            items.append(_copied(item))  # copied before the caller has it: it may change what it got
            yield item
        with self._lock:
            self._kept[key] = tuple(items)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


def request_key(request: Request) -> Key:
    """What an extractive answer depends on besides the store."""
    turns = tuple(f"{turn.role}:{turn.content}" for turn in request.history)
    filters = request.filters.model_dump_json() if request.filters is not None else ""
    return (request.question, "\x1f".join(turns), filters, str(request.mode), request.day.isoformat())


def replayed(items: tuple[StreamItem, ...], started: float) -> Iterator[StreamItem]:
    """The kept items again, the answers as copies timed from ``started``."""
    for item in items:
        elapsed = ms_since(started)
        yield _copied(item, {"cache": elapsed, "total": elapsed})


def _copied(item: StreamItem, timings: dict[str, float] | None = None) -> StreamItem:
    """``item`` with its answer copied (with ``timings`` instead of its own when given)."""
    if isinstance(item, Cited):
        return Cited(_copied_answer(item.answer, timings))
    return _copied_answer(item, timings) if isinstance(item, Answer) else item


def _copied_answer(answer: Answer, timings: dict[str, float] | None) -> Answer:
    copy = answer.model_copy(deep=True)
    if timings is not None:
        copy.timings_ms = timings
    return copy


__all__ = ["AnswerCache"]
