"""AsgiToWsgi against careless or hostile ASGI apps (issue 16, sections 2 to 4).

Back-pressure holds for empty and 1-byte body messages, CR/LF/NUL in headers
or the status never reach the WSGI server, and an app that never starts its
response is cut off by ``response_timeout``. The app's progress is read on
its own loop (a probe coroutine), never guessed with sleeps.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge._asgi.wsgi import exchange as wsgi_exchange
from asgibridge._runtime import stop_adapter_pools
from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.exceptions import AppSpecError

Message = dict[str, Any]
WAIT = 10.0


@pytest.fixture
def adapters() -> Iterator[list[AsgiToWsgi]]:
    made: list[AsgiToWsgi] = []
    yield made
    for adapter in made:
        adapter.close(timeout=WAIT)
    stop_adapter_pools()


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }


class StartResponse:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.calls.append((status, headers))


def _on_loop(adapter: AsgiToWsgi, probe: Any) -> Any:
    """Run ``probe()`` on the adapter's loop (after what is ready to run there) and return it."""

    async def run() -> Any:
        await asyncio.sleep(0)
        return probe()

    runtime = adapter._runtime
    assert runtime is not None
    return asyncio.run_coroutine_threadsafe(run(), runtime.loop_thread.loop).result(WAIT)


@pytest.mark.parametrize("body", [b"", b"x"])
def test_tiny_body_messages_are_held_back_while_the_server_stalls(
    adapters: list[AsgiToWsgi], body: bytes
) -> None:
    sent = [0]
    total = 20 * wsgi_exchange.MAX_MESSAGES

    async def app(scope: Message, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        for _ in range(total):
            await send({"type": "http.response.body", "body": body, "more_body": True})
            sent[0] += 1
        await send({"type": "http.response.body", "body": b"end"})

    adapter = AsgiToWsgi(app, lifespan="off")
    adapters.append(adapter)
    response = adapter(_environ(), StartResponse())
    iterator = iter(response)
    assert next(iterator) == b"first"  # then the WSGI server's client stalls
    exchange = response._exchange  # type: ignore[attr-defined]
    blocked = _on_loop(adapter, lambda: exchange.credit_waiter is not None)
    assert blocked
    assert sent[0] <= wsgi_exchange.MAX_MESSAGES + 1
    rest = b"".join(iterator)  # the server reads again: the app finishes
    assert rest == body * total + b"end"
    assert sent[0] == total
    response.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("start", "what"),
    [
        ({"status": 200, "headers": [(b"x-echo", b"a\r\nset-cookie: s=1")]}, "value"),
        ({"status": 200, "headers": [(b"x-echo", b"a\nb")]}, "value"),
        ({"status": 200, "headers": [(b"x-echo", b"a\x00b")]}, "value"),
        ({"status": 200, "headers": [(b"x-echo\r\nset-cookie", b"s=1")]}, "name"),
        ({"status": "200 OK\r\nSet-Cookie: s=1"}, "status"),
        ({"status": 200.0}, "status"),
        ({"status": True}, "status"),
    ],
)
def test_header_injection_never_reaches_the_wsgi_server(
    adapters: list[AsgiToWsgi], start: Message, what: str
) -> None:
    seen: list[BaseException] = []

    async def app(scope: Message, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", **start})
        except AppSpecError as exc:
            seen.append(exc)
            raise
        await send({"type": "http.response.body", "body": b"never"})

    adapter = AsgiToWsgi(app, lifespan="off")
    adapters.append(adapter)
    start_response = StartResponse()
    with pytest.raises(AppSpecError):
        adapter(_environ(), start_response)
    assert start_response.calls == []  # the WSGI server answers 500 for the raised error
    assert len(seen) == 1


def test_an_app_that_can_fix_a_refused_start_is_served(adapters: list[AsgiToWsgi]) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"\n")]})
        except AppSpecError:
            await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"fixed"})

    adapter = AsgiToWsgi(app, lifespan="off")
    adapters.append(adapter)
    start_response = StartResponse()
    assert b"".join(adapter(_environ(), start_response)) == b"fixed"
    assert start_response.calls[0][0] == "500 Internal Server Error"


def test_an_app_that_never_starts_its_response_gets_504(
    adapters: list[AsgiToWsgi], caplog: pytest.LogCaptureFixture
) -> None:
    cancelled: list[bool] = []

    async def silent_app(scope: Message, receive: Any, send: Any) -> None:
        try:
            await asyncio.get_running_loop().create_future()  # never answers
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    adapter = AsgiToWsgi(silent_app, lifespan="off", response_timeout=0.05)
    adapters.append(adapter)
    start_response = StartResponse()
    with caplog.at_level(logging.ERROR, logger="asgibridge.wsgi"):
        body = b"".join(adapter(_environ(), start_response))
    assert start_response.calls[0][0] == "504 Gateway Timeout"
    assert b"did not answer" in body
    assert "silent_app" in caplog.text
    assert "response_timeout" in caplog.text
    assert _on_loop(adapter, lambda: cancelled) == [True]


def test_a_slow_but_timely_app_is_not_cut_off(adapters: list[AsgiToWsgi]) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    adapter = AsgiToWsgi(app, lifespan="off", response_timeout=WAIT)
    adapters.append(adapter)
    start_response = StartResponse()
    assert b"".join(adapter(_environ(), start_response)) == b"ok"


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-5, ValueError), (float("nan"), ValueError), ("60", TypeError)],
)
def test_response_timeout_is_validated(value: Any, error: type[Exception]) -> None:
    async def app(scope: Message, receive: Any, send: Any) -> None:
        raise AssertionError("never called")

    with pytest.raises(error, match="response_timeout"):
        AsgiToWsgi(app, response_timeout=value)
    assert AsgiToWsgi(app).response_timeout == 60.0
    assert AsgiToWsgi(app, response_timeout=None).response_timeout is None
