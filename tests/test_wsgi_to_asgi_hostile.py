"""WsgiToAsgi against hostile clients and careless apps (issue 16, sections 1 to 4).

A client that stalls mid-body must hold no thread; the body wait has a
deadline; back-pressure holds for empty chunks; CR/LF/NUL never reach the
server in a header; the line of requests waiting for a thread is bounded.
Ordering comes from events and futures, never from sleeps; the only timers
are the adapter's own deadlines (set short) and the hang guards (``WAIT``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge._asgi.wsgi import admission as wsgi_admission
from asgibridge._asgi.wsgi import channel as wsgi_channel
from asgibridge._errors import with_notes
from asgibridge.exceptions import RequestBodyTimeoutError, WsgiProtocolError
from asgibridge.instrumentation import stats
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


class StalledUpload:
    """A client that sends the first part of a body and then nothing more."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.asked_for_more = asyncio.Event()
        self.sent: list[Message] = []
        self.calls = 0

    async def receive(self) -> Message:
        self.calls += 1
        if self.calls == 1:
            return {"type": "http.request", "body": self.first, "more_body": True}
        self.asked_for_more.set()
        await asyncio.get_running_loop().create_future()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def _echo_length(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(len(body)).encode()]


# -- 1. stalled uploads ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("threads", "first", "declared"),
    [(2, b"abc", b"10"), (3, b"", b"1000"), (1, b"x" * 5000, None)],
)
async def test_stalled_uploads_hold_no_thread_and_a_get_is_answered(
    threads: int, first: bytes, declared: bytes | None
) -> None:
    started: list[str] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.append(environ["REQUEST_METHOD"])
        return _echo_length(environ, start_response)

    adapter = WsgiToAsgi(app, max_threads=threads)
    headers = [] if declared is None else [(b"content-length", declared)]
    uploads = [StalledUpload(first) for _ in range(threads)]
    tasks = [
        asyncio.ensure_future(adapter(_scope(method="POST", headers=headers), u.receive, u.send))
        for u in uploads
    ]
    try:
        await asyncio.wait_for(asyncio.gather(*(u.asked_for_more.wait() for u in uploads)), WAIT)
        client = await _call(adapter, Client())
        assert client.status == 200
        assert started == ["GET"]  # no POST took a thread
        assert adapter.stats()["running"] == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_uploads_stalled_past_the_buffer_lend_their_thread_slot() -> None:
    loop = asyncio.get_running_loop()
    started: list[str] = []
    reading = loop.create_future()

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.append(environ["REQUEST_METHOD"])
        if started.count("POST") == 2:
            loop.call_soon_threadsafe(_set_once, reading)
        return _echo_length(environ, start_response)

    # More than receive_buffer_size arrives, so both POSTs start and then
    # wait on wsgi.input for a body that never comes.
    adapter = WsgiToAsgi(app, max_threads=2, receive_buffer_size=4, body_timeout=None)
    uploads = [StalledUpload(b"x" * 10) for _ in range(2)]
    tasks = [
        asyncio.ensure_future(adapter(_scope(method="POST"), u.receive, u.send)) for u in uploads
    ]
    try:
        await asyncio.wait_for(reading, WAIT)
        client = await _call(adapter, Client())  # runs once a POST's slot is lent out
        assert client.status == 200
        assert started[-1] == "GET"
        assert adapter.stats()["parked"] >= 1  # the other one may still be within PARK_AFTER
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_a_parked_request_takes_its_slot_back_when_data_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    parked = loop.create_future()
    original = wsgi_admission.Admission.park

    def park(self: wsgi_admission.Admission) -> bool:
        lent = original(self)
        loop.call_soon_threadsafe(_set_once, parked)
        return lent

    monkeypatch.setattr(wsgi_admission.Admission, "park", park)
    client = Client(b"x" * 10, b"rest")
    gate = client.gates[1] = loop.create_future()
    adapter = WsgiToAsgi(_echo_length, max_threads=1, receive_buffer_size=4)
    task = asyncio.ensure_future(_call(adapter, client))
    await asyncio.wait_for(parked, WAIT)  # the app waits on the body past PARK_AFTER
    assert adapter.stats()["parked"] == 1
    assert adapter.stats()["running"] == 0
    gate.set_result(None)
    await asyncio.wait_for(task, WAIT)
    assert client.content == b"14"
    assert adapter.stats()["running"] == 0
    assert adapter.stats()["parked"] == 0
    assert adapter._admission._busy == [0, 0]  # every thread slot of both pools given back


