"""WsgiToAsgi in process, the response side of PEP 3333: what the app returns or writes.

start_response, write(), exc_info, app errors, and the body iterable's
``close()`` whatever ends the response (success, error, disconnect, failed send).
Request bodies, limits and back-pressure: test_wsgi_to_asgi_streaming.py;
extensions, other scopes and the bridge: test_wsgi_to_asgi_server.py.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from asgibridge.exceptions import WsgiProtocolError
from asgibridge.wsgi import WsgiToAsgi
from wsgi_harness import (  # _stop_adapter_pools: an autouse fixture
    WAIT,
    Client,
    Message,
    StartResponse,
    _call,
    _hello,
    _scope,
    _stop_adapter_pools,  # noqa: F401
)

# -- responses ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_response_messages() -> None:
    client = await _call(WsgiToAsgi(_hello), Client())
    headers = [(b"content-type", b"text/plain")]
    assert client.sent == [
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": b"hello", "more_body": True},
        {"type": "http.response.body"},
    ]


@pytest.mark.asyncio
async def test_generator_response_streams_each_chunk() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("201 Created", [("X-A", "1")])
        yield b"a"
        yield b"b"

    client = await _call(WsgiToAsgi(app), Client())
    assert client.status == 201
    assert [m.get("body") for m in client.sent[1:]] == [b"a", b"b", None]


@pytest.mark.asyncio
async def test_response_goes_out_while_app_still_runs() -> None:
    loop = asyncio.get_running_loop()
    first_sent = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        assert first_sent.wait(WAIT), "the first chunk was held back"
        yield b"second"

    client = Client()

    async def send(message: Message) -> None:
        client.sent.append(message)
        if message.get("body") == b"first":
            loop.call_soon(first_sent.set)

    await asyncio.wait_for(WsgiToAsgi(app)(_scope(), client.receive, send), WAIT)
    assert client.content == b"firstsecond"


@pytest.mark.asyncio
async def test_write_callable_sends_immediately() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        write = start_response("200 OK", [])
        write(b"one ")
        write(b"two ")
        return [b"three"]

    client = await _call(WsgiToAsgi(app), Client())
    assert client.content == b"one two three"


@pytest.mark.asyncio
async def test_headers_wait_for_the_first_non_empty_chunk() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("X-First", "1")])
        yield b""
        try:
            raise KeyError("late failure")
        except KeyError:
            start_response("503 Service Unavailable", [("X-Second", "1")], sys.exc_info())
        yield b"sorry"

    client = await _call(WsgiToAsgi(app), Client())
    assert client.status == 503
    assert client.sent[0]["headers"] == [(b"x-second", b"1")]
    assert client.content == b"sorry"


@pytest.mark.asyncio
async def test_exc_info_reraised_once_headers_are_sent() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        try:
            raise LookupError("after the headers")
        except LookupError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    client = Client()
    with pytest.raises(LookupError, match="after the headers"):
        await _call(WsgiToAsgi(app), client)
    assert client.status == 200
    assert client.content == b"partial"


@pytest.mark.asyncio
async def test_second_start_response_without_exc_info_is_refused() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("200 OK", [])
        return []

    with pytest.raises(WsgiProtocolError, match="second time without exc_info"):
        await _call(WsgiToAsgi(app), Client())


@pytest.mark.asyncio
async def test_body_without_start_response_is_refused() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return [b"no headers"]

    with pytest.raises(ValueError, match="before calling start_response"):
        await _call(WsgiToAsgi(app), Client())


@pytest.mark.asyncio
async def test_app_exception_reaches_the_server() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        raise ZeroDivisionError("view failed")

    client = Client()
    with pytest.raises(ZeroDivisionError):
        await _call(WsgiToAsgi(app), client)
    assert client.sent == []


# -- close() ------------------------------------------------------------------------------


class Tracked:
    """A WSGI body iterable that records how far it got and whether close() ran."""

    def __init__(self, chunks: Iterable[bytes], fail_at: int | None = None) -> None:
        self.chunks = iter(chunks)
        self.fail_at = fail_at
        self.yielded = 0
        self.closed = threading.Event()

    def __iter__(self) -> Tracked:
        return self

    def __next__(self) -> bytes:
        if self.yielded == self.fail_at:
            raise RuntimeError("body failed")
        chunk = next(self.chunks)
        self.yielded += 1
        return chunk

    def close(self) -> None:
        self.closed.set()


def _serving(body: Tracked) -> Callable[..., Tracked]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Tracked:
        start_response("200 OK", [])
        return body

    return app


@pytest.mark.asyncio
async def test_close_called_after_success() -> None:
    body = Tracked([b"a", b"b"])
    await _call(WsgiToAsgi(_serving(body)), Client())
    assert body.closed.is_set()


@pytest.mark.asyncio
async def test_close_called_after_error() -> None:
    body = Tracked([b"a", b"b"], fail_at=1)
    with pytest.raises(RuntimeError, match="body failed"):
        await _call(WsgiToAsgi(_serving(body)), Client())
    assert body.closed.is_set()


@pytest.mark.asyncio
async def test_disconnect_stops_streaming_and_closes() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 100

    body = Tracked(endless())
    client = Client(disconnect_after=5)
    await _call(WsgiToAsgi(_serving(body), send_buffer_size=100), client)
    assert body.closed.is_set()
    assert body.yielded < 10_000


@pytest.mark.asyncio
async def test_send_failure_stops_streaming_and_closes() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x"

    body = Tracked(endless())
    client = Client()

    async def send(message: Message) -> None:
        if len(client.sent) >= 3:
            raise ConnectionResetError("socket closed")
        client.sent.append(message)

    app = WsgiToAsgi(_serving(body), send_buffer_size=1)
    await asyncio.wait_for(app(_scope(), client.receive, send), WAIT)
    assert body.closed.is_set()
