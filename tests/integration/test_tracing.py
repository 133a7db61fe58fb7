"""One trace from an HTTP request through the log and Kafka to another service's consumer:
the request's server span and its append share the caller's trace; the relay's publish and
the consumer's apply link back to it through the traceparent the event carries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from issuance_helpers import product
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from serialtrail.services import SERVICES
from serialtrail_kit.testing.harness import serve
from serialtrail_kit.testing.kafka import fresh_topics, kafka_settings
from serialtrail_kit.testing.waiting import until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's one tracer provider, recording in memory (tests elsewhere export nothing)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()


def in_trace(span: ReadableSpan) -> bool:
    return span.context is not None and f"{span.context.trace_id:032x}" == TRACE_ID


def linked(span: ReadableSpan) -> bool:
    return any(f"{link.context.trace_id:032x}" == TRACE_ID for link in span.links)


def knowledge_consumed(spans: InMemorySpanExporter) -> bool:
    consumed = [s for s in spans.get_finished_spans() if s.name == "consume" and linked(s)]
    return any((s.attributes or {}).get("serialtrail.projection") == "aggregation.knowledge" for s in consumed)


async def test_a_request_is_traced_into_another_services_consumer(
    spans: InMemorySpanExporter, database_dsn: str, kafka_bootstrap: str
) -> None:
    prefix = await fresh_topics(kafka_bootstrap)
    async with serve(database_dsn, SERVICES, kafka_settings(kafka_bootstrap, prefix)) as harness:
        harness.client.headers["traceparent"] = CALLER
        await product(harness.client)
        del harness.client.headers["traceparent"]
        await until(lambda: knowledge_consumed(spans))
        recorded = await harness.client.get("/v1/audit-trail/serial_issuance", params={"limit": 1})
    finished = spans.get_finished_spans()
    server = [s for s in finished if s.name == "POST /v1/products" and in_trace(s)]
    assert len(server) == 1
    assert server[0].parent is not None
    assert f"{server[0].parent.span_id:016x}" == "00f067aa0ba902b7"  # the caller's span
    assert any(s.name == "log.append" and in_trace(s) for s in finished)
    assert any(s.name == "relay.publish" and linked(s) for s in finished)
    consumers = {
        (s.attributes or {}).get("serialtrail.projection") for s in finished if s.name == "consume" and linked(s)
    }
    assert "aggregation.knowledge" in consumers  # over Kafka, in another service
    assert TRACE_ID in recorded.text  # the event's Part 11 metadata names the trace
