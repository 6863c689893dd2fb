"""The section of what the operator sees: metrics, traces and logs (assistant/core/telemetry/,
docs/operations.md). Each field is the one declaration of a flat setting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assistant.core.sections.base import Section

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ObservabilitySettings(Section):
    """Prometheus metrics, OpenTelemetry traces and the server's log lines."""

    metrics_enabled: bool = Field(
        True,
        description="Count requests, answers, ingests, feed syncs and store calls, and serve them in "
        "the Prometheus text format at /metrics (behind the API keys when keys are set).",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve /metrics on this port instead (plain HTTP, no keys: bind it where only "
        "Prometheus reaches it, metrics_host); 0 = on the app's own port.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address the separate metrics port binds to.")
    metrics_multiproc_dir: str = Field(
        "",
        description="Folder where the worker processes of `newsdesk serve --workers N` keep their "
        "counts (PROMETHEUS_MULTIPROC_DIR, emptied at start); empty = a new temporary folder.",
    )
    otel_endpoint: str = Field(
        "",
        description="OTLP/HTTP endpoint the traces are sent to (http://collector:4318/v1/traces; the "
        "otlp extra); empty = no traces are made.",
    )
    otel_service_name: str = Field("newsdesk", description="service.name of the traces.")
    otel_record_questions: bool = Field(
        False,
        description="Put the question's text on the ask span (newsdesk.question); by default a span "
        "carries only its length.",
    )
    log_format: LogFormat = Field(
        "text",
        description="Server log lines: text, or json (one object a line with the trace and span ids).",
    )
    log_level: LogLevel = Field("INFO", description="Lowest level of the server's log lines.")
