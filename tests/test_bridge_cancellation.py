"""Cancelling a task that awaits sync_to_async.

Rules under test: the cancellation is forwarded to async work the sync
function started through async_to_sync; a CancelledError is never swallowed
by the bridge; if the inner async work catches it and the sync function
returns, that result is returned (asyncio's semantics for a coroutine that
catches its cancellation); a sync function still running when its caller is
cancelled is *abandoned* and counted in ``runtime_stats()``.
"""

from __future__ import annotations

import ast
import asyncio
import functools
import gc
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

import asgibridge
from asgibridge.sync import async_to_sync, sync_to_async
from bridge_routes import JOIN, ROUTES, run_on_route

WAIT = 10.0  # seconds a sync function blocks at most (a stuck test still ends)


async def drain_sync_thread() -> None:
    """Return once the process-wide sync thread has run what was queued before."""
    await sync_to_async(lambda: None)()


@pytest.mark.asyncio
async def test_cancel_is_forwarded_to_async_work_started_by_the_sync_function() -> None:
    inner_started = asyncio.Event()
    inner_cancelled = asyncio.Event()
    sync_saw: list[BaseException] = []

    async def inner() -> None:
        inner_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            inner_cancelled.set()
            raise

    def sync_function() -> None:
        try:
            async_to_sync(inner)()
        except BaseException as exc:
            sync_saw.append(exc)
            raise

    task = asyncio.ensure_future(sync_to_async(sync_function)())
    await inner_started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert inner_cancelled.is_set()
    await drain_sync_thread()
    assert len(sync_saw) == 1
    assert isinstance(sync_saw[0], asyncio.CancelledError)
    del task
    sync_saw.clear()
    gc.collect()  # report the late outcome here, not in another test's caplog (see below)


@pytest.mark.asyncio
async def test_result_is_returned_when_inner_work_catches_the_cancellation() -> None:
    inner_started = asyncio.Event()

    async def inner() -> str:
        inner_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "inner caught it"
        return "not reached"

    def sync_function() -> str:
        return "sync got: " + async_to_sync(inner)()

    task = asyncio.ensure_future(sync_to_async(sync_function)())
    await inner_started.wait()
    task.cancel()
    assert await task == "sync got: inner caught it"
    assert not task.cancelled()


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_cancellation_is_never_swallowed_and_abandoned_calls_are_counted(
    thread_sensitive: bool, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    release = threading.Event()
    finished = threading.Event()
    finished_async = asyncio.Event()

    def blocking() -> str:
        loop.call_soon_threadsafe(started.set)
        release.wait(WAIT)
        finished.set()
        loop.call_soon_threadsafe(finished_async.set)
        return "dropped"

    before = asgibridge.runtime_stats()["abandoned_calls"]
    task = asyncio.ensure_future(sync_to_async(blocking, thread_sensitive=thread_sensitive)())
    await started.wait()
    task.cancel()
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        with pytest.raises(asyncio.CancelledError):
            await task
        # The sync function cannot be interrupted: it is still running, abandoned.
        assert not finished.is_set()
        assert asgibridge.runtime_stats()["abandoned_calls"] == before + 1
        release.set()
        await finished_async.wait()
        # Its late outcome is dropped quietly: no "exception in shielded future"
        # or "Future exception was never retrieved" noise.
        await sync_to_async(lambda: None, thread_sensitive=thread_sensitive)()
    assert not [r for r in caplog.records if r.name == "asyncio"]


@pytest.mark.asyncio
async def test_cancelled_before_it_started_the_call_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    first_started = asyncio.Event()
    release = threading.Event()
    ran: list[str] = []

    def occupy() -> None:
        loop.call_soon_threadsafe(first_started.set)
        release.wait(WAIT)

    def queued() -> None:
        ran.append("queued")

    before = asgibridge.runtime_stats()["abandoned_calls"]
    first = asyncio.ensure_future(sync_to_async(occupy)())
    await first_started.wait()
    second = asyncio.ensure_future(sync_to_async(queued)())
    await asyncio.sleep(0)  # let `second` queue its call behind `occupy`
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    release.set()
    await first
    await drain_sync_thread()  # anything queued before this has run by now
    assert ran == []
    # Never started, so not abandoned either.
    assert asgibridge.runtime_stats()["abandoned_calls"] == before


@pytest.mark.asyncio
async def test_cancel_while_waiting_with_wait_for_raises_timeout() -> None:
    release = threading.Event()

    def blocking() -> None:
        release.wait(WAIT)

    try:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sync_to_async(blocking, thread_sensitive=False)(), 0.01)
    finally:
        release.set()


def test_async_to_sync_propagates_cancellation_of_its_own_coroutine() -> None:
    async def cancels_itself() -> None:
        raise asyncio.CancelledError

    async def fine() -> str:
        return "loop still usable"

    with pytest.raises(asyncio.CancelledError):
        async_to_sync(cancels_itself)()
    assert async_to_sync(fine)() == "loop still usable"


@pytest.mark.asyncio
async def test_forwarded_cancellation_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    inner_started = asyncio.Event()

    async def inner() -> None:
        inner_started.set()
        await asyncio.Event().wait()

    def sync_function() -> None:
        async_to_sync(inner)()

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        task = asyncio.ensure_future(sync_to_async(sync_function)())
        await inner_started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await drain_sync_thread()  # the sync function's outcome has been delivered
        del task
        gc.collect()  # an unretrieved future reports itself when collected
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


@pytest.mark.parametrize("route", ROUTES)
def test_cancel_is_forwarded_on_every_route(route: str) -> None:
    async def body(wrap: Any) -> tuple[bool, bool, str]:
        inner_started = asyncio.Event()
        inner_cancelled = asyncio.Event()
        sync_saw: list[str] = []
        sync_done = threading.Event()

        async def inner() -> None:
            inner_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                inner_cancelled.set()
                raise

        def sync_function() -> None:
            try:
                async_to_sync(inner)()
            except BaseException as exc:
                sync_saw.append(type(exc).__name__)
                raise
            finally:
                sync_done.set()

        task = asyncio.ensure_future(wrap(sync_function)())
        await inner_started.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        # The abandoned sync_function runs on; wait for its end on the route (on
        # the pool this wait may run on another thread than sync_function's).
        assert await wrap(functools.partial(sync_done.wait, JOIN))()
        return task.cancelled(), inner_cancelled.is_set(), ",".join(sync_saw)

    assert run_on_route(route, body) == (True, True, "CancelledError")
    gc.collect()  # see test_forwarded_cancellation_logs_nothing


SRC = Path(__file__).resolve().parents[1] / "src" / "asgibridge"


def test_no_asyncio_shield_in_src() -> None:
    # shield costs a loop iteration per call and, on 3.14, logs "exception in
    # shielded future" for every cancelled request: the bridge must never use it.
    uses = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.alias):
                name = node.name
            if name == "shield":
                uses.append(f"{path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}")
    assert len(list(SRC.rglob("*.py"))) > 20  # the scan saw the package
    assert uses == []
