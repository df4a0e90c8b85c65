"""ApplicationCommunicator: asgiref's behaviour, plus the fixes (keep-running probe, errors).

The asgiref-compatible defaults are pinned (a receive_output timeout cancels
the application); the additions are pinned too: ``cancel_on_timeout=False``
keeps it running, the app's own exception comes out unchained with its
frames, a timeout never leaves the caller task cancelling, validation.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import traceback
from typing import Any

import pytest

from asgibridge.exceptions import (
    ApplicationNotRunningError,
    ApplicationTimeoutError,
    AppSpecError,
)
from asgibridge.testing import ApplicationCommunicator

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "stop":
            return
        await send({"type": "echo", "got": message})


class Boom(Exception):
    pass


async def failing_app(scope: Scope, receive: Any, send: Any) -> None:
    await receive()
    raise Boom("application failed")


@pytest.mark.asyncio
async def test_round_trip_and_wait() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    await comm.send_input({"type": "ping", "n": 1})
    assert await comm.receive_output() == {"type": "echo", "got": {"type": "ping", "n": 1}}
    await comm.send_input({"type": "stop"})
    await comm.wait()
    assert comm.future.done()


def test_constructible_outside_a_loop() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})  # no loop exists here

    async def use() -> Any:
        await comm.send_input({"type": "ping"})
        out = await comm.receive_output()
        await comm.send_input({"type": "stop"})
        await comm.wait()
        return out

    assert asyncio.run(use())["got"] == {"type": "ping"}


@pytest.mark.asyncio
async def test_timeout_cancels_the_app_by_default() -> None:
    cancelled = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        try:
            await receive()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    comm = ApplicationCommunicator(app, {"type": "test"})
    with pytest.raises(TimeoutError) as info:
        await comm.receive_output(timeout=0.01)
    assert isinstance(info.value, ApplicationTimeoutError)
    assert cancelled.is_set()
    assert comm.future.cancelled()
    with pytest.raises(asyncio.CancelledError) as late:
        await comm.send_input({"type": "late"})
    assert isinstance(late.value, ApplicationNotRunningError)
    assert "cancel_on_timeout=False" in str(late.value)


@pytest.mark.asyncio
async def test_probe_without_cancelling_keeps_the_app_running() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    with pytest.raises(ApplicationTimeoutError, match="still running"):
        await comm.receive_output(timeout=0.01, cancel_on_timeout=False)
    assert not comm.future.done()
    await comm.send_input({"type": "ping"})
    assert (await comm.receive_output())["got"] == {"type": "ping"}
    await comm.send_input({"type": "stop"})
    await comm.wait()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is 3.11+")
@pytest.mark.asyncio
async def test_handled_timeout_leaves_caller_not_cancelling() -> None:
    task = asyncio.current_task()
    assert task is not None
    before = task.cancelling()
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    for cancel in (False, True):
        with pytest.raises(TimeoutError):
            await comm.receive_output(timeout=0.01, cancel_on_timeout=cancel)
        assert task.cancelling() == before


@pytest.mark.asyncio
async def test_app_exception_comes_out_of_receive_output_unchained() -> None:
    comm = ApplicationCommunicator(failing_app, {"type": "test"})
    await comm.send_input({"type": "go"})
    with pytest.raises(Boom) as info:
        await comm.receive_output(timeout=None)  # the app's end stops the wait
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "failing_app" in frames
    assert not isinstance(info.value.__context__, TimeoutError)


@pytest.mark.asyncio
async def test_app_exception_comes_out_of_wait_and_send_input() -> None:
    comm = ApplicationCommunicator(failing_app, {"type": "test"})
    await comm.send_input({"type": "go"})
    with pytest.raises(Boom) as info:
        await comm.wait()
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "failing_app" in frames
    with pytest.raises(Boom):
        await comm.send_input({"type": "again"})
    with pytest.raises(Boom):
        comm.stop()
    comm.stop(exceptions=False)


@pytest.mark.asyncio
async def test_wait_timeout_cancels_and_raises_timeout_error() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    with pytest.raises(TimeoutError, match="did not finish within"):
        await comm.wait(timeout=0.01)
    assert comm.future.cancelled()


@pytest.mark.asyncio
async def test_app_ignoring_cancellation_is_reported_not_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from asgibridge._runtime.threads import _tasks

    monkeypatch.setattr(_tasks, "STOP_GRACE", 0.05)
    release = asyncio.Event()

    async def stubborn(scope: Scope, receive: Any, send: Any) -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # the bug under test: it swallows cancellation

    comm = ApplicationCommunicator(stubborn, {"type": "test"})
    with pytest.raises(ApplicationTimeoutError, match="must not swallow CancelledError"):
        await comm.receive_output(timeout=0.01)
    release.set()
    await asyncio.wait({comm.future}, timeout=5)
    assert comm.future.done()


@pytest.mark.asyncio
async def test_receive_nothing() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    assert await comm.receive_nothing(0.02) is True
    await comm.send_input({"type": "ping"})
    assert await comm.receive_nothing(1.0) is False
    assert (await comm.receive_output())["got"] == {"type": "ping"}
    assert await comm.receive_nothing(0.02) is True
    await comm.send_input({"type": "stop"})
    await comm.wait()


@pytest.mark.asyncio
async def test_app_starts_in_a_fresh_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("test value")

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "seen", "value": var.get()})

    comm = ApplicationCommunicator(app, {"type": "test"})
    assert (await comm.receive_output())["value"] == "unset"
    await comm.wait()


@pytest.mark.asyncio
async def test_asgi2_application() -> None:
    class Legacy:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await send({"type": "scope", "kind": self.scope["type"]})

    comm = ApplicationCommunicator(Legacy, {"type": "legacy"})
    assert await comm.receive_output() == {"type": "scope", "kind": "legacy"}
    await comm.wait()


@pytest.mark.asyncio
async def test_stop_cancels_a_running_app() -> None:
    comm = ApplicationCommunicator(echo_app, {"type": "test"})
    assert await comm.receive_nothing(0.01)
    comm.stop()
    await asyncio.wait({comm.future}, timeout=5)
    assert comm.future.cancelled()
    comm.stop()  # idempotent, and cancelled is not an exception to raise


HTTP_SCOPE: Scope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.5"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [],
    "client": ("127.0.0.1", 1234),
    "server": ("testserver", 80),
}


@pytest.mark.asyncio
async def test_validate_catches_a_spec_violation() -> None:
    async def bad_app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.body", "body": b"no start first"})

    comm = ApplicationCommunicator(bad_app, dict(HTTP_SCOPE), validate=True)
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    with pytest.raises(AppSpecError) as info:
        await comm.receive_output()
    assert info.value.rule_id


@pytest.mark.asyncio
async def test_validate_passes_a_correct_app() -> None:
    async def good_app(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    comm = ApplicationCommunicator(good_app, dict(HTTP_SCOPE), validate=True)
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    assert (await comm.receive_output())["status"] == 200
    assert (await comm.receive_output())["body"] == b"ok"
    await comm.wait()


def _real_asgiref_communicator() -> Any:
    # The test extra pins asgiref (3.13.0 on 3.11+): the reference behaviour.
    import asgiref.testing

    return asgiref.testing.ApplicationCommunicator


@pytest.mark.parametrize("implementation", ["asgibridge", "asgiref"])
@pytest.mark.asyncio
async def test_send_input_after_a_timeout_raises_cancelled_error_like_asgiref(
    implementation: str,
) -> None:
    # Channels' test_timeout_disconnect: the app never sends; the timeout cancels
    # it; the disconnect sent afterwards raises CancelledError.
    factory = (
        ApplicationCommunicator if implementation == "asgibridge" else _real_asgiref_communicator()
    )

    async def silent(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            await receive()

    comm = factory(silent, {"type": "websocket", "path": "/"})
    with pytest.raises(asyncio.TimeoutError):
        await comm.receive_output(timeout=0.01)
    with pytest.raises(asyncio.CancelledError):
        await comm.send_input({"type": "websocket.disconnect", "code": 1000})
    with pytest.raises(asyncio.CancelledError):
        await comm.receive_output(timeout=0.01)
    with pytest.raises(asyncio.CancelledError):
        await comm.receive_nothing()


@pytest.mark.parametrize("implementation", ["asgibridge", "asgiref"])
@pytest.mark.asyncio
async def test_send_input_after_stop_raises_cancelled_error_like_asgiref(
    implementation: str,
) -> None:
    factory = (
        ApplicationCommunicator if implementation == "asgibridge" else _real_asgiref_communicator()
    )
    comm = factory(echo_app, {"type": "test"})
    await comm.send_input({"type": "ping"})
    assert (await comm.receive_output())["type"] == "echo"
    comm.stop()
    with pytest.raises(asyncio.CancelledError):
        await comm.future
    with pytest.raises(asyncio.CancelledError) as info:
        await comm.send_input({"type": "ping"})
    if implementation == "asgibridge":
        assert isinstance(info.value, ApplicationNotRunningError)
        assert "cancelled" in str(info.value)


def test_not_running_error_is_cancelled_error_and_asgibridge_error() -> None:
    from asgibridge.exceptions import AsgiBridgeError

    assert issubclass(ApplicationNotRunningError, asyncio.CancelledError)
    assert issubclass(ApplicationNotRunningError, AsgiBridgeError)
    assert ApplicationNotRunningError.__qualname__ == "ApplicationNotRunningError"
    assert ApplicationNotRunningError.__module__ == "asgibridge._errors"
