"""The test client against a real framework: a Starlette app (a test dependency).

Streaming responses are read while they stream, request bodies stream into
``request.stream()``, disconnects reach Starlette the ASGI 2.4 way, WebSockets
(including denial responses) and lifespan state work as with a real server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from asgibridge.testclient import (
    AsyncTestClient,
    ClientDisconnected,
    TestClient,
    WebSocketClosed,
    WebSocketDenied,
)

EVENTS: dict[str, Any] = {}


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    EVENTS["lifespan"] = "started"
    yield {"greeting": "hello from lifespan"}
    EVENTS["lifespan"] = "stopped"


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"greeting": request.state.greeting})


async def events(request: Request) -> StreamingResponse:
    async def generate() -> AsyncIterator[str]:
        n = 0
        while True:  # endless: only a streaming client can read it
            EVENTS["produced"] = n
            yield f"data: {n}\n\n"
            n += 1

    return StreamingResponse(generate(), media_type="text/event-stream")


async def upload(request: Request) -> JSONResponse:
    sizes = []
    try:
        async for chunk in request.stream():
            sizes.append(len(chunk))
    except Exception as exc:  # starlette.requests.ClientDisconnect
        EVENTS["upload_error"] = type(exc).__name__
        raise
    return JSONResponse(sizes)


async def with_background(request: Request) -> PlainTextResponse:
    def after() -> None:
        EVENTS["background"] = "ran"

    return PlainTextResponse("sent", background=BackgroundTask(after))


async def broken(request: Request) -> PlainTextResponse:
    raise LookupError("route failed")


async def ws_echo(websocket: WebSocket) -> None:
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol="chat.v1" if "chat.v1" in offered else None)
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(code=4000, reason="bye")
                return
            await websocket.send_json({"echo": text})
    except WebSocketDisconnect as exc:
        EVENTS["ws_disconnect"] = exc.code


async def ws_deny(websocket: WebSocket) -> None:
    await websocket.send_denial_response(PlainTextResponse("members only", status_code=403))


async def ws_close_early(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


app = Starlette(
    routes=[
        Route("/", home),
        Route("/events", events),
        Route("/upload", upload, methods=["POST"]),
        Route("/background", with_background),
        Route("/broken", broken),
        WebSocketRoute("/ws", ws_echo),
        WebSocketRoute("/deny", ws_deny),
        WebSocketRoute("/refuse", ws_close_early),
    ],
    lifespan=lifespan,
)


async def recorded(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app, recording how each http call of it ended (cancelled, raised, returned)."""
    try:
        await app(scope, receive, send)
    except BaseException as exc:
        if scope["type"] == "http":
            EVENTS.setdefault("exits", []).append(type(exc).__name__)
        raise
    if scope["type"] == "http":
        EVENTS.setdefault("exits", []).append("returned")


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


def test_lifespan_state_reaches_requests() -> None:
    with TestClient(app) as client:
        assert EVENTS["lifespan"] == "started"
        assert client.get("/").json() == {"greeting": "hello from lifespan"}
    assert EVENTS["lifespan"] == "stopped"


def test_endless_event_stream_is_read_while_it_streams() -> None:
    with TestClient(recorded) as client, client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            if line:
                lines.append(line)
            if len(lines) == 3:
                break
    assert lines == ["data: 0", "data: 1", "data: 2"]
    # Closing mid-stream disconnected Starlette (its send raised), it was not cancelled.
    assert EVENTS["exits"] == ["ClientDisconnect"]


@pytest.mark.asyncio
async def test_endless_event_stream_async() -> None:
    async with AsyncTestClient(recorded) as client, client.stream("GET", "/events") as response:
        seen = []
        async for line in response.aiter_lines():
            if line:
                seen.append(line)
            if len(seen) == 2:
                break
    assert seen == ["data: 0", "data: 1"]
    assert EVENTS["exits"] == ["ClientDisconnect"]


def test_streamed_upload_arrives_in_chunks() -> None:
    def body() -> Iterator[bytes]:
        yield b"a" * 10
        yield b"b" * 20

    with TestClient(app) as client:
        sizes = client.post("/upload", content=body()).json()
    assert [n for n in sizes if n] == [10, 20]  # Starlette adds an empty end-of-body chunk


def test_disconnect_mid_upload_reaches_starlette() -> None:
    def body() -> Iterator[bytes]:
        yield b"first"
        raise ClientDisconnected()

    with TestClient(app) as client:
        with pytest.raises(ClientDisconnected):
            client.post("/upload", content=body())
    assert EVENTS["upload_error"] == "ClientDisconnect"


def test_background_task_runs_before_the_call_returns() -> None:
    with TestClient(app) as client:
        assert client.get("/background").text == "sent"
        assert EVENTS["background"] == "ran"


def test_route_exception_raised_or_500() -> None:
    with TestClient(app) as client:
        with pytest.raises(LookupError):
            client.get("/broken")
    with TestClient(app, raise_app_exceptions=False) as client:
        assert client.get("/broken").status_code == 500


def test_websocket_echo_and_app_close() -> None:
    with TestClient(app) as client:
        with client.websocket_connect("/ws", subprotocols=["chat.v1"]) as ws:
            assert ws.subprotocol == "chat.v1"
            ws.send_text("hi")
            assert ws.receive_json() == {"echo": "hi"}
            ws.send_text("bye")
            with pytest.raises(WebSocketClosed) as info:
                ws.receive_text()
            assert (info.value.code, info.value.reason) == (4000, "bye")


@pytest.mark.asyncio
async def test_websocket_client_close_reaches_starlette() -> None:
    async with AsyncTestClient(app) as client:
        async with client.websocket_connect("/ws") as ws:
            await ws.send_text("x")
            assert await ws.receive_json() == {"echo": "x"}
            await ws.close(code=4321)
    assert EVENTS["ws_disconnect"] == 4321


def test_websocket_denials() -> None:
    with TestClient(app) as client:
        with pytest.raises(WebSocketDenied) as info, client.websocket_connect("/deny"):
            pass
        assert (info.value.status_code, info.value.body) == (403, b"members only")
        with pytest.raises(WebSocketDenied) as info, client.websocket_connect("/refuse"):
            pass
        assert info.value.status_code == 403
