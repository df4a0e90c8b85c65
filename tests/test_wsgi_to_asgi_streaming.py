"""WsgiToAsgi in process, bytes and threads under load: request bodies, limits, back-pressure.

``wsgi.input`` read while the body still streams in (bounded read-ahead, a
disconnect mid-body), the body and header size limits, parallel requests
bounded by ``max_threads``, and a slow client slowing the app.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge.exceptions import ClientDisconnected, RequestBodyTooLargeError
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

# -- request bodies -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_app_reads_before_the_body_is_complete() -> None:
    loop = asyncio.get_running_loop()
    client = Client(b"first ", b"second")
    first_read = client.gates[1] = loop.create_future()  # the 2nd chunk waits for the app

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        head = stream.read(6)
        loop.call_soon_threadsafe(first_read.set_result, None)
        rest = stream.read()
        start_response("200 OK", [])
        return [head, b"|", rest]

    # A buffer smaller than the first chunk: the app starts before the rest
    # arrives (with the default 1 MiB it would start once the body is complete).
    await _call(WsgiToAsgi(app, receive_buffer_size=4), client)
    assert client.content == b"first |second"


@pytest.mark.asyncio
async def test_read_apis_through_the_adapter() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        parts = [stream.read(2), stream.readline(), *stream.readlines(), stream.read()]
        start_response("200 OK", [])
        return [b"/".join(parts)]

    client = await _call(WsgiToAsgi(app), Client(b"ab", b"c\nd", b"e\nf", b""))
    assert client.content == b"ab/c\n/de\n/f/"


@pytest.mark.asyncio
async def test_large_body_is_received_ahead_but_bounded() -> None:
    chunk, buffer = 1000, 4000
    read = [0]  # bytes the app has read
    most_ahead = [0]  # most bytes received from the client and not read yet
    digest: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        checksum = 0
        while data := stream.read(700):
            read[0] += len(data)
            checksum = (checksum + sum(data)) % 65521
        digest.append(checksum)
        start_response("200 OK", [])
        return []

    chunks = [bytes([i % 256]) * chunk for i in range(200)]
    client = Client(*chunks)

    async def receive() -> Message:
        if client.body:
            received = (200 - len(client.body)) * chunk
            most_ahead[0] = max(most_ahead[0], received - read[0])
        return await client.receive()

    adapter = WsgiToAsgi(app, receive_buffer_size=buffer)
    await asyncio.wait_for(adapter(_scope(), receive, client.send), WAIT)
    assert read[0] == 200 * chunk
    assert digest == [sum(sum(c) for c in chunks) % 65521]
    assert most_ahead[0] <= buffer + 2 * chunk


@pytest.mark.asyncio
async def test_a_receive_that_never_blocks_does_not_starve_the_loop() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        for _ in range(5):
            yield body

    client = Client(b"a", b"b")

    async def receive() -> Message:
        if client.body:
            return client.body.pop(0)
        return {"type": "http.request", "body": b"", "more_body": False}  # again and again

    await asyncio.wait_for(WsgiToAsgi(app)(_scope(), receive, client.send), WAIT)
    assert client.content == b"ab" * 5


@pytest.mark.asyncio
async def test_read_after_disconnect_raises_oserror() -> None:
    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            errors.append(exc)
        start_response("400 Bad Request", [])
        return []

    client = Client(b"partial", b"")
    client.body[1] = {"type": "http.disconnect"}
    await _call(WsgiToAsgi(app, receive_buffer_size=4), client)  # the app starts at once
    assert len(errors) == 1
    assert isinstance(errors[0], ClientDisconnected)


@pytest.mark.asyncio
async def test_declared_body_over_the_limit_gets_413_without_running_the_app() -> None:
    calls: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        calls.append(1)
        return _hello(environ, start_response)

    headers = [(b"content-length", b"11")]
    client = await _call(WsgiToAsgi(app, max_body_size=10), Client(b"x" * 11), headers=headers)
    assert client.status == 413
    assert calls == []


@pytest.mark.asyncio
async def test_streamed_body_over_the_limit_gets_413() -> None:
    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except RequestBodyTooLargeError as exc:
            errors.append(exc)
            raise
        return _hello(environ, start_response)

    adapter = WsgiToAsgi(app, max_body_size=10, receive_buffer_size=4)  # the app starts at once
    client = await _call(adapter, Client(b"x" * 6, b"y" * 6))
    assert client.status == 413
    assert isinstance(errors[0], OSError)


@pytest.mark.asyncio
async def test_headers_over_the_size_cap_get_431() -> None:
    headers = [(b"x-big", b"v" * 1000)] * 5
    client = await _call(WsgiToAsgi(_hello, max_header_size=4000), Client(), headers=headers)
    assert client.status == 431


@pytest.mark.asyncio
async def test_duplicate_header_limit_gets_asgirefs_400() -> None:
    headers = [(b"x-test", b"v")] * 10
    app = WsgiToAsgi(_hello, duplicate_header_limit=5)
    client = await _call(app, Client(), headers=headers)
    assert client.status == 400
    assert client.content == b"Bad Request: Too many duplicate headers"


# -- concurrency and back-pressure ----------------------------------------------------------


@pytest.mark.asyncio
async def test_requests_run_in_parallel() -> None:
    barrier = threading.Barrier(4, timeout=WAIT)

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        barrier.wait()  # passes only when 4 requests run at the same time
        return _hello(environ, start_response)

    adapter = WsgiToAsgi(app)
    clients = await asyncio.gather(*(_call(adapter, Client()) for _ in range(4)))
    assert [c.status for c in clients] == [200] * 4


@pytest.mark.asyncio
async def test_max_threads_bounds_concurrency() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, most
    pair = threading.Barrier(2, timeout=WAIT)

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        with lock:
            running[0] += 1
            running[1] = max(running)
        pair.wait()
        with lock:
            running[0] -= 1
        return _hello(environ, start_response)

    adapter = WsgiToAsgi(app, max_threads=2)
    await asyncio.gather(*(_call(adapter, Client()) for _ in range(6)))
    assert running[1] == 2


@pytest.mark.asyncio
async def test_slow_client_slows_the_app() -> None:
    chunk, buffer = 1000, 4000
    sent = [0]
    most_ahead = [0]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for produced in range(0, 200 * chunk, chunk):
            most_ahead[0] = max(most_ahead[0], produced - sent[0])
            yield b"x" * chunk

    client = Client()

    async def slow_send(message: Message) -> None:
        await asyncio.sleep(0.001)  # a slow client, not an ordering device
        sent[0] += len(message.get("body", b""))
        client.sent.append(message)

    adapter = WsgiToAsgi(app, send_buffer_size=buffer)
    await asyncio.wait_for(adapter(_scope(), client.receive, slow_send), WAIT)
    assert sent[0] == 200 * chunk
    assert most_ahead[0] <= buffer + 2 * chunk
