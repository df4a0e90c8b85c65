"""LifespanManager (server side) and LifespanMiddleware (app side) of the lifespan protocol.

The manager must tell "the app does not speak lifespan" apart from "its
startup failed" and from "it did not answer in time", each with a message
saying what to do; the middleware must answer lifespan for apps that cannot.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from asgibridge._errors import with_notes
from asgibridge.exceptions import ApplicationTimeoutError
from asgibridge.lifespan import (
    LifespanManager,
    LifespanMiddleware,
    LifespanShutdownError,
    LifespanStartupError,
    LifespanUnsupportedError,
)

Scope = dict[str, Any]


def lifespan_app(log: list[str], *, startup: str = "ok", shutdown: str = "ok") -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        log.append("startup")
        if startup == "fail":
            await send({"type": "lifespan.startup.failed", "message": "no database"})
            return
        if startup == "raise":
            raise ConnectionError("database refused")
        scope["state"]["db"] = "pool"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        log.append("shutdown")
        if shutdown == "fail":
            await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})
            return
        if shutdown == "raise":
            raise OSError("disk gone")
        await send({"type": "lifespan.shutdown.complete"})

    return app


@pytest.mark.asyncio
async def test_startup_and_shutdown_with_state() -> None:
    log: list[str] = []
    async with LifespanManager(lifespan_app(log)) as manager:
        assert manager.state == {"db": "pool"}
        assert manager.supported is True
        assert log == ["startup"]
    assert log == ["startup", "shutdown"]


def test_sync_face_runs_on_its_own_loop_thread() -> None:
    log: list[str] = []
    threads: list[threading.Thread] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        threads.append(threading.current_thread())
        await lifespan_app(log)(scope, receive, send)

    with LifespanManager(app) as manager:
        assert manager.state["db"] == "pool"
        assert manager.loop is not None
    assert log == ["startup", "shutdown"]
    assert threads[0] is not threading.current_thread()
    assert manager.loop is None


@pytest.mark.asyncio
async def test_raising_before_receive_means_unsupported() -> None:
    async def django_like(scope: Scope, receive: Any, send: Any) -> None:
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    manager = LifespanManager(django_like)
    with pytest.raises(LifespanUnsupportedError, match="LifespanMiddleware") as info:
        await manager.startup()
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, ValueError)
    assert manager.supported is False


@pytest.mark.asyncio
async def test_returning_before_receive_means_unsupported() -> None:
    async def http_only(scope: Scope, receive: Any, send: Any) -> None:
        return

    with pytest.raises(LifespanUnsupportedError, match="returned"):
        await LifespanManager(http_only).startup()


@pytest.mark.asyncio
async def test_startup_failed_message_is_reported() -> None:
    log: list[str] = []
    manager = LifespanManager(lifespan_app(log, startup="fail"))
    with pytest.raises(LifespanStartupError, match="no database"):
        await manager.startup()
    assert manager.supported is True
    assert manager.reported_failure is True


@pytest.mark.asyncio
async def test_raising_after_receive_is_a_startup_failure() -> None:
    manager = LifespanManager(lifespan_app([], startup="raise"))
    with pytest.raises(LifespanStartupError, match="database refused") as info:
        await manager.startup()
    assert isinstance(info.value.__cause__, ConnectionError)
    assert manager.reported_failure is False


@pytest.mark.asyncio
async def test_startup_timeout() -> None:
    async def silent(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await asyncio.Event().wait()

    with pytest.raises(ApplicationTimeoutError, match="startup_timeout"):
        await LifespanManager(silent, startup_timeout=0.05).startup()


@pytest.mark.asyncio
async def test_startup_timeout_without_receive_suggests_no_lifespan() -> None:
    async def ignores_scope(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()  # waits for something else, never for lifespan.startup

    with pytest.raises(ApplicationTimeoutError, match="never called receive") as info:
        await LifespanManager(ignores_scope, startup_timeout=0.05).startup()
    assert "LifespanMiddleware" in with_notes(info.value)


@pytest.mark.asyncio
async def test_shutdown_timeout_cancels_the_app() -> None:
    cancelled: list[bool] = []

    async def slow_to_stop(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            await asyncio.Event().wait()  # never answers lifespan.shutdown
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(ApplicationTimeoutError, match="shutdown_timeout"):
        async with LifespanManager(slow_to_stop, shutdown_timeout=0.05):
            pass
    assert cancelled == [True]


def test_sync_face_reports_unsupported_and_stops_its_loop() -> None:
    async def django_like(scope: Scope, receive: Any, send: Any) -> None:
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")

    manager = LifespanManager(django_like)
    with pytest.raises(LifespanUnsupportedError, match="LifespanMiddleware"):
        with manager:
            pass
    assert manager.loop is None
    assert manager.supported is False


@pytest.mark.asyncio
async def test_shutdown_failures() -> None:
    with pytest.raises(LifespanShutdownError, match="flush failed"):
        async with LifespanManager(lifespan_app([], shutdown="fail")):
            pass
    with pytest.raises(LifespanShutdownError, match="disk gone"):
        async with LifespanManager(lifespan_app([], shutdown="raise")):
            pass


@pytest.mark.asyncio
async def test_shutdown_runs_when_the_body_raises() -> None:
    log: list[str] = []
    with pytest.raises(KeyError):
        async with LifespanManager(lifespan_app(log)):
            raise KeyError("test body failed")
    assert log == ["startup", "shutdown"]


async def django_like_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"view"})


@pytest.mark.asyncio
async def test_middleware_answers_lifespan_and_runs_hooks_with_state() -> None:
    calls: list[str] = []
    hook_threads: list[threading.Thread] = []

    def sync_hook(state: dict[str, Any]) -> None:
        hook_threads.append(threading.current_thread())
        state["cache"] = "warm"
        calls.append("sync startup")

    async def async_hook(state: dict[str, Any]) -> None:
        calls.append(f"async startup sees {state['cache']}")

    async def stop(state: dict[str, Any]) -> None:
        calls.append("shutdown")

    app = LifespanMiddleware(django_like_app, on_startup=[sync_hook, async_hook], on_shutdown=stop)
    async with LifespanManager(app) as manager:
        assert manager.state == {"cache": "warm"}
    assert calls == ["sync startup", "async startup sees warm", "shutdown"]
    assert hook_threads[0] is not threading.current_thread()  # sync hooks leave the loop


@pytest.mark.asyncio
async def test_middleware_reports_a_failing_hook() -> None:
    def broken(state: dict[str, Any]) -> None:
        raise RuntimeError("cannot warm cache")

    app = LifespanMiddleware(django_like_app, on_startup=broken)
    with pytest.raises(LifespanStartupError, match="cannot warm cache") as info:
        await LifespanManager(app).startup()
    assert "broken" in str(info.value)


@pytest.mark.asyncio
async def test_middleware_passes_other_scopes_through() -> None:
    from asgibridge.testing import ApplicationCommunicator

    app = LifespanMiddleware(django_like_app)
    comm = ApplicationCommunicator(app, {"type": "http"})
    await comm.send_input({"type": "http.request"})
    assert (await comm.receive_output())["status"] == 200
    assert (await comm.receive_output())["body"] == b"view"
    await comm.wait()
