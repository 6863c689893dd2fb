"""The traces of a question, an ingest and a feed sync, made in-process with the real model and a
real embedded Chroma, read from the OpenTelemetry SDK's ``InMemorySpanExporter``.

One trace per question: ``newsdesk.ask`` with a child span per pipeline stage, in the order they
run, and the store calls of a stage as its children (also those made on the read threads); the
question's length, never its text unless ``otel_record_questions``. One span per ingest group and
per feed sync. And the JSON log line written inside a span carries its trace and span ids.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from assistant.core.telemetry.logs import JsonFormatter
from assistant.core.telemetry.tracing import span, use_tracer_provider
from assistant.pipeline.chain import STAGES
from assistant.pipeline.request import Request
from assistant.service import Assistant, create_assistant
from assistant.types import Answer, StreamItem
from ingest.embedding.embedder import Embedder
from ingest.feeds.schedule import FeedScheduler
from tests.assistant.conftest_api import SAMPLE_QUESTION
from tests.conftest import SAMPLE
from tests.feed_server import FeedItem, FeedServer, feed_server
from tests.ingest.feeds.test_registry import feed_settings

__all__ = ["feed_server"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    yield exporter
    use_tracer_provider(None)
    provider.shutdown()


@pytest.fixture
def assistant(tmp_path: Path, embedder: Embedder) -> Assistant:
    made = create_assistant(feed_settings(tmp_path), embedder=embedder)
    assert made.ingest_sources([str(SAMPLE)]).added == 1
    return made


def named(found: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in found if s.name == name]


def span_id(s: ReadableSpan) -> int:
    assert s.context is not None
    return int(s.context.span_id)


def parent_id(s: ReadableSpan) -> int | None:
    return s.parent.span_id if s.parent is not None else None


def test_a_question_is_one_trace_with_a_span_per_stage_and_its_store_calls(
    assistant: Assistant, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    answer = assistant.ask(SAMPLE_QUESTION)
    found = spans.get_finished_spans()
    (ask,) = named(found, "newsdesk.ask")
    assert ask.context is not None and all(
        s.context and s.context.trace_id == ask.context.trace_id for s in found
    )
    stages = sorted((s for s in found if parent_id(s) == span_id(ask)), key=lambda s: s.start_time or 0)
    assert [s.name for s in stages] == ["newsdesk.cache", *(f"newsdesk.{stage}" for stage in STAGES)]
    by_name = {s.name: s for s in stages}
    assert ask.attributes is not None and ask.attributes["newsdesk.question.length"] == len(SAMPLE_QUESTION)
    assert ask.attributes["newsdesk.citations"] == len(answer.citations) > 0
    retrieve = by_name["newsdesk.retrieve"]
    assert retrieve.attributes is not None and int(str(retrieve.attributes["newsdesk.candidates"])) > 0
    answered = by_name["newsdesk.answer"]
    assert answered.attributes is not None and answered.attributes["newsdesk.citations"] == len(
        answer.citations
    )
    store_calls = [s for s in found if s.name.startswith("newsdesk.store.")]
    under_retrieve = [s for s in store_calls if parent_id(s) == span_id(retrieve)]
    assert "newsdesk.store.query" in {s.name for s in under_retrieve}  # the dense neighbours
    stage_ids = {span_id(s) for s in stages}
    assert all(parent_id(s) in stage_ids for s in store_calls), [(s.name, parent_id(s)) for s in store_calls]
    texts = [str(v) for s in found for v in (s.attributes or {}).values()]
    assert not any(SAMPLE_QUESTION in text for text in texts)  # its length only
    assert by_name["newsdesk.cache"].attributes == {"newsdesk.cache_hit": False}
    spans.clear()
    assistant.ask(SAMPLE_QUESTION)  # again, the store unchanged: the kept answer
    again = spans.get_finished_spans()
    (ask,) = named(again, "newsdesk.ask")
    (looked,) = [s for s in again if parent_id(s) == span_id(ask)]
    assert looked.name == "newsdesk.cache" and looked.attributes == {"newsdesk.cache_hit": True}


def test_the_question_text_is_on_the_span_only_when_a_setting_allows(
    assistant: Assistant, spans: InMemorySpanExporter
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    use_tracer_provider(provider, record_questions=True)
    spans.clear()
    assistant.ask(SAMPLE_QUESTION)
    (ask,) = named(spans.get_finished_spans(), "newsdesk.ask")
    assert ask.attributes is not None and ask.attributes["newsdesk.question"] == SAMPLE_QUESTION


def test_an_answer_streamed_from_several_threads_is_still_one_trace(
    assistant: Assistant, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    """As the HTTP API streams: each piece is taken in a worker thread, in a copy of the request's
    context (as ``anyio.to_thread.run_sync`` runs it), until there is none."""
    pieces = assistant.stream(Request.of(SAMPLE_QUESTION))
    taken: list[StreamItem | None] = []

    def take(context: contextvars.Context) -> None:
        taken.append(context.run(next, pieces, None))

    with span("GET request") as outer:
        assert outer is not None
        while not taken or taken[-1] is not None:
            thread = threading.Thread(target=take, args=(contextvars.copy_context(),))
            thread.start()
            thread.join()
    assert isinstance(taken[-2], Answer)
    found = spans.get_finished_spans()
    (ask,) = named(found, "newsdesk.ask")
    assert len({s.context.trace_id for s in found if s.context}) == 1
    assert ask.parent is None or ask.parent.span_id == outer.get_span_context().span_id
    assert len([s for s in found if parent_id(s) == span_id(ask)]) == len(STAGES) + 1  # and the cache
    assert "Failed to detach context" not in caplog.text


FERRY = FeedItem(
    "ferry",
    "Quillport ferry gets a winter schedule",
    "The Quillport harbor commissioner announced a new ferry schedule for the winter season. "
    "The ferries will run every ninety minutes from the north pier.",
)


def test_an_ingest_group_and_a_feed_sync_are_spans(
    assistant: Assistant, spans: InMemorySpanExporter, feed_server: FeedServer
) -> None:
    feed_server.items = [FERRY]
    scheduler = FeedScheduler(assistant.settings.ingest, assistant.components.pipeline)
    scheduler.registry.add(feed_server.feed_url(), "1h", None)
    spans.clear()
    (result,) = scheduler.sync_now()
    assert result.ok and result.report.added == 1
    found = spans.get_finished_spans()
    (sync,) = named(found, "newsdesk.feed.sync")
    assert sync.attributes is not None and sync.attributes["newsdesk.result"] == "ok"
    assert sync.attributes["newsdesk.added"] == 1
    (group,) = named(found, "newsdesk.ingest.group")
    assert parent_id(group) == span_id(sync)
    writes = [s for s in named(found, "newsdesk.store.write") if s.context and group.context]
    assert writes and all(
        s.context.trace_id == sync.context.trace_id for s in writes if s.context and sync.context
    )


def test_a_json_log_line_names_the_trace_and_span_it_was_written_in(spans: InMemorySpanExporter) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("newsdesk.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with span("work") as current:
            logger.info("inside %s", "a span")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert current is not None
    context = current.get_span_context()
    assert inside["message"] == "inside a span" and inside["level"] == "INFO"
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside and outside["logger"] == "newsdesk.test.json"
