"""OpenTelemetry traces: one per question (a span per pipeline stage and per store call), one span
per ingest group and per feed sync (docs/operations.md).

No span is made until a tracer provider is installed: :func:`configure_tracing` builds one that
exports over OTLP/HTTP when ``otel_endpoint`` is set; tests install their own
(:func:`use_tracer_provider`, with the SDK's ``InMemorySpanExporter``). Newsdesk's tracer is its
own, not the process-wide provider, so an embedding program's tracing is left as it is (and the
current span of its context still becomes the parent of Newsdesk's).

A span is made the current one only around code that runs to its end in one call. A generator's
span (the ask, the answer stage) is current only while the generator computes its next item, and is
not while the consumer holds it (:func:`traced_iter`): a generator resumed in another thread or
context (the HTTP API streams an answer from worker threads) would otherwise detach a context it
did not attach.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from assistant.core.errors import ConfigError
from assistant.core.sections.operations import ObservabilitySettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

T = TypeVar("T")
AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]
TRACER_NAME = "newsdesk"


_UNTRACED: contextvars.ContextVar[bool] = contextvars.ContextVar("newsdesk_untraced", default=False)


class _State:
    tracer: Tracer | None = None
    provider: TracerProvider | None = None
    record_questions = False


def configure_tracing(settings: ObservabilitySettings) -> None:
    """Export spans over OTLP/HTTP to ``otel_endpoint`` (nothing when it is empty)."""
    _State.record_questions = settings.otel_record_questions
    if not settings.otel_endpoint:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(
            "otel_endpoint is set but the OTLP exporter is not installed: pip install 'newsdesk[otlp]'"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint)))
    use_tracer_provider(provider, settings.otel_record_questions)


def use_tracer_provider(provider: TracerProvider | None, record_questions: bool = False) -> None:
    """Make spans with ``provider`` from now on (None: make none)."""
    _State.provider = provider
    _State.tracer = provider.get_tracer(TRACER_NAME) if provider is not None else None
    _State.record_questions = record_questions


def shutdown_tracing() -> None:
    """Send the spans not sent yet and stop exporting."""
    provider = _State.provider
    use_tracer_provider(None)
    if provider is not None:
        provider.shutdown()


def tracing_enabled() -> bool:
    return _State.tracer is not None


def records_questions() -> bool:
    """Whether a question's text may be put on its span (``otel_record_questions``)."""
    return _State.record_questions


@contextmanager
def span(name: str, attributes: Attributes | None = None) -> Iterator[Span | None]:
    """A span current for the block, a child of the current one (None when tracing is off); an
    exception leaving the block is recorded on it."""
    tracer = _State.tracer
    if tracer is None or _UNTRACED.get():
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def traced_iter(
    name: str,
    items: Iterator[T],
    attributes: Attributes | None = None,
    note: Callable[[T], Attributes] | None = None,
) -> Iterator[T]:
    """``items`` in a span that is current only while the next item is computed (see the module
    doc); ``note(item)`` gives attributes to add for an item."""
    tracer = _State.tracer
    if tracer is None:
        yield from items
        return
    from opentelemetry import context, trace
    from opentelemetry.trace import Status, StatusCode

    current = tracer.start_span(name, attributes=attributes)
    inside = trace.set_span_in_context(current)
    try:
        while True:
            token = context.attach(inside)
            try:
                item = next(items)
                if note is not None:
                    current.set_attributes(note(item))
            except StopIteration:
                return
            finally:
                context.detach(token)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        current.record_exception(exc)
        current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        current.end()


@contextmanager
def untraced() -> Iterator[None]:
    """No spans in the block (a scrape's reads of the archive size are not worth a trace each)."""
    token = _UNTRACED.set(True)
    try:
        yield
    finally:
        _UNTRACED.reset(token)


def add_attributes(attributes: Attributes) -> None:
    """Add attributes to the current span (nothing when tracing is off)."""
    if _State.tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(attributes)


def current_ids() -> tuple[str, str]:
    """The current span's trace id and span id as hex, or ("", "") outside any span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` to run in another thread with the caller's context (its current span)."""
    copied = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return copied.run(fn, *args, **kwargs)

    return run
