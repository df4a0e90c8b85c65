"""One OpenTelemetry span per bridge hop, through asgibridge.instrumentation.

Every ``sync_to_async`` / ``async_to_sync`` call becomes a span named after
the direction and the function, child of whatever span is current where the
call was made, with the thread, the queue wait and the run time as
attributes, and the exception recorded when the call fails. No monkeypatching.
(A listener does not change the current span: both hop spans of a request
are children of the span current where the outermost call was made.)

Run it: ``python examples/opentelemetry_spans.py`` (needs ``opentelemetry-sdk``);
it prints the finished spans.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from asgibridge.instrumentation import HopInfo, Registration, add_hop_listener
from asgibridge.sync import async_to_sync, sync_to_async


def instrument(tracer: trace.Tracer) -> Registration:
    """Start a span when a hop is submitted and end it when the hop ends."""

    def on_start(info: HopInfo) -> Span:
        # Called where the call is made: the current span there is the parent.
        return tracer.start_span(
            f"{info.direction} {info.name}",
            attributes={"asgibridge.direction": info.direction, "code.function": info.name},
        )

    def on_end(info: HopInfo, span: Span) -> None:
        if info.thread_name is not None:
            span.set_attribute("thread.name", info.thread_name)
        if info.queue_wait is not None:
            span.set_attribute("asgibridge.queue_wait_s", info.queue_wait)
        if info.run_time is not None:
            span.set_attribute("asgibridge.run_time_s", info.run_time)
        if info.cancelled:
            span.set_attribute("asgibridge.cancelled", True)
        if info.exception is not None:
            span.record_exception(info.exception)
            span.set_status(Status(StatusCode.ERROR, repr(info.exception)))
        span.end()

    return add_hop_listener(on_start, on_end)


def load_user(user_id: int) -> dict[str, Any]:
    """A blocking call (a database query, say)."""
    return {"id": user_id, "name": f"user-{user_id}"}


async def render(user_id: int) -> str:
    user = await sync_to_async(load_user)(user_id)
    return f"<h1>{user['name']}</h1>"


def view(user_id: int) -> str:
    """Sync code calling async code calling sync code: two hops, two spans."""
    return async_to_sync(render)(user_id)


def run_demo(exporter: SpanExporter) -> str:
    """Trace one request through the bridge; spans go to ``exporter``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("asgibridge.example")
    with instrument(tracer), tracer.start_as_current_span("request"):
        page = view(7)
    provider.shutdown()
    return page


def main() -> None:
    exporter = InMemorySpanExporter()
    print(run_demo(exporter))
    for span in exporter.get_finished_spans():
        parent = span.parent.span_id if span.parent is not None else None
        print(f"{span.name:<40} parent={parent} attributes={dict(span.attributes or {})}")


if __name__ == "__main__":
    main()
