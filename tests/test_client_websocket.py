"""WebSocket sessions of the test client: frames, subprotocols, closes, denials, errors.

Sync sessions (`TestClient.websocket_connect`) and async ones
(`AsyncTestClient.websocket_connect`) share their rules; both are exercised.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from asgibridge._asgi.testing import websocket as client_websocket
from asgibridge.exceptions import (
    ApplicationTimeoutError,
    ClientDisconnected,
    WebSocketClosed,
    WebSocketDenied,
)
from asgibridge.testclient import AsyncTestClient, TestClient

Scope = dict[str, Any]


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    """Accept (with the first offered subprotocol), echo frames until the client leaves."""
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    offered = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": offered[0] if offered else None,
            "headers": [(b"x-session", b"1")],
        }
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close me":
            await send({"type": "websocket.close", "code": 4001, "reason": "asked to"})
            return
        reply = {"type": "websocket.send"}
        if message.get("text") is not None:
            reply["text"] = message["text"]
        else:
            reply["bytes"] = message["bytes"]
        await send(reply)


def test_echo_text_bytes_json_sync() -> None:
    with TestClient(echo) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"a": [1, 2]}
        ws.send_json({"b": None}, mode="binary")
        assert ws.receive_json(mode="binary") == {"b": None}
        assert ws.accept_headers == [(b"x-session", b"1")]


@pytest.mark.asyncio
async def test_echo_text_bytes_json_async() -> None:
    async with AsyncTestClient(echo) as client, client.websocket_connect("/ws") as ws:
        await ws.send_text("hello")
        assert await ws.receive_text() == "hello"
        await ws.send_bytes(b"raw")
        assert await ws.receive_bytes() == b"raw"
        await ws.send_json([1, "two"])
        assert await ws.receive_json() == [1, "two"]


def test_subprotocol_and_scope() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            seen.append(scope)
        await echo(scope, receive, send)

    with TestClient(app) as client:
        with client.websocket_connect("/chat?room=1", subprotocols=["v2", "v1"]) as ws:
            assert ws.subprotocol == "v2"
    scope = seen[0]
    assert scope["scheme"] == "ws"
    assert (scope["path"], scope["query_string"]) == ("/chat", b"room=1")
    assert scope["subprotocols"] == ["v2", "v1"]
    assert dict(scope["headers"])[b"sec-websocket-protocol"] == b"v2, v1"
    assert "websocket.http.response" in scope["extensions"]


def test_app_close_raises_with_code_and_reason() -> None:
    with TestClient(echo) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("close me")
        with pytest.raises(WebSocketClosed) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "asked to")
        with pytest.raises(WebSocketClosed):
            ws.send_text("too late")


@pytest.mark.asyncio
async def test_client_close_code_reaches_the_app() -> None:
    got: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        got.append(await receive())
        try:
            await send({"type": "websocket.send", "text": "after close"})
        except OSError as exc:  # ASGI 2.4: the client is gone
            errors.append(exc)

    async with AsyncTestClient(app) as client:
        async with client.websocket_connect("/ws") as ws:
            await ws.close(code=4100, reason="bye")
    assert got == [{"type": "websocket.disconnect", "code": 4100, "reason": "bye"}]
    assert isinstance(errors[0], ClientDisconnected)


def test_close_before_accept_is_a_403_denial() -> None:
    async def refuse(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    with TestClient(refuse) as client:
        with pytest.raises(WebSocketDenied) as info:
            with client.websocket_connect("/ws"):
                pass
    assert info.value.status_code == 403


@pytest.mark.asyncio
async def test_denial_response_extension() -> None:
    async def deny(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b"Bearer")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"token"})

    async with AsyncTestClient(deny) as client:
        with pytest.raises(WebSocketDenied) as info:
            async with client.websocket_connect("/ws"):
                pass
    denied = info.value
    assert (denied.status_code, denied.body) == (401, b"no token")
    assert denied.headers == [(b"www-authenticate", b"Bearer")]


class Boom(Exception):
    pass


def test_app_exception_is_raised_from_receive_and_exit() -> None:
    async def crash_after_accept(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise Boom("handler failed")

    with TestClient(crash_after_accept) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text("trigger")
            with pytest.raises(Boom):
                ws.receive_text()
        session = client.websocket_connect("/ws")
        with pytest.raises(Boom):  # raised at exit, when the session ends
            with session as ws:
                ws.send_text("trigger")


def test_app_returning_without_close_is_abnormal_closure() -> None:
    async def quitter(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})

    with TestClient(quitter, validate=False) as client, client.websocket_connect("/") as ws:
        with pytest.raises(WebSocketClosed) as info:
            ws.receive()
        assert info.value.code == 1006


def test_receive_text_on_binary_frame_is_a_type_error() -> None:
    with TestClient(echo) as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"binary")
        with pytest.raises(TypeError, match="text frame"):
            ws.receive_text()


@pytest.mark.asyncio
async def test_close_before_accept_is_a_403_denial_async() -> None:
    async def refuse(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1008})

    async with AsyncTestClient(refuse) as client:
        with pytest.raises(WebSocketDenied) as info:
            async with client.websocket_connect("/ws"):
                pass
    assert info.value.status_code == 403


def stubborn_app(release: list[asyncio.Event]) -> Any:
    """Ignores the client's close and swallows one cancellation; returns once released."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        event = asyncio.Event()
        release.append(event)
        await receive()
        await send({"type": "websocket.accept"})
        try:
            await event.wait()
        except asyncio.CancelledError:
            await event.wait()  # the bug under test: it goes on after cancellation

    return app


@pytest.mark.asyncio
async def test_app_ignoring_close_and_cancellation_is_reported_async(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_websocket, "_CANCEL_GRACE", 0.05)
    release: list[asyncio.Event] = []
    async with AsyncTestClient(stubborn_app(release), timeout=0.05) as client:
        session = client.websocket_connect("/ws")
        with pytest.raises(ApplicationTimeoutError, match="must not swallow CancelledError"):
            async with session:
                pass
        await session.close()  # reported once; closing again does not wait again
        release[0].set()
        task = session.exchange.task
        assert task is not None
        await asyncio.wait({task}, timeout=5)
        assert task.done()


def test_app_ignoring_close_and_cancellation_is_reported_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_websocket, "_CANCEL_GRACE", 0.05)
    release: list[asyncio.Event] = []
    with TestClient(stubborn_app(release), timeout=0.05) as client:
        session = client.websocket_connect("/ws")
        with pytest.raises(ApplicationTimeoutError, match="must not swallow CancelledError"):
            with session:
                pass
        session.close()
        client.portal().loop.call_soon_threadsafe(release[0].set)
