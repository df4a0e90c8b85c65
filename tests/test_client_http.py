"""The test client over HTTP: scopes, streaming both ways, disconnects, errors, timeouts.

Each behaviour is checked on the sync face (`TestClient`, from a plain sync
test) and, where the mechanics differ, on the async face (`AsyncTestClient`).
Apps are raw ASGI callables so every message is visible; real frameworks
have their own test files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from asgibridge.exceptions import ApplicationTimeoutError, AppSpecError
from asgibridge.testclient import AsyncTestClient, ClientDisconnected, TestClient

Scope = dict[str, Any]


def http_only(app: Any) -> Any:
    """Return at once on non-http scopes (lifespan): "auto" then skips lifespan."""

    async def wrapper(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await app(scope, receive, send)

    return wrapper


async def start(send: Any, status: int = 200, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})


async def read_body(receive: Any) -> tuple[bytes, list[dict[str, Any]]]:
    messages = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return body, messages


@http_only
async def scope_app(scope: Scope, receive: Any, send: Any) -> None:
    body, _ = await read_body(receive)
    await start(send, headers=[(b"content-type", b"text/plain")])
    shown = {
        key: scope[key]
        for key in ("method", "path", "raw_path", "query_string", "root_path", "scheme")
    }
    shown["body"] = body
    shown["headers"] = dict(scope["headers"])
    await send({"type": "http.response.body", "body": repr(shown).encode()})


def test_scope_and_body_sync() -> None:
    with TestClient(scope_app, root_path="/api") as client:
        response = client.post("/api/a%20b?x=1", content=b"payload", headers={"X-Test": "1"})
    shown = eval(response.text)  # the app's repr of plain values
    assert response.status_code == 200
    assert shown["method"] == "POST"
    assert shown["path"] == "/api/a b"
    assert shown["raw_path"] == b"/api/a%20b"
    assert shown["query_string"] == b"x=1"
    assert shown["root_path"] == "/api"
    assert shown["scheme"] == "http"
    assert shown["body"] == b"payload"
    assert shown["headers"][b"x-test"] == b"1"
    assert shown["headers"][b"host"] == b"testserver"


@pytest.mark.asyncio
async def test_scope_and_body_async() -> None:
    async with AsyncTestClient(scope_app) as client:
        response = await client.put("/p", json={"k": 1})
    shown = eval(response.text)
    assert (shown["method"], shown["path"], shown["body"]) == ("PUT", "/p", b'{"k":1}')


def test_request_body_is_pulled_chunk_by_chunk() -> None:
    log: list[str] = []

    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            log.append(f"app got {message['body']!r} more={message['more_body']}")
            if not message["more_body"]:
                break
        await start(send)
        await send({"type": "http.response.body", "body": b"done"})

    def body() -> Iterator[bytes]:
        for chunk in (b"one", b"two"):
            log.append(f"client made {chunk!r}")
            yield chunk

    with TestClient(app) as client:
        assert client.post("/", content=body()).text == "done"
    assert log == [
        "client made b'one'",
        "app got b'one' more=True",
        "client made b'two'",
        "app got b'two' more=True",
        "app got b'' more=False",
    ]


@pytest.mark.asyncio
async def test_request_body_is_pulled_chunk_by_chunk_async() -> None:
    log: list[str] = []

    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            log.append(f"app got {message['body']!r} more={message['more_body']}")
            if not message["more_body"]:
                break
        await start(send)
        await send({"type": "http.response.body", "body": b"done"})

    async def body() -> AsyncIterator[bytes]:
        for chunk in (b"one", b"two"):
            log.append(f"client made {chunk!r}")
            yield chunk

    async with AsyncTestClient(app) as client:
        assert (await client.post("/", content=body())).text == "done"
    assert log == [
        "client made b'one'",
        "app got b'one' more=True",
        "client made b'two'",
        "app got b'two' more=True",
        "app got b'' more=False",
    ]


def infinite_stream_app(record: dict[str, Any]) -> Any:
    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        n = 0
        try:
            while True:
                await send({"type": "http.response.body", "body": b"%d\n" % n, "more_body": True})
                n += 1
        except OSError as exc:  # ASGI 2.4: send() after disconnect raises
            record["send_error"] = exc
        record["after_disconnect"] = await receive()

    return app


def test_stream_is_seen_as_it_streams_and_early_close_disconnects_sync() -> None:
    record: dict[str, Any] = {}
    with TestClient(infinite_stream_app(record)) as client:
        with client.stream("GET", "/") as response:
            lines = response.iter_lines()
            assert [next(lines) for _ in range(3)] == ["0", "1", "2"]
    assert isinstance(record["send_error"], ClientDisconnected)
    assert record["after_disconnect"] == {"type": "http.disconnect"}


@pytest.mark.asyncio
async def test_stream_chunks_arrive_before_the_app_finishes_async() -> None:
    gate = asyncio.Event()

    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await gate.wait()  # only the client can open this, after it saw "first"
        await send({"type": "http.response.body", "body": b"second"})

    async with AsyncTestClient(app) as client, client.stream("GET", "/") as response:
        chunks = response.aiter_bytes()
        assert await anext(chunks) == b"first"
        gate.set()
        assert await anext(chunks) == b"second"


def test_stream_chunks_arrive_before_the_app_finishes_sync() -> None:
    gates: list[asyncio.Event] = []  # made on the client's loop thread, by the app

    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        gate = asyncio.Event()
        gates.append(gate)
        await start(send)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await gate.wait()  # only the test can open this, after it saw "first"
        await send({"type": "http.response.body", "body": b"second"})

    with TestClient(app) as client, client.stream("GET", "/") as response:
        chunks = response.iter_bytes()
        assert next(chunks) == b"first"
        client.portal().loop.call_soon_threadsafe(gates[0].set)
        assert next(chunks) == b"second"


@pytest.mark.asyncio
async def test_early_close_disconnects_async() -> None:
    record: dict[str, Any] = {}
    async with AsyncTestClient(infinite_stream_app(record)) as client:
        async with client.stream("GET", "/") as response:
            async for line in response.aiter_lines():
                if line == "4":
                    break
    assert isinstance(record["send_error"], OSError)
    assert record["after_disconnect"] == {"type": "http.disconnect"}


def disconnect_recorder(record: list[dict[str, Any]]) -> Any:
    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            record.append(message)
            if message["type"] == "http.disconnect":
                return

    return app


def test_disconnect_mid_body_sync() -> None:
    record: list[dict[str, Any]] = []

    def body() -> Iterator[bytes]:
        yield b"half"
        raise ClientDisconnected()

    with TestClient(disconnect_recorder(record)) as client:
        with pytest.raises(ClientDisconnected):
            client.post("/", content=body())
    assert record == [
        {"type": "http.request", "body": b"half", "more_body": True},
        {"type": "http.disconnect"},
    ]


@pytest.mark.asyncio
async def test_disconnect_mid_body_async() -> None:
    record: list[dict[str, Any]] = []

    async def body() -> AsyncIterator[bytes]:
        yield b"half"
        raise ClientDisconnected()

    async with AsyncTestClient(disconnect_recorder(record)) as client:
        with pytest.raises(ClientDisconnected):
            await client.post("/", content=body())
    assert [m["type"] for m in record] == ["http.request", "http.disconnect"]


@pytest.mark.asyncio
async def test_cancelled_request_disconnects_the_app_async() -> None:
    waiting = asyncio.Event()
    record: list[dict[str, Any]] = []

    @http_only
    async def long_poll(scope: Scope, receive: Any, send: Any) -> None:
        await read_body(receive)
        waiting.set()
        record.append(await receive())

    async with AsyncTestClient(long_poll) as client:
        request = asyncio.ensure_future(client.get("/"))
        await waiting.wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    assert record == [{"type": "http.disconnect"}]


def test_read_timeout_names_what_was_awaited_and_disconnects() -> None:
    record: list[dict[str, Any]] = []

    @http_only
    async def silent(scope: Scope, receive: Any, send: Any) -> None:
        await read_body(receive)
        record.append(await receive())

    with TestClient(silent, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout, match=r"http\.response\.start"):
            client.get("/")
    assert record == [{"type": "http.disconnect"}]


class Boom(Exception):
    pass


@http_only
async def crashing(scope: Scope, receive: Any, send: Any) -> None:
    raise Boom("view failed")


def test_app_exception_is_raised_or_500() -> None:
    with TestClient(crashing) as client:
        with pytest.raises(Boom):
            client.get("/")
    with TestClient(crashing, raise_app_exceptions=False) as client:
        assert client.get("/").status_code == 500


@pytest.mark.asyncio
async def test_app_exception_mid_stream_async() -> None:
    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise Boom("mid-stream")

    async with AsyncTestClient(app) as client:
        with pytest.raises(Boom):
            await client.get("/")
    async with AsyncTestClient(app, raise_app_exceptions=False) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/")


def test_no_response_is_a_spec_error_or_500() -> None:
    @http_only
    async def forgetful(scope: Scope, receive: Any, send: Any) -> None:
        await receive()

    with TestClient(forgetful, validate=False) as client:
        with pytest.raises(AppSpecError, match=r"without sending http\.response\.start"):
            client.get("/")
    with TestClient(forgetful, raise_app_exceptions=False, validate=False) as client:
        assert client.get("/").status_code == 500


def test_validation_is_on_by_default_and_switchable() -> None:
    @http_only
    async def sloppy(scope: Scope, receive: Any, send: Any) -> None:
        await start(send, headers=[(b"Content-Type", b"text/plain")])  # uppercase: invalid
        await send({"type": "http.response.body", "body": b"ok"})

    with TestClient(sloppy) as client:
        with pytest.raises(AppSpecError) as info:
            client.get("/")
        assert info.value.rule_id
    with TestClient(sloppy, validate=False) as client:
        assert client.get("/").text == "ok"


def test_background_work_finishes_before_the_call_returns() -> None:
    done: list[str] = []

    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"ok"})
        await asyncio.sleep(0)
        done.append("background")

    with TestClient(app) as client:
        assert client.get("/").text == "ok"
        assert done == ["background"]


def test_lingering_app_after_response_is_reported() -> None:
    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"ok"})
        await asyncio.Event().wait()  # never returns

    with TestClient(app, timeout=0.2) as client:
        with pytest.raises(ApplicationTimeoutError, match="after its response"):
            client.get("/")


def test_cookies_and_redirects_come_from_httpx() -> None:
    @http_only
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await read_body(receive)
        headers = dict(scope["headers"])
        if scope["path"] == "/login":
            await start(send, 302, [(b"set-cookie", b"session=abc"), (b"location", b"/me")])
            await send({"type": "http.response.body", "body": b""})
            return
        await start(send)
        await send({"type": "http.response.body", "body": headers.get(b"cookie", b"")})

    with TestClient(app) as client:
        assert client.post("/login").text == "session=abc"


def test_works_without_with_block_and_close_stops_the_loop() -> None:
    client = TestClient(scope_app)
    assert client.get("/x").status_code == 200
    portal = client.portal()
    client.close()
    assert not portal.thread.is_alive()


@pytest.mark.asyncio
async def test_sync_client_works_inside_an_async_test() -> None:
    # The app runs on the client's own loop thread, so blocking this loop is harmless.
    with TestClient(scope_app) as client:
        assert client.get("/").status_code == 200
