"""WsgiToAsgi in process, what the ASGI server around it brings besides an HTTP request.

Extensions (``http.response.pathsend``), the lifespan, websocket and unknown
scope types, and the bridge to the server: its event loop for
``async_to_sync``, its context variables, its cancellation, a fork.
"""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from asgibridge.exceptions import ClientDisconnected, UnsupportedScopeError
from asgibridge.file_wrapper import FileWrapper
from asgibridge.sync import async_to_sync
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
    adapter = WsgiToAsgi(app, receive_buffer_size=2)  # the app starts before the body ends
    task = asyncio.ensure_future(adapter(_scope(), client.receive, client.send))
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
