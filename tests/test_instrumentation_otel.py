"""examples/opentelemetry_spans.py: one span per hop, with an in-memory exporter."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from asgibridge._runtime import _state

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "opentelemetry_spans.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("opentelemetry_spans_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_example_creates_one_span_per_hop() -> None:
    example = _load()
    exporter = InMemorySpanExporter()
    assert example.run_demo(exporter) == "<h1>user-7</h1>"
    spans = {span.name.split(" ")[0]: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"request", "async_to_sync", "sync_to_async"}
    request = spans["request"]
    for direction in ("async_to_sync", "sync_to_async"):
        span = spans[direction]
        assert span.parent is not None
        assert span.parent.span_id == request.context.span_id
        assert span.attributes is not None
        assert span.attributes["asgibridge.direction"] == direction
        assert span.attributes["asgibridge.run_time_s"] >= 0
    assert spans["sync_to_async"].name.endswith("load_user")
    assert not _state.hop_listeners  # the example unregistered its listener


def test_failing_hop_is_recorded_on_its_span() -> None:
    example = _load()
    exporter = InMemorySpanExporter()
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from asgibridge.sync import async_to_sync

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def broken() -> None:
        raise KeyError("missing")

    with example.instrument(provider.get_tracer("test")), pytest.raises(KeyError):
        async_to_sync(broken)()
    (span,) = exporter.get_finished_spans()
    assert not span.status.is_ok
    assert [event.name for event in span.events] == ["exception"]
