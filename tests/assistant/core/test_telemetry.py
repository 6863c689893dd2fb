"""The metric families in-process: nothing counted while off; a Chroma call counted by operation,
its failures by kind (timeout, unreachable, error); an answer by the mode it was given in; the
exposition in the Prometheus text format."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from assistant.core.errors import ConfigError, StoreError
from assistant.core.settings import Settings
from assistant.core.telemetry.metrics import (
    MULTIPROC_ENV,
    Metrics,
    disable_metrics,
    enable_metrics,
    exposition,
    record_answer,
    store_operation,
)
from assistant.server import serve_workers
from assistant.service import answer_outcome
from assistant.types import Answer
from ingest.storage.chroma import chroma_call


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    yield enable_metrics()
    disable_metrics()


def sample(m: Metrics, name: str, **labels: str) -> float:
    found = m.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_nothing_is_counted_while_metrics_are_off(metrics: Metrics) -> None:
    before = sample(metrics, "newsdesk_store_calls_total", operation="read")
    disable_metrics()
    chroma_call("/store", "read", lambda: 1)
    assert sample(metrics, "newsdesk_store_calls_total", operation="read") == before
    enable_metrics()
    chroma_call("/store", "read", lambda: 1)
    assert sample(metrics, "newsdesk_store_calls_total", operation="read") == before + 1


def fail(error: Exception) -> None:
    raise error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "unreachable"),
        (ValueError("Error finding id"), "error"),
    ],
)
def test_a_failed_chroma_call_is_counted_by_its_kind(metrics: Metrics, error: Exception, kind: str) -> None:
    kinds = ("timeout", "unreachable", "error")
    before = {
        k: sample(metrics, "newsdesk_store_call_errors_total", operation="query", kind=k) for k in kinds
    }
    with pytest.raises(StoreError):
        chroma_call("http://127.0.0.1:8000", "query", lambda: fail(error))
    after = {k: sample(metrics, "newsdesk_store_call_errors_total", operation="query", kind=k) for k in kinds}
    assert after == {k: before[k] + (k == kind) for k in kinds}


def test_store_operations_are_a_few_known_labels() -> None:
    assert store_operation("read") == "read"
    assert store_operation("write of 'news_feeds'") == "write"
    assert store_operation("something new") == "other"


def answer(grounded: bool, mode: str, timings: dict[str, float]) -> Answer:
    return Answer.model_validate(
        {"question": "q", "answer": "a", "grounded": grounded, "mode": mode, "timings_ms": timings}
    )


def test_an_answer_is_counted_by_the_mode_it_was_given_in() -> None:
    assert answer_outcome("extractive", answer(True, "extractive", {"answer": 1.0})) == "extractive"
    assert answer_outcome("llm", answer(True, "llm", {"llm": 9.0})) == "llm"
    assert answer_outcome("llm", answer(True, "extractive", {"llm": 9.0, "answer": 1.0})) == "fallback"
    assert answer_outcome("llm", answer(True, "extractive", {"answer": 1.0})) == "extractive"  # no LLM set
    assert answer_outcome("llm", answer(False, "extractive", {"llm": 9.0})) == "refusal"


def test_the_exposition_has_every_family_and_the_stage_times(metrics: Metrics) -> None:
    before = sample(metrics, "newsdesk_ask_stage_seconds_count", stage="dense")
    record_answer("extractive", {"dense": 12.0, "total": 40.0})
    body, content_type = exposition()
    assert content_type.startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {
        "newsdesk_http_requests",
        "newsdesk_answers",
        "newsdesk_ask_stage_seconds",
        "newsdesk_ingest_articles",
        "newsdesk_feed_syncs",
        "newsdesk_store_calls",
        "newsdesk_store_call_errors",
        "newsdesk_rate_limit_refusals",
    } <= families
    assert sample(metrics, "newsdesk_ask_stage_seconds_count", stage="dense") == before + 1
    assert sample(metrics, "newsdesk_ask_stage_seconds_sum", stage="dense") >= 0.012
    openmetrics, kind = exposition(accept="application/openmetrics-text; version=1.0.0")
    assert kind.startswith("application/openmetrics-text") and openmetrics.rstrip().endswith(b"# EOF")


def test_several_workers_are_refused_on_an_embedded_store(tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")
    with pytest.raises(ConfigError, match="--workers needs a Chroma server"):
        serve_workers(settings, 2, {})
    assert MULTIPROC_ENV not in os.environ


def test_the_separate_metrics_port_serves_the_families_and_the_archive_size(
    metrics: Metrics, tmp_path: Path
) -> None:
    from assistant.frontends.http.metrics import ArchiveCollector, serve_metrics_port
    from ingest.storage.store import NewsStore
    from tests.assistant.conftest_api import free_port

    settings = Settings(store_dir=tmp_path / "store", feedback_path=tmp_path / "feedback.jsonl")
    port = free_port()
    server = serve_metrics_port("127.0.0.1", port, [ArchiveCollector(NewsStore(settings.store), None)])
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=30).status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    found = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert found["newsdesk_archive_articles"] == 0 and found["newsdesk_store_up"] == 1
    assert "newsdesk_answers_total" in found
