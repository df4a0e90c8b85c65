"""Issue 5's points that the main adapter tests leave out: edges of streaming, PEP 3333, limits.

WsgiToAsgi: no temporary files, every ``wsgi.input`` read API (iteration
included) through the adapter, Content-Length cut-off, ``close()`` when the
server cancels a streamed request, a disconnect seen while the app always
outruns the client (uvicorn drops sends after a disconnect silently), the
first chunk checked against ``max_body_size``, a file wrapper not at its
start streamed, repeated headers merged in linear time. AsgiToWsgi: the
app's ``send`` waits for the WSGI server (back-pressure), and
``lifespan="on"`` without lifespan support answers 500 with a logged reason.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from asgibridge._asgi.wsgi.environ import build_environ
from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.wsgi import WsgiToAsgi
from wsgi_harness import (  # _stop_adapter_pools: an autouse fixture
    WAIT,
    Message,
    StartResponse,
    _scope,
    _stop_adapter_pools,  # noqa: F401
)


class Server:
    """The server side of one request: body messages to give, then a disconnect; sends kept."""

    def __init__(self, *body: bytes) -> None:
        self.inbox: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(body) - 1}
            for i, chunk in enumerate(body or (b"",))
        ]
        self.sent: list[Message] = []
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        if self.inbox:
            return self.inbox.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def content(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    async def serve(self, app: Any, **scope: Any) -> Server:
        await asyncio.wait_for(app(_scope(**scope), self.receive, self.send), WAIT)
        return self


# -- WsgiToAsgi: the request body -------------------------------------------------------------


@pytest.mark.asyncio
async def test_no_temporary_file_is_made_for_a_body(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the request body went to a temporary file")

    for name in ("TemporaryFile", "SpooledTemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refused)

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        size = len(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [str(size).encode()]

    server = await Server(*[b"x" * 65536] * 16).serve(WsgiToAsgi(app))
    assert server.content == str(16 * 65536).encode()


@pytest.mark.asyncio
async def test_every_read_api_through_the_adapter() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        stream = environ["wsgi.input"]
        parts = [stream.readline(3), stream.readline(), *stream.readlines(2)]
        parts += list(stream)  # iteration: the remaining lines
        start_response("200 OK", [])
        return [b"|".join(parts)]

    body = (b"one\n", b"two\nthr", b"ee\nfo", b"ur\nfive\nsix")
    server = await Server(*body).serve(WsgiToAsgi(app))
    assert server.content == b"one|\n|two\n|three\n|four\n|five\n|six"


@pytest.mark.asyncio
async def test_first_chunk_over_the_limit_without_a_length_gets_413() -> None:
    calls: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        calls.append(1)
        start_response("200 OK", [])
        return []

    server = await Server(b"x" * 11).serve(WsgiToAsgi(app, max_body_size=10), method="POST")
    assert server.sent[0]["status"] == 413
    assert calls == []


# -- WsgiToAsgi: the response -----------------------------------------------------------------


class Body:
    """A WSGI body iterable: chunks from ``make(index)``, counted, ``close()`` recorded."""

    def __init__(self, make: Callable[[int], bytes], limit: int) -> None:
        self.make = make
        self.limit = limit
        self.yielded = 0
        self.closed = threading.Event()

    def __iter__(self) -> Body:
        return self

    def __next__(self) -> bytes:
        if self.yielded >= self.limit:
            raise StopIteration
        self.yielded += 1
        return self.make(self.yielded)

    def close(self) -> None:
        self.closed.set()


@pytest.mark.asyncio
async def test_body_longer_than_content_length_is_cut_and_closed() -> None:
    body = Body(lambda i: b"abcd", limit=100)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Body:
        start_response("200 OK", [("Content-Length", "6")])
        return body

    server = await Server().serve(WsgiToAsgi(app))
    assert server.content == b"abcdab"
    assert body.yielded == 2  # not iterated past the declared length
    assert body.closed.is_set()


@pytest.mark.asyncio
async def test_close_runs_when_the_server_cancels_a_streamed_request() -> None:
    loop = asyncio.get_running_loop()
    streaming = loop.create_future()
    body = Body(lambda i: b"x" * 100, limit=10**9)
    server = Server()

    async def send(message: Message) -> None:
        server.sent.append(message)
        if len(server.sent) == 3 and not streaming.done():
            streaming.set_result(None)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Body:
        start_response("200 OK", [])
        return body

    adapter = WsgiToAsgi(app, send_buffer_size=1000)
    task = asyncio.ensure_future(adapter(_scope(), server.receive, send))
    await asyncio.wait_for(streaming, WAIT)
    task.cancel()  # server shutdown
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(body.closed.wait, WAIT)
    assert body.yielded < 10**9


@pytest.mark.asyncio
async def test_disconnect_seen_while_the_app_always_outruns_the_client() -> None:
    """The disconnect watch starts even if the pump never finds the thread idle.

    In lockstep: each ``send`` lets the app make exactly one more chunk and
    returns once it is pushed, so every take() finds work. Like uvicorn after
    a disconnect, ``send`` never fails: only ``receive()`` tells.
    """
    loop = asyncio.get_running_loop()
    permits = threading.Semaphore(1)  # one chunk may be made per send
    pushed = asyncio.Event()  # the chunk a send allowed was pushed
    ended = [False]

    class Lockstep(Body):
        def __next__(self) -> bytes:
            if self.yielded >= 2:  # the chunk made before this call is pushed by now
                loop.call_soon_threadsafe(pushed.set)
            assert permits.acquire(timeout=WAIT), "the pump stopped sending"
            if self.yielded >= self.limit:
                self.close()
                raise StopIteration
            self.yielded += 1
            return b"x" * 10

        def close(self) -> None:
            ended[0] = True
            loop.call_soon_threadsafe(pushed.set)
            super().close()

    body = Lockstep(bytes, limit=200)
    server = Server()
    server.inbox.append({"type": "http.disconnect"})  # the client is already gone

    async def send(message: Message) -> None:
        server.sent.append(message)
        permits.release()
        if not ended[0]:
            await pushed.wait()
            if not ended[0]:
                pushed.clear()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Lockstep:
        start_response("200 OK", [])
        return body

    await asyncio.wait_for(WsgiToAsgi(app)(_scope(), server.receive, send), WAIT)
    assert body.closed.is_set()
    assert body.yielded < 20, "the app was iterated to its end after the disconnect"


@pytest.mark.asyncio
async def test_file_wrapper_not_at_its_start_is_streamed(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
        handle = open(target, "rb")  # noqa: SIM115 - the wrapper closes it
        handle.read(4)
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](handle, 4)

    offered = {"http.response.pathsend": {}}
    server = await Server().serve(WsgiToAsgi(app), extensions=offered)
    assert [m["type"] for m in server.sent][1:] == ["http.response.body"] * 3
    assert server.content == b"456789"


# -- environ ------------------------------------------------------------------------------------


def test_repeated_headers_merge_in_linear_time() -> None:
    # 100,000 repeats: joined once at the end this takes milliseconds; joined
    # by repeated concatenation (a copy per repeat) it would copy ~55 GB.
    headers = [(b"x-many", b"v" * 10)] * 100_000
    started = time.perf_counter()
    environ = build_environ(
        {"type": "http", "method": "GET", "path": "/", "headers": headers},
        None,
        max_header_size=None,
    )
    assert time.perf_counter() - started < 5.0
    assert len(environ["HTTP_X_MANY"]) == 100_000 * 11 - 1


# -- AsgiToWsgi -------------------------------------------------------------------------------


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
    }


def _start_response(status: str, headers: Any, exc_info: Any = None) -> None:
    return None


def test_asgi_app_send_waits_for_the_wsgi_server() -> None:
    """With 1000 bytes of send buffer, the app's third 400-byte chunk waits."""
    blocked_at: list[int | None] = []
    reported = threading.Event()

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        first_blocked: int | None = None
        for index in range(10):
            sending = asyncio.ensure_future(
                send({"type": "http.response.body", "body": b"x" * 400, "more_body": True})
            )
            await asyncio.sleep(0)  # one step: a send that need not wait is done by now
            if not sending.done() and first_blocked is None:
                first_blocked = index
                blocked_at.append(index)
                reported.set()
            await sending
        if first_blocked is None:
            blocked_at.append(None)
            reported.set()
        await send({"type": "http.response.body", "body": b""})

    adapter = AsgiToWsgi(app, lifespan="off", send_buffer_size=1000)
    try:
        iterable = adapter(_environ(), _start_response)  # nothing taken yet
        assert reported.wait(WAIT)
        assert blocked_at == [2]  # 800 bytes fit, the third chunk makes 1200
        assert sum(len(chunk) for chunk in iterable) == 10 * 400
        iterable.close()  # type: ignore[attr-defined]
    finally:
        adapter.close(timeout=WAIT)


def test_lifespan_on_without_support_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("no lifespan in this app")
        raise AssertionError("the app must not be called for requests")

    statuses: list[str] = []
    adapter = AsgiToWsgi(app, lifespan="on")
    try:
        with caplog.at_level(logging.ERROR, logger="asgibridge.wsgi"):
            body = adapter(_environ(), lambda status, headers: statuses.append(status))
        assert b"".join(body) == b"Internal Server Error"
        assert statuses == ["500 Internal Server Error"]
        assert "lifespan" in caplog.text.lower()
    finally:
        adapter.close(timeout=WAIT)