@pytest.mark.asyncio
async def test_a_body_stalled_before_the_app_starts_is_answered_408(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.append(1)
        return _hello(environ, start_response)

    upload = StalledUpload(b"abc")
    adapter = WsgiToAsgi(app, body_timeout=0.05)
    with caplog.at_level(logging.WARNING, logger="asgibridge.wsgi"):
        await asyncio.wait_for(adapter(_scope(method="POST"), upload.receive, upload.send), WAIT)
    assert upload.sent[0]["status"] == 408
    assert started == []
    assert "body_timeout" in caplog.text


@pytest.mark.asyncio
async def test_a_body_stalled_while_the_app_reads_raises_and_is_answered_408() -> None:
    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            errors.append(exc)
            raise
        return _hello(environ, start_response)

    upload = StalledUpload(b"abcdef")
    # A buffer smaller than the first chunk: the app starts at once and waits on its read.
    adapter = WsgiToAsgi(app, body_timeout=0.05, receive_buffer_size=2)
    await asyncio.wait_for(adapter(_scope(method="POST"), upload.receive, upload.send), WAIT)
    assert upload.sent[0]["status"] == 408
    assert isinstance(errors[0], RequestBodyTimeoutError)
    assert isinstance(errors[0], TimeoutError)
    assert adapter.stats()["running"] == 0


@pytest.mark.asyncio
async def test_a_slow_body_that_keeps_coming_is_not_timed_out() -> None:
    loop = asyncio.get_running_loop()
    client = Client(b"a", b"b", b"c")
    # Each chunk arrives only once the previous one was received: progress
    # re-arms the deadline, which covers one wait, not the whole body.
    for index in (1, 2):
        client.gates[index] = gate = loop.create_future()
        loop.call_soon(gate.set_result, None)
    await _call(WsgiToAsgi(_echo_length, body_timeout=5.0), client)
    assert client.content == b"3"


@pytest.mark.asyncio
async def test_a_client_that_leaves_mid_body_before_the_app_starts_costs_no_thread() -> None:
    started: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.append(1)
        return _hello(environ, start_response)

    client = Client(b"part", b"never")
    client.body[1] = {"type": "http.disconnect"}
    await _call(WsgiToAsgi(app), client)
    assert started == []
    assert client.sent == []


@pytest.mark.asyncio
async def test_a_receive_that_fails_mid_body_fails_the_request_not_hangs_it() -> None:
    class Broken(StalledUpload):
        async def receive(self) -> Message:
            if self.calls:
                raise OSError("the server lost the connection")
            return await super().receive()

    upload = Broken(b"abc")
    with pytest.raises(OSError, match="lost the connection"):
        await asyncio.wait_for(
            WsgiToAsgi(_echo_length)(_scope(method="POST"), upload.receive, upload.send), WAIT
        )

    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            errors.append(exc)
        return _hello(environ, start_response)

    upload = Broken(b"abcdef")  # past the buffer: the app reads when receive() fails
    adapter = WsgiToAsgi(app, receive_buffer_size=2)
    await asyncio.wait_for(adapter(_scope(method="POST"), upload.receive, upload.send), WAIT)
    assert "lost the connection" in str(errors[0])


@pytest.mark.asyncio
async def test_a_streamed_body_over_the_limit_before_the_app_starts_gets_413() -> None:
    started: list[int] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        started.append(1)
        return _hello(environ, start_response)

    client = await _call(WsgiToAsgi(app, max_body_size=10), Client(b"x" * 6, b"y" * 6))
    assert client.status == 413
    assert started == []


@pytest.mark.asyncio
async def test_a_large_body_still_streams_to_the_app_past_the_buffer() -> None:
    loop = asyncio.get_running_loop()
    client = Client(b"a" * 10, b"b" * 10, b"c")
    first_read = client.gates[1] = loop.create_future()  # the last chunk waits for the app

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        head = environ["wsgi.input"].read(15)
        loop.call_soon_threadsafe(first_read.set_result, None)
        rest = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [head, b"|", rest]

    await _call(WsgiToAsgi(app, receive_buffer_size=16), client)
    assert client.content == b"a" * 10 + b"b" * 5 + b"|" + b"b" * 5 + b"c"


# -- 2. empty chunks and back-pressure ------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("first", [b"first", b""])
async def test_empty_chunks_are_held_back_while_the_client_stalls(
    monkeypatch: pytest.MonkeyPatch, first: bytes
) -> None:
    # With first=b"" the app only ever yields empty chunks: the headers go out
    # after a few of them, and back-pressure applies from there.
    loop = asyncio.get_running_loop()
    blocked = loop.create_future()
    original = wsgi_channel.Channel._wait_for_credit

    def waiting(self: wsgi_channel.Channel) -> None:
        if not blocked.done():
            loop.call_soon_threadsafe(_set_once, blocked)
        original(self)

    monkeypatch.setattr(wsgi_channel.Channel, "_wait_for_credit", waiting)
    produced = [0]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield first
        while produced[0] < 100_000:
            produced[0] += 1
            yield b""

    stalled = loop.create_future()

    async def send(message: Message) -> None:
        _set_once(stalled)
        await loop.create_future()  # the client stopped reading

    client = Client()
    task = asyncio.ensure_future(WsgiToAsgi(app)(_scope(), client.receive, send))
    try:
        await asyncio.wait_for(asyncio.gather(stalled, blocked), WAIT)
        assert produced[0] <= wsgi_channel.MAX_MESSAGES + 16
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@pytest.mark.asyncio
async def test_empty_chunks_in_a_list_body_are_capped() -> None:
    def listed(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        return [b"", b"", b"x", *([b""] * 10_000), b"y"]

    client = await _call(WsgiToAsgi(listed), Client())
    assert len(client.sent) < 20
    assert client.content == b"xy"


@pytest.mark.asyncio
async def test_a_few_empty_chunks_still_leave_the_headers_replaceable() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for _ in range(3):
            yield b""
        try:
            raise KeyError("late")
        except KeyError:
            start_response("503 Service Unavailable", [], sys.exc_info())
        yield b"sorry"

    client = await _call(WsgiToAsgi(app), Client())
    assert client.status == 503
    assert client.content == b"sorry"


# -- 3. header injection -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "header",
    [
        ("X-Echo", "a\r\nSet-Cookie: session=attacker"),
        ("X-Echo", "a\nb"),
        ("X-Echo", "a\x00b"),
        ("X-Echo\r\nSet-Cookie", "session=attacker"),
        ("X Echo", "space in the name"),
        ("X-Echo:", "colon in the name"),
        ("", "empty name"),
    ],
)
async def test_start_response_refuses_header_injection(header: tuple[str, str]) -> None:
    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/plain"), header])
        except WsgiProtocolError as exc:
            errors.append(exc)
            raise
        return [b"hello"]

    client = Client()
    with pytest.raises(WsgiProtocolError):
        await _call(WsgiToAsgi(app), client)
    assert client.sent == []  # the server answers 500 for the raised error
    assert "injection" in with_notes(errors[0])


@pytest.mark.asyncio
@pytest.mark.parametrize("header", [(b"X-A", "v"), ("X-A", b"v"), (["X-A"], "v"), ("X-A", 1)])
async def test_start_response_refuses_headers_that_are_not_strings(header: Any) -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [header])
        return [b"hello"]

    client = Client()
    with pytest.raises(WsgiProtocolError, match="must be str"):
        await _call(WsgiToAsgi(app), client)
    assert client.sent == []


