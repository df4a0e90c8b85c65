"""guard(app): the three modes, ignore lists, pass-through, ASGI 2 apps, disconnects."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_scopes import http_scope, lifespan_scope, ws_scope
from asgibridge.validation import (
    AppSpecError,
    AsgiSpecWarning,
    Report,
    ServerSpecError,
    guard,
)

START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"ok"}


class FakeServer:
    """Feeds receive() from a list and records what reaches send()."""

    def __init__(self, *incoming: dict[str, Any], fail_send: bool = False) -> None:
        self.incoming = list(incoming)
        self.sent: list[Any] = []
        self.fail_send = fail_send

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0) if self.incoming else {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        if self.fail_send:
            raise ConnectionResetError("client went away")
        self.sent.append(message)


async def good_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(START)
    await send(BODY)


async def body_first_app(scope: Any, receive: Any, send: Any) -> None:
    await send(BODY)  # too early
    await send(START)
    await send(BODY)


@pytest.mark.asyncio
async def test_raise_mode_lets_a_good_app_through_untouched() -> None:
    server = FakeServer({"type": "http.request"})
    await guard(good_app)(http_scope(), server.receive, server.send)
    assert server.sent == [START, BODY]


@pytest.mark.asyncio
async def test_raise_mode_raises_out_of_send_and_keeps_the_bad_message_back() -> None:
    server = FakeServer()
    seen_inside: list[BaseException] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await body_first_app(scope, receive, send)
        except AppSpecError as exc:
            seen_inside.append(exc)
            raise

    with pytest.raises(AppSpecError, match=r"http\.order\.body-before-start"):
        await guard(app)(http_scope(), server.receive, server.send)
    assert len(seen_inside) == 1  # the app saw it at its own send() call
    assert server.sent == []


@pytest.mark.asyncio
async def test_raise_mode_reports_a_bad_scope_before_calling_the_app() -> None:
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope)

    server = FakeServer()
    with pytest.raises(ServerSpecError, match=r"http\.scope\.method\.uppercase"):
        await guard(app)(http_scope(method="get"), server.receive, server.send)
    assert called == []


@pytest.mark.asyncio
async def test_raise_mode_raises_a_bad_receive_event_into_the_app() -> None:
    server = FakeServer({"type": "http.request", "body": "not bytes"})
    with pytest.raises(ServerSpecError, match=r"http\.request\.body\.type"):
        await guard(good_app)(http_scope(), server.receive, server.send)


@pytest.mark.asyncio
async def test_raise_mode_checks_how_the_app_returned() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    server = FakeServer({"type": "http.request"})
    with pytest.raises(AppSpecError, match=r"http\.return\.no-response"):
        await guard(silent)(http_scope(), server.receive, server.send)


@pytest.mark.asyncio
async def test_warn_mode_warns_and_passes_messages_on() -> None:
    server = FakeServer()
    guarded = guard(body_first_app, mode="warn")
    with pytest.warns(AsgiSpecWarning, match=r"http\.order\.body-before-start") as record:
        await guarded(http_scope(), server.receive, server.send)
    assert server.sent == [BODY, START, BODY]
    assert guarded.report.rule_ids() == ["http.order.body-before-start"]
    # The warning points at the app's own send() call, not into the validator.
    (warning,) = record
    assert warning.filename == __file__
    assert warning.lineno == body_first_app.__code__.co_firstlineno + 1


@pytest.mark.asyncio
async def test_warn_mode_points_every_kind_of_violation_at_the_app() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": "200"})  # a key check
        await send(BODY)
        await send(BODY)  # an order check

    guarded = guard(app, mode="warn")
    server = FakeServer()
    with pytest.warns(AsgiSpecWarning) as record:
        await guarded(http_scope(), server.receive, server.send)
    first = app.__code__.co_firstlineno
    assert [(w.filename, w.lineno) for w in record] == [
        (__file__, first + 1),
        (__file__, first + 3),
    ]
    assert guarded.report.rule_ids() == [
        "http.response.start.status.type",
        "http.order.after-response-complete",
    ]


@pytest.mark.asyncio
async def test_collect_mode_fills_a_shared_report() -> None:
    report = Report()
    guarded = guard(body_first_app, mode="collect", report=report)
    for _ in range(2):
        server = FakeServer()
        await guarded(http_scope(), server.receive, server.send)
    assert guarded.report is report
    assert not report.ok
    assert report.rule_ids() == ["http.order.body-before-start"] * 2
    assert "expected: response body events" in report.format()
    assert report.as_dicts()[0]["rule"] == "http.order.body-before-start"
    report.clear()
    assert report.ok
    assert len(report) == 0
    assert report.format() == "no ASGI spec violations"


@pytest.mark.asyncio
async def test_ignore_skips_named_rules_in_every_mode() -> None:
    async def shouty(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"X-A", b"1")]})
        await send(BODY)

    for mode in ("raise", "collect", "warn"):
        server = FakeServer()
        guarded = guard(shouty, mode=mode, ignore=["http.response.start.headers.lowercase-*"])
        await guarded(http_scope(), server.receive, server.send)
        assert guarded.report.ok
        assert len(server.sent) == 2


def test_guard_refuses_unknown_modes_and_ignore_patterns() -> None:
    with pytest.raises(ValueError, match="mode"):
        guard(good_app, mode="loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no ASGI rule matches"):
        guard(good_app, ignore=["http.response.start.headers.lowercase"])


@pytest.mark.asyncio
async def test_unknown_protocols_pass_through_unchecked() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        await send({"type": "mqtt.publish"})

    server = FakeServer()
    await guard(app)({"type": "mqtt"}, server.receive, server.send)
    assert calls == ["mqtt"]
    assert server.sent == [{"type": "mqtt.publish"}]


@pytest.mark.asyncio
async def test_asgi2_apps_are_wrapped() -> None:
    class Legacy:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await good_app(self.scope, receive, send)

    server = FakeServer({"type": "http.request"})
    await guard(Legacy)(http_scope(), server.receive, server.send)
    assert server.sent == [START, BODY]


@pytest.mark.asyncio
async def test_a_send_that_fails_with_oserror_lets_the_app_stop_half_way() -> None:
    async def stubborn(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send(START)
        except OSError:
            return  # spec 2.4: the client is gone; cleaning up and returning is fine

    server = FakeServer(fail_send=True)
    guarded = guard(stubborn)
    await guarded(http_scope(), server.receive, server.send)
    assert guarded.report.ok


@pytest.mark.asyncio
async def test_an_app_exception_propagates_without_return_rules() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        raise KeyError("bug")

    server = FakeServer()
    with pytest.raises(KeyError):
        await guard(broken)(http_scope(), server.receive, server.send)


@pytest.mark.asyncio
async def test_websocket_and_lifespan_connections_are_guarded_too() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        if scope["type"] == "lifespan":
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        else:
            await send({"type": "websocket.accept", "subprotocol": "mqtt"})

    guarded = guard(app, mode="collect")
    ws = FakeServer({"type": "websocket.connect"})
    await guarded(ws_scope(), ws.receive, ws.send)
    life = FakeServer({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await guarded(lifespan_scope(), life.receive, life.send)
    assert guarded.report.rule_ids() == ["websocket.accept.subprotocol.not-offered"]
