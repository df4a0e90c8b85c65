"""A cancelled sync_to_async must not hand its caller the context of a call still running.

Issue 17, section 7: under load, Django's ``ASGIHandler.handle`` sometimes
failed with ``ExecutorGoneError`` in ``request_finished`` (its
``Signal.asend`` makes a thread-sensitive sync_to_async call). The
interleaving, reproduced here step by step with events (no sleeps):

1. the request task, inside its ThreadSensitiveContext, awaits a sync view
   (thread-sensitive sync_to_async, on the context's thread);
2. the view calls ``async_to_sync(channel_layer.group_send)``: the bridge
   publishes that thread's new CurrentThreadExecutor in the view's context
   (``current_executor``), and ``group_send`` sends thread-sensitive work back
   to the view's thread, which serves it;
3. the client disconnects: Django's ``listen_for_disconnect`` raises
   ``RequestAborted`` and its TaskGroup cancels the request task. The bridge
   forwards the cancellation to ``group_send``, whose task ends, and that
   executor stops serving. The view's thread is still busy, so the view is
   abandoned while it still runs in its context, inside async_to_sync;
4. the request task's ``sync_to_async`` copied the view's context back into
   the request task anyway, ``current_executor`` (the finished executor)
   included, so Django's ``request_finished`` was sent to that executor,
   which refused it: ``ExecutorGoneError``, and ``close_old_connections``
   never ran.

The fix: an abandoned call's context changes are dropped with its outcome
(nothing is carried back from a context still in use on another thread).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest

from asgibridge.instrumentation import add_hop_listener
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

WAIT = 10.0  # seconds a held sync function blocks at most (a broken test still ends)


@pytest.fixture(params=["plain", "traced"])
def bridge_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run each test on the plain bridge path and on the traced one (a hop listener)."""
    if request.param == "plain":
        yield "plain"
        return
    with add_hop_listener(on_start=lambda info: None, on_end=lambda info, state: None):
        yield "traced"


@pytest.mark.asyncio
async def test_request_finished_after_a_disconnect_runs_on_the_request_thread(
    bridge_path: str,
) -> None:
    """Django's disconnect path: request_finished runs on the request's thread, no error.

    The request task is cancelled while its sync view waits in async_to_sync
    for work that runs back on the view's thread (held there by an event); the
    next thread-sensitive call of the request task must go to the request's
    ThreadSensitiveContext thread (the view's), not to the finished executor.
    """
    loop = asyncio.get_running_loop()
    serving_back = asyncio.Event()  # group_send's work runs on the view's thread
    hold = threading.Event()  # keeps it there, so the view stays inside async_to_sync
    threads: dict[str, int] = {}

    def held_on_view_thread() -> None:
        threads["group_send work"] = threading.get_ident()
        loop.call_soon_threadsafe(serving_back.set)
        hold.wait(WAIT)

    async def group_send() -> None:
        await sync_to_async(held_on_view_thread)()

    def view() -> str:
        threads["view"] = threading.get_ident()
        async_to_sync(group_send)()
        return "response"

    def request_finished() -> None:
        threads["request_finished"] = threading.get_ident()

    request_cancelled = asyncio.Event()

    async def handle() -> str:
        async with ThreadSensitiveContext():
            try:
                await sync_to_async(view)()
            except asyncio.CancelledError:
                # Django's TaskGroup turns the disconnect into RequestAborted and
                # goes on with ``response is None``. The view was still held
                # inside async_to_sync when the cancellation reached this task.
                request_cancelled.set()
            hold.set()  # the abandoned view may end; its thread serves this task next
            await sync_to_async(request_finished)()
            return "finished"

    request = asyncio.create_task(handle())
    try:
        await serving_back.wait()
        request.cancel()  # the disconnect
        assert await request == "finished"
    finally:
        hold.set()
    assert request_cancelled.is_set()
    assert threads["group_send work"] == threads["view"]
    assert threads["request_finished"] == threads["view"]


@pytest.mark.asyncio
async def test_abandoned_call_context_is_not_carried_back(bridge_path: str) -> None:
    """A value set by a sync function still running when its caller was cancelled stays there.

    Carrying back reads the callee's context while its function still runs in
    it on another thread: a half-done state. The cancelled caller keeps its own.
    """
    loop = asyncio.get_running_loop()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("race_probe", default="caller")
    set_in_callee = asyncio.Event()
    hold = threading.Event()

    def callee() -> None:
        var.set("half-done")
        loop.call_soon_threadsafe(set_in_callee.set)
        hold.wait(WAIT)

    async def caller() -> str:
        try:
            await sync_to_async(callee)()
        except asyncio.CancelledError:
            pass
        return var.get()

    task = asyncio.create_task(caller())
    try:
        await set_in_callee.wait()
        task.cancel()
        seen = await task
    finally:
        hold.set()
    await sync_to_async(lambda: None)()  # the abandoned callee has returned
    assert seen == "caller"


@pytest.mark.asyncio
async def test_finished_call_context_is_still_carried_back(bridge_path: str) -> None:
    """The fix keeps carry-back for a call that ended, also after its caller was cancelled.

    The cancellation reaches the async work the sync function waits on, which
    swallows it; the function returns, so its result and its context changes
    reach the caller (asyncio's semantics for a coroutine that catches it).
    """
    loop = asyncio.get_running_loop()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("race_probe2", default="caller")
    inner_waiting = asyncio.Event()

    async def swallows() -> str:
        inner_waiting.set()
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            return "swallowed"
        raise AssertionError("unreachable")  # pragma: no cover

    def callee() -> str:
        var.set("callee")
        return async_to_sync(swallows)()

    async def caller() -> tuple[str, str]:
        result = await sync_to_async(callee)()
        return result, var.get()

    task = asyncio.create_task(caller())
    await inner_waiting.wait()
    task.cancel()
    assert await task == ("swallowed", "callee")
