"""Traces across HTTP → log → Kafka → consumer. FastAPI makes the HTTP server spans itself
(children of the caller's traceparent); appends, relay publishes and consumer applies add
theirs. Every event carries the W3C traceparent of the request that recorded it (in its
metadata and its message headers), so the consumer's span links back to the request that
caused it, across processes.

Off unless configured (`SERIALTRAIL_OTEL_EXPORTER=console|otlp`): the API's no-op tracer then
costs next to nothing, and tests export nothing."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from serialtrail_kit.settings import Settings, TraceExporter

TRACER = trace.get_tracer("serialtrail")
PROPAGATOR = TraceContextTextMapPropagator()
MAX_LINKS = 128  # a batch of thousands of events links to the first ones; the rest share traces
_configured = False


def configure(settings: Settings, service_name: str) -> None:
    """Install the exporter once per process (OpenTelemetry allows one global provider)."""
    global _configured
    if _configured or settings.otel_exporter is TraceExporter.none:
        return
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if settings.otel_exporter is TraceExporter.otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint)
    else:
        exporter = ConsoleSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def links(traceparents: Iterable[str | None]) -> list[Link]:
    """Span links to the requests that recorded these events (deduplicated, capped)."""
    found: list[Link] = []
    seen: set[str] = set()
    for traceparent in traceparents:
        if not traceparent or traceparent in seen:
            continue
        seen.add(traceparent)
        context = trace.get_current_span(PROPAGATOR.extract({"traceparent": traceparent})).get_span_context()
        if context.is_valid:
            found.append(Link(context))
        if len(found) >= MAX_LINKS:
            break
    return found