@pytest.mark.asyncio
async def test_exc_info_replacement_headers_are_checked_too() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Internal Server Error", [("X-Why", "a\r\nb")], sys.exc_info())
        yield b"never"

    client = Client()
    with pytest.raises(WsgiProtocolError):
        await _call(WsgiToAsgi(app), client)
    assert client.sent == []


@pytest.mark.asyncio
async def test_well_formed_headers_still_pass() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("X-Odd_Token.~!", "tab\tand latin-1 \xe9 are fine")])
        return [b"ok"]

    client = await _call(WsgiToAsgi(app), Client())
    assert client.sent[0]["headers"] == [
        (b"x-odd_token.~!", "tab\tand latin-1 \xe9 are fine".encode("latin-1"))
    ]


# -- 4. the line of requests waiting for a thread ---------------------------------------------


class Gate:
    """A WSGI app whose requests wait on a threading event (so they hold their thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.release = threading.Event()
        self.entered = loop.create_future()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        self.calls += 1
        self.loop.call_soon_threadsafe(_set_once, self.entered)
        assert self.release.wait(WAIT)
        return _hello(environ, start_response)


@pytest.mark.asyncio
async def test_a_full_line_is_answered_503_with_retry_after() -> None:
    gate = Gate(asyncio.get_running_loop())
    adapter = WsgiToAsgi(gate, max_threads=1, max_queued=1)
    first = asyncio.ensure_future(_call(adapter, Client()))
    await asyncio.wait_for(gate.entered, WAIT)
    second = asyncio.ensure_future(_call(adapter, Client()))
    while adapter.stats()["queued"] == 0:  # the second request reaches the line
        await asyncio.sleep(0)
    assert stats()["wsgi_queued"] >= 1
    third = await _call(adapter, Client())
    assert third.status == 503
    assert (b"retry-after", b"1") in third.sent[0]["headers"]
    assert adapter.stats() == {
        "running": 1,
        "parked": 0,
        "queued": 1,
        "max_queued": 1,
        "rejected": 1,
    }
    gate.release.set()
    done = await asyncio.wait_for(asyncio.gather(first, second), WAIT)
    assert [client.status for client in done] == [200, 200]
    assert adapter.stats()["running"] == 0
    assert adapter._admission._busy == [0, 0]


@pytest.mark.asyncio
async def test_a_request_cancelled_in_the_line_never_runs() -> None:
    gate = Gate(asyncio.get_running_loop())
    adapter = WsgiToAsgi(gate, max_threads=1)
    first = asyncio.ensure_future(_call(adapter, Client()))
    await asyncio.wait_for(gate.entered, WAIT)
    queued = asyncio.ensure_future(_call(adapter, Client()))
    while adapter.stats()["queued"] == 0:
        await asyncio.sleep(0)
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    assert adapter.stats()["queued"] == 0
    gate.release.set()
    await asyncio.wait_for(first, WAIT)
    assert gate.calls == 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"body_timeout": 0}, ValueError),
        ({"body_timeout": -1.0}, ValueError),
        ({"body_timeout": float("inf")}, ValueError),
        ({"body_timeout": "30"}, TypeError),
        ({"body_timeout": True}, TypeError),
        ({"max_queued": -1}, ValueError),
        ({"max_threads": 0}, ValueError),
        ({"max_threads": 2.5}, TypeError),
        ({"max_queued": 1.5}, TypeError),
    ],
)
def test_options_are_validated(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(options))):
        WsgiToAsgi(_hello, **options)


def test_defaults() -> None:
    adapter = WsgiToAsgi(_hello)
    assert adapter.body_timeout == 60.0
    assert adapter.max_queued is None
    assert WsgiToAsgi(_hello, body_timeout=None).body_timeout is None
