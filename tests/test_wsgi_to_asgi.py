"""WsgiToAsgi in process: parallel requests, streaming both ways, PEP 3333, disconnects, limits."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from asgibridge._asgi._wsgi_pool import stop_adapter_pools
from asgibridge.exceptions import (
    ClientDisconnected,
    RequestBodyTooLargeError,
    UnsupportedScopeError,
    WsgiProtocolError,
)
from asgibridge.sync import async_to_sync
from asgibridge.wsgi import FileWrapper, WsgiToAsgi

Message = dict[str, Any]
StartResponse = Callable[..., Any]
WAIT = 10.0  # seconds any cross-thread wait in these tests may last before failing


@pytest.fixture(autouse=True)
def _stop_adapter_pools() -> Iterator[None]:
    yield
    stop_adapter_pools()


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    scope.update(changes)
    return scope


class Client:
    """The server side of one request: scripted body messages, recorded sends."""

    def __init__(self, *body: bytes, disconnect_after: int | None = None) -> None:
        self.body: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(body) - 1}
            for i, chunk in enumerate(body or (b"",))
        ]
        self.sent: list[Message] = []
        self.disconnect_after = disconnect_after  # sends before a disconnect is reported
        self.gone = asyncio.Event()
        self.gates: dict[int, asyncio.Future[None]] = {}  # body index -> released by the test

    async def receive(self) -> Message:
        if self.body:
            index = len(self.body)
            gate = self.gates.get(index)
            if gate is not None:
                await gate
            return self.body.pop(0)
        if self.disconnect_after is None:
            await self.gone.wait()
        else:
            while len(self.sent) < self.disconnect_after:
                await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def content(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def _call(app: Any, client: Client, **scope: Any) -> Client:
    await asyncio.wait_for(app(_scope(**scope), client.receive, client.send), WAIT)
    return client


def _hello(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


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

    await _call(WsgiToAsgi(app), client)
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
    await _call(WsgiToAsgi(app), client)
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

    client = await _call(WsgiToAsgi(app, max_body_size=10), Client(b"x" * 6, b"y" * 6))
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


# -- extensions and other scopes ------------------------------------------------------------


@pytest.mark.asyncio
async def test_file_wrapper_uses_pathsend_when_offered(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789")
    handles: list[Any] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
        start_response("200 OK", [("Content-Length", "10")])
        handles.append(open(target, "rb"))  # noqa: SIM115 - the wrapper closes it
        return environ["wsgi.file_wrapper"](handles[-1])

    offered = {"http.response.pathsend": {}}
    client = await _call(WsgiToAsgi(app), Client(), extensions=offered)
    assert client.sent[1] == {"type": "http.response.pathsend", "path": str(target)}
    assert handles[0].closed

    client = await _call(WsgiToAsgi(app), Client())
    assert client.content == b"0123456789"
    assert handles[1].closed


@pytest.mark.asyncio
async def test_file_wrapper_is_exported() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
        assert environ["wsgi.file_wrapper"] is FileWrapper
        return _hello(environ, start_response)

    assert (await _call(WsgiToAsgi(app), Client())).status == 200


@pytest.mark.asyncio
async def test_lifespan_is_acknowledged() -> None:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await WsgiToAsgi(_hello)({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


@pytest.mark.asyncio
async def test_websocket_is_closed_politely() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await WsgiToAsgi(_hello)({"type": "websocket", "path": "/"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]


@pytest.mark.asyncio
async def test_unknown_scope_type_is_a_value_error() -> None:
    async def receive() -> Message:
        raise AssertionError("not called")

    with pytest.raises(UnsupportedScopeError) as caught:
        await WsgiToAsgi(_hello)({"type": "unknown"}, receive, receive)
    assert isinstance(caught.value, ValueError)


# -- the bridge -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_to_sync_in_the_app_runs_on_the_server_loop() -> None:
    server_loop = asyncio.get_running_loop()
    seen: list[bool] = []

    async def which_loop() -> bool:
        return asyncio.get_running_loop() is server_loop

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        seen.append(async_to_sync(which_loop)())
        return _hello(environ, start_response)

    await _call(WsgiToAsgi(app), Client())
    assert seen == [True]


@pytest.mark.asyncio
async def test_context_variables_reach_the_app() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        seen.append(request_id.get())
        return _hello(environ, start_response)

    request_id.set("r-1")
    await _call(WsgiToAsgi(app), Client())
    assert seen == ["r-1"]


@pytest.mark.asyncio
async def test_cancelled_request_unblocks_the_app() -> None:
    loop = asyncio.get_running_loop()
    reading = loop.create_future()
    outcome: list[BaseException] = []
    finished = threading.Event()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        loop.call_soon_threadsafe(reading.set_result, None)
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            outcome.append(exc)
        finished.set()
        start_response("200 OK", [])
        return []

    client = Client(b"part", b"never sent")
    client.gates[1] = loop.create_future()  # the rest of the body never comes
    task = asyncio.ensure_future(WsgiToAsgi(app)(_scope(), client.receive, client.send))
    await asyncio.wait_for(reading, WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(finished.wait, WAIT)
    assert isinstance(outcome[0], ClientDisconnected)


def test_pool_is_rebuilt_in_a_forked_child(tmp_path: Path) -> None:
    script = tmp_path / "fork_check.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os, sys
            from asgibridge.wsgi import WsgiToAsgi

            def app(environ, start_response):
                start_response("200 OK", [])
                return [str(os.getpid()).encode()]

            adapter = WsgiToAsgi(app)

            async def one():
                sent = []
                async def receive():
                    return {"type": "http.request", "body": b""}
                async def send(message):
                    sent.append(message)
                scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
                         "headers": []}
                await asyncio.wait_for(adapter(scope, receive, send), 10)
                return sent[1]["body"]

            assert asyncio.run(one()) == str(os.getpid()).encode()
            pid = os.fork()
            if pid == 0:
                ok = asyncio.run(one()) == str(os.getpid()).encode()
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            sys.exit(os.waitstatus_to_exitcode(status))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
