"""AsgiToWsgi in process: lazy per-process loop, lifespan, streaming both ways, disconnects."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime import stop_adapter_pools
from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.exceptions import AppSpecError, BridgeDeadlockError
from asgibridge.wsgi import WsgiToAsgi

Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
WAIT = 10.0


@pytest.fixture
def adapters() -> Iterator[list[AsgiToWsgi]]:
    made: list[AsgiToWsgi] = []
    yield made
    for adapter in made:
        adapter.close(timeout=WAIT)
    stop_adapter_pools()


def _environ(method: str = "GET", body: bytes = b"", **changes: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(changes)
    return environ


class Response:
    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
        self.status, self.headers = status, headers
        return self.chunks.append

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def _get(wsgi: Any, **environ: Any) -> Response:
    response = Response()
    iterable = wsgi(_environ(**environ), response.start_response)
    try:
        for chunk in iterable:
            response.chunks.append(chunk)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return response


async def _hello(scope: Message, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": b"hello"})


def _make(adapters: list[AsgiToWsgi], app: Any, **options: Any) -> AsgiToWsgi:
    adapter = AsgiToWsgi(app, **options)
    adapters.append(adapter)
    return adapter


# -- basics ---------------------------------------------------------------------------------


def test_get_hello(adapters: list[AsgiToWsgi]) -> None:
    response = _get(_make(adapters, _hello))
    assert response.status == "200 OK"
    assert response.headers == [("content-type", "text/plain")]  # hop-by-hop dropped
    assert response.body == b"hello"


def test_scope_seen_by_the_app(adapters: list[AsgiToWsgi]) -> None:
    scopes: list[Message] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan here")
        scopes.append(scope)
        await _hello(scope, receive, send)

    _get(_make(adapters, app), PATH_INFO="/x", SCRIPT_NAME="/app", QUERY_STRING="a=1")
    scope = scopes[0]
    assert (scope["path"], scope["root_path"], scope["query_string"]) == ("/app/x", "/app", b"a=1")
    assert scope["client"] == ("127.0.0.1", 40000)
    assert scope["http_version"] == "1.1"


def test_unknown_status_gets_a_reason(adapters: list[AsgiToWsgi]) -> None:
    async def app(scope: Message, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body"})

    assert _get(_make(adapters, app, lifespan="off")).status == "299 Unknown"


def test_asgi2_application(adapters: list[AsgiToWsgi]) -> None:
    class Legacy:
        def __init__(self, scope: Message) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await _hello(self.scope, receive, send)

    assert _get(_make(adapters, Legacy, lifespan="off")).body == b"hello"


def test_app_error_before_the_response_reaches_the_wsgi_server(
    adapters: list[AsgiToWsgi],
) -> None:
    async def app(scope: Message, receive: Receive, send: Send) -> None:
        raise KeyError("broken view")

    with pytest.raises(KeyError, match="broken view"):
        _get(_make(adapters, app, lifespan="off"))


def test_app_returning_without_a_response_is_a_spec_error(adapters: list[AsgiToWsgi]) -> None:
    async def app(scope: Message, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(AppSpecError):
        _get(_make(adapters, app, lifespan="off"))


# -- the loop: lazy, per process ------------------------------------------------------------


def test_no_loop_until_the_first_request(adapters: list[AsgiToWsgi]) -> None:
    before = asgibridge.runtime_stats()["loop_threads"]
    adapter = _make(adapters, _hello, lifespan="off")
    assert asgibridge.runtime_stats()["loop_threads"] == before
    _get(adapter)
    _get(adapter)
    assert asgibridge.runtime_stats()["loop_threads"] == before + 1


def test_loop_rebuilt_after_runtime_shutdown(adapters: list[AsgiToWsgi]) -> None:
    adapter = _make(adapters, _hello, lifespan="off")
    assert _get(adapter).body == b"hello"
    asgibridge.shutdown()
    assert _get(adapter).body == b"hello"


def test_called_from_its_own_loop_thread_is_refused(adapters: list[AsgiToWsgi]) -> None:
    outcome: list[BaseException] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        try:
            _get(adapter)  # a WSGI call from the loop thread would wait on itself
        except BridgeDeadlockError as exc:
            outcome.append(exc)
        await _hello(scope, receive, send)

    adapter = _make(adapters, app, lifespan="off")
    _get(adapter)
    assert len(outcome) == 1


# -- lifespan ---------------------------------------------------------------------------------


def _lifespan_app(events: list[str], fail: bool = False) -> Any:
    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    events.append("startup")
                    if fail:
                        await send({"type": "lifespan.startup.failed", "message": "no db"})
                        return
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    events.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        events.append("request:" + scope["state"]["db"])
        await _hello(scope, receive, send)

    return app


def test_lifespan_startup_once_before_the_first_request(adapters: list[AsgiToWsgi]) -> None:
    events: list[str] = []
    adapter = _make(adapters, _lifespan_app(events))
    threads = [threading.Thread(target=_get, args=(adapter,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert events == ["startup"] + ["request:connected"] * 4
    adapter.close()
    assert events[-1] == "shutdown"


def test_lifespan_startup_failure_answers_500(
    adapters: list[AsgiToWsgi], caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    adapter = _make(adapters, _lifespan_app(events, fail=True))
    with caplog.at_level(logging.ERROR, logger="asgibridge.wsgi"):
        first, second = _get(adapter), _get(adapter)
    assert first.status == second.status == "500 Internal Server Error"
    assert events == ["startup"]
    assert "no db" in caplog.text


def test_app_without_lifespan_support_is_served(adapters: list[AsgiToWsgi]) -> None:
    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError("http only")
        await _hello(scope, receive, send)

    assert _get(_make(adapters, app)).body == b"hello"


def test_lifespan_off_never_calls_lifespan(adapters: list[AsgiToWsgi]) -> None:
    kinds: list[str] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        kinds.append(scope["type"])
        await _hello(scope, receive, send)

    _get(_make(adapters, app, lifespan="off"))
    assert kinds == ["http"]


# -- streaming ----------------------------------------------------------------------------------


def test_response_streams_while_the_app_runs(adapters: list[AsgiToWsgi]) -> None:
    handles: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        go_on = asyncio.Event()
        handles.append((asyncio.get_running_loop(), go_on))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await go_on.wait()  # set by the test once it has the first chunk
        await send({"type": "http.response.body", "body": b"second"})

    response = Response()
    iterable = _make(adapters, app, lifespan="off")(_environ(), response.start_response)
    chunks = iter(iterable)
    assert next(chunks) == b"first"
    loop, go_on = handles[0]
    loop.call_soon_threadsafe(go_on.set)
    assert list(chunks) == [b"second"]
    iterable.close()  # type: ignore[attr-defined]


def test_request_body_streams_in_chunks(adapters: list[AsgiToWsgi]) -> None:
    messages: list[Message] = []
    first_seen = threading.Event()

    class SlowInput:
        """wsgi.input whose second read waits until the app has the first chunk."""

        def __init__(self) -> None:
            self.data = io.BytesIO(b"0123456789")
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads == 2:
                assert first_seen.wait(WAIT), "the app did not get the first chunk first"
            return self.data.read(size)

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            messages.append(message)
            first_seen.set()
            if not message.get("more_body"):
                break
        await _hello(scope, receive, send)

    adapter = _make(adapters, app, lifespan="off", chunk_size=4)
    _get(adapter, method="POST", CONTENT_LENGTH="10", **{"wsgi.input": SlowInput()})
    assert [m["body"] for m in messages] == [b"0123", b"4567", b"89"]
    assert [m["more_body"] for m in messages] == [True, True, False]


def test_cancelled_receive_loses_no_body(adapters: list[AsgiToWsgi]) -> None:
    cancelled = threading.Event()
    bodies: list[bytes] = []

    class HeldInput:
        """wsgi.input whose second read waits until the app cancelled its receive()."""

        def __init__(self) -> None:
            self.data = io.BytesIO(b"abcdef")
            self.reads = 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads == 2:
                assert cancelled.wait(WAIT)
            return self.data.read(size)

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        parts = [(await receive())["body"]]
        asking = asyncio.ensure_future(receive())
        await asyncio.sleep(0)  # let it ask the WSGI thread for more
        asking.cancel()
        cancelled.set()
        while True:
            message = await receive()
            parts.append(message["body"])
            if not message["more_body"]:
                break
        bodies.append(b"".join(parts))
        await _hello(scope, receive, send)

    adapter = _make(adapters, app, lifespan="off", chunk_size=3)
    _get(adapter, method="POST", CONTENT_LENGTH="6", **{"wsgi.input": HeldInput()})
    assert bodies == [b"abcdef"]


def test_terminated_input_without_length(adapters: list[AsgiToWsgi]) -> None:
    bodies: list[bytes] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        parts = []
        while True:
            message = await receive()
            parts.append(message["body"])
            if not message["more_body"]:
                break
        bodies.append(b"".join(parts))
        await _hello(scope, receive, send)

    adapter = _make(adapters, app, lifespan="off", chunk_size=3)
    changes = {"wsgi.input": io.BytesIO(b"chunked!"), "wsgi.input_terminated": True}
    _get(adapter, method="POST", CONTENT_LENGTH="", **changes)
    assert bodies == [b"chunked!"]


def test_early_close_delivers_http_disconnect(adapters: list[AsgiToWsgi]) -> None:
    received: list[str] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) request body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        received.append((await receive())["type"])  # waits for the disconnect

    response = Response()
    iterable = _make(adapters, app, lifespan="off")(_environ(), response.start_response)
    assert next(iter(iterable)) == b"part"
    iterable.close()  # type: ignore[attr-defined]
    assert received == ["http.disconnect"]


def test_background_work_wait_is_bounded(
    adapters: list[AsgiToWsgi], caplog: pytest.LogCaptureFixture
) -> None:
    handles: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        release = asyncio.Event()
        handles.append((asyncio.get_running_loop(), release))
        await _hello(scope, receive, send)
        await release.wait()  # background work that outlives the wait

    adapter = _make(adapters, app, lifespan="off", background_timeout=0.05)
    with caplog.at_level(logging.WARNING, logger="asgibridge.wsgi"):
        assert _get(adapter).body == b"hello"
    assert "still running" in caplog.text
    loop, release = handles[0]
    loop.call_soon_threadsafe(release.set)


def test_background_work_is_waited_for(adapters: list[AsgiToWsgi]) -> None:
    done: list[str] = []

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        await _hello(scope, receive, send)
        await asyncio.sleep(0)
        done.append("background")

    _get(_make(adapters, app, lifespan="off"))
    assert done == ["background"]


# -- round trip ----------------------------------------------------------------------------------


def test_round_trip_wsgi_asgi_wsgi(adapters: list[AsgiToWsgi]) -> None:
    def echo(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        yield environ["PATH_INFO"].encode() + b":"
        yield body[::-1]

    wrapped = _make(adapters, WsgiToAsgi(echo))
    payload = bytes(range(256)) * 100
    response = _get(wrapped, method="POST", body=payload, PATH_INFO="/echo")
    assert response.status == "200 OK"
    assert response.body == b"/echo:" + payload[::-1]


def test_fork_gets_a_new_loop_and_startup(tmp_path: Path) -> None:
    script = tmp_path / "fork_check.py"
    script.write_text(
        textwrap.dedent(
            """
            import io, os, sys
            from asgibridge.asgi_to_wsgi import AsgiToWsgi

            startups = []

            async def app(scope, receive, send):
                if scope["type"] == "lifespan":
                    await receive()
                    startups.append(os.getpid())
                    await send({"type": "lifespan.startup.complete"})
                    await receive()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": str(os.getpid()).encode()})

            adapter = AsgiToWsgi(app)

            def get():
                environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x",
                           "SERVER_PORT": "80", "wsgi.input": io.BytesIO()}
                out = adapter(environ, lambda status, headers, exc_info=None: None)
                try:
                    return b"".join(out)
                finally:
                    out.close()

            assert get() == str(os.getpid()).encode()
            pid = os.fork()
            if pid == 0:
                ok = get() == str(os.getpid()).encode() and startups[-1] == os.getpid()
                os._exit(0 if ok and len(startups) == 2 else 3)
            _, status = os.waitpid(pid, 0)
            assert startups == [os.getpid()]
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
