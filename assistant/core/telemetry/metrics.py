"""The Prometheus metrics of Newsdesk: one family per thing an operator watches (docs/operations.md).

Nothing is counted until :func:`enable_metrics` (``newsdesk serve`` and ``create_app`` call it when
``metrics_enabled``): a library user, a CLI command or a test that did not ask pays one ``None``
test per recording. The families are built on first enabling, in their own registry, never at
import: ``prometheus_client`` chooses between in-process values and the files of multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set by ``newsdesk serve --workers N`` before its workers start)
when its first metric is built.

Every label takes a few known values (a route template, a mode, a result), so the number of
series is bounded whatever the traffic. The label values that mean "nothing happened yet" are
created at zero, so a rate over them is 0 rather than no data.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STORE_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GROUP_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
ANSWER_MODES = ("extractive", "llm", "fallback", "refusal")
INGEST_RESULTS = ("added", "updated", "unchanged", "failed")
FEED_RESULTS = ("ok", "not_modified", "failed", "skipped")
STORE_OPERATIONS = ("read", "write", "count", "delete", "query", "connect")
STORE_ERRORS = ("timeout", "unreachable", "error")
RATE_LIMIT_REASONS = ("limit", "storage_unavailable")


@dataclass(frozen=True)
class Metrics:
    """The metric families (their exposed names in the comments)."""

    registry: CollectorRegistry
    http_requests: Counter  # newsdesk_http_requests_total{route,method,status}
    http_seconds: Histogram  # newsdesk_http_request_duration_seconds{route,method}
    answers: Counter  # newsdesk_answers_total{mode}
    ask_stage_seconds: Histogram  # newsdesk_ask_stage_seconds{stage}
    ingest_articles: Counter  # newsdesk_ingest_articles_total{result}
    ingest_sentences: Counter  # newsdesk_ingest_sentences_total
    ingest_group_seconds: Histogram  # newsdesk_ingest_group_duration_seconds
    feed_syncs: Counter  # newsdesk_feed_syncs_total{result}
    store_calls: Counter  # newsdesk_store_calls_total{operation}
    store_errors: Counter  # newsdesk_store_call_errors_total{operation,kind}
    store_seconds: Histogram  # newsdesk_store_call_duration_seconds{operation}
    rate_limited: Counter  # newsdesk_rate_limit_refusals_total{reason}

    @classmethod
    def build(cls) -> Metrics:
        from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

        registry = CollectorRegistry()
        if not os.environ.get(MULTIPROC_ENV):  # several processes: their CPU and memory are not summed
            ProcessCollector(namespace="newsdesk", registry=registry)

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, labels, namespace="newsdesk", registry=registry)

        def histogram(name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, labels, namespace="newsdesk", registry=registry, buckets=buckets)

        built = cls(
            registry=registry,
            http_requests=counter(
                "http_requests",
                "HTTP requests by route template, method and status",
                ("route", "method", "status"),
            ),
            http_seconds=histogram(
                "http_request_duration_seconds",
                "Time to the end of the response, by route template and method",
                ("route", "method"),
                SECONDS,
            ),
            answers=counter(
                "answers",
                "Answers by mode: extractive, llm, fallback (the LLM failed, the extractive answer "
                "was shown) or refusal (no grounded answer)",
                ("mode",),
            ),
            ask_stage_seconds=histogram(
                "ask_stage_seconds", "Time of each step of an answer (its timings_ms)", ("stage",), SECONDS
            ),
            ingest_articles=counter("ingest_articles", "Articles ingested by result", ("result",)),
            ingest_sentences=counter("ingest_sentences", "Sentences embedded and stored"),
            ingest_group_seconds=histogram(
                "ingest_group_duration_seconds",
                "Time to prepare and embed one ingest group",
                (),
                GROUP_SECONDS,
            ),
            feed_syncs=counter("feed_syncs", "Feed syncs by result", ("result",)),
            store_calls=counter("store_calls", "Chroma calls by operation", ("operation",)),
            store_errors=counter(
                "store_call_errors", "Failed Chroma calls by operation and kind", ("operation", "kind")
            ),
            store_seconds=histogram(
                "store_call_duration_seconds", "Time of a Chroma call", ("operation",), STORE_SECONDS
            ),
            rate_limited=counter(
                "rate_limit_refusals",
                "Requests refused by the rate limit (429), or because its storage did not answer (503)",
                ("reason",),
            ),
        )
        built._zeroes()
        return built

    def _zeroes(self) -> None:
        """The series of "none yet", at zero."""
        for mode in ANSWER_MODES:
            self.answers.labels(mode)
        for result in INGEST_RESULTS:
            self.ingest_articles.labels(result)
        for result in FEED_RESULTS:
            self.feed_syncs.labels(result)
        for operation in STORE_OPERATIONS:
            self.store_calls.labels(operation)
            for kind in STORE_ERRORS:
                self.store_errors.labels(operation, kind)
        for reason in RATE_LIMIT_REASONS:
            self.rate_limited.labels(reason)


class _State:
    lock = threading.Lock()
    built: Metrics | None = None
    active: Metrics | None = None


def enable_metrics() -> Metrics:
    """Start counting (the families are built the first time); idempotent."""
    with _State.lock:
        if _State.built is None:
            _State.built = Metrics.build()
        _State.active = _State.built
        return _State.built


def disable_metrics() -> None:
    """Stop counting (what was counted is kept for a later :func:`enable_metrics`)."""
    with _State.lock:
        _State.active = None


def active_metrics() -> Metrics | None:
    """The families being counted, or None when metrics are off."""
    return _State.active


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    m = _State.active
    if m is not None:
        m.http_requests.labels(route, method, str(status)).inc()
        m.http_seconds.labels(route, method).observe(seconds)


def record_answer(mode: str, timings_ms: Mapping[str, float]) -> None:
    """One answer given in ``mode`` (see ANSWER_MODES) and the time of each of its steps."""
    m = _State.active
    if m is not None:
        m.answers.labels(mode).inc()
        for stage, ms in timings_ms.items():
            m.ask_stage_seconds.labels(stage).observe(ms / 1000.0)


def record_ingest(counts: Mapping[str, int], sentences: int = 0) -> None:
    """Articles by result (INGEST_RESULTS) and sentences stored by one step of an ingest."""
    m = _State.active
    if m is not None:
        for result, n in counts.items():
            if n:
                m.ingest_articles.labels(result).inc(n)
        if sentences:
            m.ingest_sentences.inc(sentences)


def record_ingest_group(seconds: float) -> None:
    m = _State.active
    if m is not None:
        m.ingest_group_seconds.observe(seconds)


def record_feed_sync(result: str) -> None:
    m = _State.active
    if m is not None:
        m.feed_syncs.labels(result).inc()


def record_store_call(operation: str, seconds: float, error: str = "") -> None:
    """One Chroma call; ``error``: "" when it worked, else one of STORE_ERRORS."""
    m = _State.active
    if m is not None:
        m.store_calls.labels(operation).inc()
        m.store_seconds.labels(operation).observe(seconds)
        if error:
            m.store_errors.labels(operation, error).inc()


def record_rate_limited(reason: str) -> None:
    m = _State.active
    if m is not None:
        m.rate_limited.labels(reason).inc()


def store_operation(what: str) -> str:
    """The operation label of a ``chroma_call`` description ("read", "write of 'feeds'", ...)."""
    first = what.split(" ", 1)[0]
    return first if first in STORE_OPERATIONS else "other"


class _Joined:
    """Several collectors as one (what ``generate_latest`` reads)."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(extra: Iterable[Collector] = (), accept: str = "") -> tuple[bytes, str]:
    """The metrics in the Prometheus text format (OpenMetrics when ``accept`` asks for it) and its
    content type: this process's families, or every worker's (multiprocess mode), then ``extra``
    (collected now, such as the archive size)."""
    from prometheus_client import exposition as text
    from prometheus_client import multiprocess

    sources: list[Any] = []
    if os.environ.get(MULTIPROC_ENV):
        sources.append(multiprocess.MultiProcessCollector(None))  # type: ignore[no-untyped-call]
    elif _State.built is not None:
        sources.append(_State.built.registry)
    sources.extend(extra)
    encoder, content_type = text.choose_encoder(accept)
    return encoder(_Joined(sources)), content_type
