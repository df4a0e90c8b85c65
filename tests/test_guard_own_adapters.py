"""asgibridge's own adapters checked by the spec validator (issue 6, "checked against real apps").

`WsgiToAsgi` and `LifespanMiddleware` are ASGI *apps*: the check command drives
them through its HTTP, lifespan and websocket scenarios and every app rule
applies. `AsgiToWsgi` and `LifespanManager` are ASGI *servers* for the app they
wrap: guarding that inner app checks every server rule against what the
adapter delivers (scopes, ``receive`` events).
"""

from __future__ import annotations

import io
import wsgiref.util
from collections.abc import Iterable
from typing import Any

import pytest

from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.lifespan import LifespanManager, LifespanMiddleware
from asgibridge.validation import Report, guard, run_check
from asgibridge.wsgi import WsgiToAsgi


def _wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"method=", environ["REQUEST_METHOD"].encode(), b" got ", str(len(body)).encode()]


def test_wsgi_to_asgi_breaks_no_app_rule() -> None:
    result = run_check(WsgiToAsgi(_wsgi_app))
    assert result.ok, result
    assert result.scenarios, "the check ran no scenario"


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"got %d" % len(body)})


def _environ(method: str, body: bytes) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/echo",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    wsgiref.util.setup_testing_defaults(environ)
    return environ


def test_asgi_to_wsgi_breaks_no_server_rule() -> None:
    report = Report()
    adapter = AsgiToWsgi(guard(_asgi_app, mode="collect", report=report))
    statuses: list[str] = []
    try:
        for method, body in (("GET", b""), ("POST", b"x" * 100_000), ("HEAD", b"")):
            chunks = adapter(_environ(method, body), lambda s, h, e=None: statuses.append(s))
            try:
                payload = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            if method == "POST":
                assert payload == b"got 100000"
    finally:
        adapter.close()
    assert statuses == ["200 OK"] * 3
    assert report.ok, [str(v) for v in report.violations]


def test_lifespan_middleware_breaks_no_app_rule() -> None:
    calls: list[str] = []

    async def start(state: dict[str, Any]) -> None:
        calls.append("startup")
        state["pool"] = "ready"

    def stop(state: dict[str, Any]) -> None:  # a sync hook: run through sync_to_async
        calls.append(f"shutdown {state['pool']}")

    app = LifespanMiddleware(WsgiToAsgi(_wsgi_app), on_startup=start, on_shutdown=stop)
    result = run_check(app)
    assert result.ok, result.format()
    statuses = {s.name: s.status for s in result.scenarios}
    assert statuses["lifespan startup"] == statuses["lifespan shutdown"] == "ok"
    assert calls == ["startup", "shutdown ready"]


def test_lifespan_middleware_reports_a_failing_hook_by_the_spec() -> None:
    def broken(state: dict[str, Any]) -> None:
        raise RuntimeError("no database")

    result = run_check(LifespanMiddleware(WsgiToAsgi(_wsgi_app), on_startup=broken))
    startup = result.scenarios[0]
    # lifespan.startup.failed is a spec-following answer: an error, not a violation.
    assert (startup.status, startup.violations) == ("error", [])
    assert startup.notes == ["answered lifespan.startup.failed"]


@pytest.mark.asyncio
async def test_lifespan_manager_breaks_no_server_rule() -> None:
    report = Report()
    async with LifespanManager(guard(_asgi_app, mode="collect", report=report)) as manager:
        assert manager.supported
    assert report.ok, [str(v) for v in report.violations]
