"""One Django ASGI request pair under an APM agent, in a child process (tests/test_apm_agents.py).

Usage: ``python apm_scenario.py MODE AGENT WORKDIR``; prints one line
``RESULT {json}``.

- MODE: ``bridge`` (``asgibridge.install_as_asgiref()``; where it happens
  relative to the agent's set-up is part of AGENT) or ``asgiref`` (the real
  asgiref, untouched).
- AGENT: ``none``, ``newrelic-agent-first``, ``newrelic-install-first``,
  ``sentry``, ``otel`` or ``ddtrace``, each set up offline.

The app has one sync and one async view. Two middlewares run around them:
an async-only one that records the agent's current transaction or span
(async code: always the request's), and an old-style sync ``MiddlewareMixin``
that sets a ContextVar in ``process_request`` and resets it with the token in
``process_response`` (OpenTelemetry's own pattern; asgiref issue #534). Each
view records what the agent sees as current; the parent compares it with
what the async middleware saw for the same request. The ASGI scope is handed
to the application in process; ``receive`` waits on an event that is never
set after the body (no sleeps). Errors logged at ERROR or above by any logger
are collected (OpenTelemetry logs "Failed to detach context" there).
"""

# ruff: noqa: E402 (the agent is set up before Django is imported, as in production)
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import sys
from typing import Any

MODE, AGENT, WORKDIR = sys.argv[1], sys.argv[2], sys.argv[3]

logged: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        logged.append(f"{record.name}: {record.getMessage()}")


logging.getLogger().addHandler(_Collect(level=logging.ERROR))

NR_INI = """\
[newrelic]
license_key = 0000000000000000000000000000000000000000
app_name = asgibridge-test
developer_mode = true
startup_timeout = 10.0
log_file = stderr
log_level = error
"""


def install() -> None:
    if MODE == "bridge":
        import asgibridge

        asgibridge.install_as_asgiref()


late: list[Any] = []

if AGENT != "newrelic-agent-first":
    install()

if AGENT.startswith("newrelic"):
    import newrelic.agent

    ini = os.path.join(WORKDIR, "newrelic.ini")
    with open(ini, "w") as f:
        f.write(NR_INI)
    newrelic.agent.initialize(ini)
    newrelic.agent.register_application(timeout=10.0)
    if AGENT == "newrelic-agent-first":
        install()
    AGENT_VERSION = newrelic.version

    def current() -> Any:
        txn = newrelic.agent.current_transaction()
        return None if txn is None else id(txn)

elif AGENT == "sentry":
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.transport import Transport

    class _Keep(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            pass

    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=_Keep,
        integrations=[DjangoIntegration()],
        traces_sample_rate=1.0,
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    AGENT_VERSION = sentry_sdk.VERSION

    def current() -> Any:
        span = sentry_sdk.get_current_span()
        return None if span is None else span.trace_id

elif AGENT == "otel":
    from importlib.metadata import version

    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # instrument() edits settings.MIDDLEWARE: after settings.configure() below.
    late.append(lambda: DjangoInstrumentor().instrument())
    AGENT_VERSION = version("opentelemetry-instrumentation-django")

    def current() -> Any:
        ctx = trace.get_current_span().get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

elif AGENT == "ddtrace":
    import ddtrace

    ddtrace.patch(django=True)
    try:
        from ddtrace.trace import tracer
    except ImportError:  # older ddtrace
        from ddtrace import tracer  # type: ignore[attr-defined,no-redef]
    AGENT_VERSION = ddtrace.__version__

    def current() -> Any:
        span = tracer.current_span()
        return None if span is None else str(span.trace_id)

else:
    AGENT_VERSION = None

    def current() -> Any:
        return None


import django
from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.utils.deprecation import MiddlewareMixin

seen: dict[str, Any] = {}
token_errors: list[str] = []
tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


def record_middleware(get_response: Any) -> Any:
    async def middleware(request: Any) -> Any:
        seen[f"mw{request.path}"] = current()
        return await get_response(request)

    return middleware


record_middleware.async_capable = True  # type: ignore[attr-defined]
record_middleware.sync_capable = False  # type: ignore[attr-defined]


class TokenMiddleware(MiddlewareMixin):
    def process_request(self, request: Any) -> None:
        request._token = tenant.set("req")

    def process_response(self, request: Any, response: Any) -> Any:
        try:
            tenant.reset(request._token)
        except ValueError as exc:
            token_errors.append(f"{request.path}: {exc}")
        seen[f"after_reset{request.path}"] = tenant.get()
        return response


def sync_view(request: Any) -> HttpResponse:
    seen["view/sync"] = current()
    seen["tenant/sync"] = tenant.get()
    return HttpResponse("ok")


async def async_view(request: Any) -> HttpResponse:
    seen["view/async"] = current()
    seen["tenant/async"] = tenant.get()
    return HttpResponse("ok")


urlpatterns = [path("sync", sync_view), path("async", async_view)]
settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    DEBUG=False,
    SECRET_KEY="x",
    INSTALLED_APPS=[],
    LOGGING_CONFIG=None,
    MIDDLEWARE=[f"{__name__}.record_middleware", f"{__name__}.TokenMiddleware"],
)
for step in late:
    step()
django.setup()

from django.core.asgi import get_asgi_application

app = get_asgi_application()


async def request(url: str) -> Any:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    sent: list[Any] = []
    body = [{"type": "http.request", "body": b"", "more_body": False}]
    never = asyncio.Event()

    async def receive() -> Any:
        if body:
            return body.pop(0)
        await never.wait()  # cancelled by Django once the response is sent
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), 30)
    return sent[0].get("status") if sent else None


errors: list[str] = []
statuses: dict[str, Any] = {}
for url in ("/sync", "/async"):
    try:
        statuses[url] = asyncio.run(request(url))
    except BaseException as exc:
        errors.append(f"{url}: {type(exc).__name__}: {exc}")

import asgiref.sync

result = {
    "module": asgiref.sync.__name__,
    "agent_version": AGENT_VERSION,
    "status/sync": statuses.get("/sync"),
    "status/async": statuses.get("/async"),
    "current/sync": seen.get("view/sync") is not None,
    "current/async": seen.get("view/async") is not None,
    "same/sync": seen.get("view/sync") == seen.get("mw/sync"),
    "same/async": seen.get("view/async") == seen.get("mw/async"),
    "tenant/sync": seen.get("tenant/sync"),
    "after_reset/sync": seen.get("after_reset/sync"),
    "token_errors": token_errors,
    "errors": errors,
    "logged": logged,
}
print("RESULT " + json.dumps(result), flush=True)
