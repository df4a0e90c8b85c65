"""One state machine per call: atomic claims, cancellation that is never lost, exact counts.

The hop lifecycle (queued -> running -> done, cancelled before start, or
abandoned) is driven directly and through the public bridge. Interleavings
are forced with events and barriers, never with sleeps.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime.bridge import _hop
from asgibridge._runtime.bridge._hop import ABANDONED, CANCELLED, DONE, QUEUED, RUNNING, Hop
from asgibridge.instrumentation import stats
from asgibridge.sync import sync_to_async

JOIN = 10.0


def _settled(loop: asyncio.AbstractEventLoop, hop: Hop) -> None:
    """Wait on the loop until the hop's outcome was delivered (run the loop once more)."""
    loop.run_until_complete(asyncio.sleep(0))


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _hop_of(loop: asyncio.AbstractEventLoop, func: Any) -> Hop:
    import contextvars

    return Hop(loop, contextvars.copy_context(), func, (), {}, None)


def test_a_hop_runs_queued_running_done(loop: asyncio.AbstractEventLoop) -> None:
    states: list[str] = []
    hop = _hop_of(loop, lambda: states.append(hop.state) or 7)
    assert hop.state == QUEUED
    hop.run()
    assert states == [RUNNING]
    assert hop.state == DONE
    assert loop.run_until_complete(hop.future) == 7


def test_given_up_before_start_it_never_runs_and_counts_once(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ran: list[bool] = []
    before = asgibridge.runtime_stats()["cancelled_before_start"]
    hop = _hop_of(loop, lambda: ran.append(True))
    assert hop.give_up() is True
    assert hop.give_up() is True  # idempotent: still cancelled, not counted twice
    hop.run()  # a worker that reaches it later skips it
    assert ran == []
    assert hop.state == CANCELLED
    assert asgibridge.runtime_stats()["cancelled_before_start"] == before + 1


def test_cancelling_the_future_claims_the_start(loop: asyncio.AbstractEventLoop) -> None:
    """task.cancel() cancels the awaited future synchronously: that alone must stop the run."""
    ran: list[bool] = []
    hop = _hop_of(loop, lambda: ran.append(True))
    hop.future.cancel()
    hop.run()
    assert ran == []
    assert hop.state == CANCELLED


def test_given_up_while_running_it_is_abandoned_once(loop: asyncio.AbstractEventLoop) -> None:
    inside = threading.Event()
    release = threading.Event()
    hop = _hop_of(loop, lambda: (inside.set(), release.wait(JOIN)))
    before = stats()
    worker = threading.Thread(target=hop.run)
    worker.start()
    assert inside.wait(JOIN)
    assert hop.state == RUNNING
    assert hop.give_up() is False  # too late: it runs on
    assert hop.give_up() is False
    assert hop.state == ABANDONED
    release.set()
    worker.join(JOIN)
    assert hop.state == ABANDONED  # the end was claimed by the giving-up side
    after = stats()
    assert after["abandoned_calls"] == before["abandoned_calls"] + 1
    name = next(iter(set(after["abandoned_by_function"]) - set(before["abandoned_by_function"])))
    assert name.endswith("<lambda>")


def test_fail_delivers_an_error_without_running(loop: asyncio.AbstractEventLoop) -> None:
    ran: list[bool] = []
    hop = _hop_of(loop, lambda: ran.append(True))
    hop.fail(RuntimeError("no thread"))
    hop.run()
    assert ran == []
    with pytest.raises(RuntimeError, match="no thread"):
        loop.run_until_complete(hop.future)


def test_concurrent_start_and_cancel_claims_are_exact(loop: asyncio.AbstractEventLoop) -> None:
    """Many hops, each raced by a worker and a canceller: each runs XOR is cancelled."""
    count = 300
    ran = [False] * count
    hops = [_hop_of(loop, lambda i=i: ran.__setitem__(i, True)) for i in range(count)]
    barrier = threading.Barrier(2)
    before = asgibridge.runtime_stats()["cancelled_before_start"]
    cancelled: list[bool] = []

    def runner() -> None:
        barrier.wait()
        for hop in hops:
            hop.run()

    def canceller() -> None:
        barrier.wait()
        for hop in hops:
            cancelled.append(hop.give_up())

    threads = [threading.Thread(target=runner), threading.Thread(target=canceller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    for i, hop in enumerate(hops):
        assert ran[i] != cancelled[i]  # never both, never neither
        assert hop.state in ((ABANDONED, DONE) if ran[i] else (CANCELLED,))
    after = asgibridge.runtime_stats()["cancelled_before_start"]
    assert after - before == cancelled.count(True)


@pytest.mark.asyncio
async def test_a_call_cancelled_while_queued_never_runs() -> None:
    """Cancel a call queued behind a busy worker, then free the worker: the victim never runs."""
    go = threading.Event()
    busy = threading.Event()
    victim_ran = threading.Event()

    def occupy() -> None:
        busy.set()
        go.wait(JOIN)

    first = asyncio.create_task(sync_to_async(occupy)())
    await asyncio.to_thread(busy.wait, JOIN)
    victim = asyncio.create_task(sync_to_async(victim_ran.set)())
    await asyncio.sleep(0)  # the victim's call is queued behind `occupy`
    victim.cancel()
    go.set()  # the worker is free before the victim task even sees its cancellation
    await first
    with pytest.raises(asyncio.CancelledError):
        await victim
    await sync_to_async(lambda: None)()  # everything queued before this has run
    assert not victim_ran.is_set()


@pytest.mark.asyncio
@pytest.mark.parametrize("queued", [True, False])
async def test_the_original_cancelled_error_propagates(queued: bool) -> None:
    """task.cancel("msg") keeps its message, whether the call was queued or running."""
    release = threading.Event()
    started = threading.Event()
    seen: list[tuple[Any, ...]] = []

    def blocking() -> None:
        started.set()
        release.wait(JOIN)

    async def awaiting() -> None:
        try:
            await sync_to_async(blocking)()
        except asyncio.CancelledError as exc:
            seen.append(exc.args)
            raise

    if queued:  # occupy the sync worker so the call stays queued
        hold = asyncio.create_task(sync_to_async(blocking)())
        await asyncio.to_thread(started.wait, JOIN)
    task = asyncio.create_task(awaiting())
    if not queued:
        await asyncio.to_thread(started.wait, JOIN)
    else:
        await asyncio.sleep(0)
    task.cancel("my message")
    with pytest.raises(asyncio.CancelledError) as outer:
        await task
    release.set()
    if queued:
        await hold
    if sys.version_info >= (3, 11):  # 3.10 drops messages between task and awaiter
        assert seen == [("my message",)]
        assert outer.value.args == ("my message",)


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_the_callers_exception_is_shown_but_its_traceback_is_never_rewritten(
    thread_sensitive: bool,
) -> None:
    """The callee sees the caller's exception; no thread but the caller's touches its traceback."""
    seen: list[Any] = []

    def look() -> None:
        handled = sys.exc_info()[1]
        seen.append((handled, handled.__traceback__ if handled is not None else None))

    caught: list[Any] = []
    try:
        raise ValueError("being handled")
    except ValueError as exc:
        caught.extend([exc, exc.__traceback__, traceback.extract_tb(exc.__traceback__)])
        await sync_to_async(look, thread_sensitive=thread_sensitive)()
    exc, tb, frames = caught
    assert seen == [(exc, tb)]  # during the call too: the very same traceback object
    assert exc.__traceback__ is tb
    assert traceback.extract_tb(exc.__traceback__) == frames


class _Job:
    """A callable object whose repr raises (a lazy proxy)."""

    def __init__(self, release: threading.Event, started: threading.Event) -> None:
        self.release = release
        self.started = started

    def __repr__(self) -> str:
        raise RuntimeError("repr of Job exploded")

    def __call__(self) -> str:
        self.started.set()
        self.release.wait(JOIN)
        return "done"


@pytest.mark.asyncio
async def test_a_raising_repr_never_changes_the_outcome_and_names_come_from_the_type() -> None:
    release, started = threading.Event(), threading.Event()
    job = _Job(release, started)
    before = stats()["abandoned_by_function"]
    task = asyncio.create_task(sync_to_async(job)())
    await asyncio.to_thread(started.wait, JOIN)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    after = stats()["abandoned_by_function"]
    key = f"{__name__}._Job"
    assert after.get(key, 0) == before.get(key, 0) + 1
    await sync_to_async(lambda: None)()  # the job has finished on the worker


def test_the_hop_module_keeps_one_class() -> None:
    """The lifecycle lives in one class: no subclasses for tracing or tasks."""
    assert not Hop.__subclasses__()
    assert {"state", "give_up", "run", "fail", "settle"} <= set(dir(_hop.Hop))


@pytest.mark.usefixtures("hang_raise")
def test_an_abandoned_async_to_sync_call_carries_no_context_back() -> None:
    """The caller gave up (hang deadline): the coroutine's context changes stay with it."""
    import contextvars

    from asgibridge.exceptions import BridgeDeadlockError
    from asgibridge.sync import async_to_sync

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller")
    release: list[asyncio.Event] = []
    outcome: list[Any] = []

    async def half_done() -> None:
        var.set("half-done")
        event = asyncio.Event()
        release.append(event)
        await event.wait()

    def caller() -> None:
        try:
            async_to_sync(half_done)()
        except BridgeDeadlockError as exc:
            outcome.append(exc)
        outcome.append(var.get())

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(JOIN)
    assert isinstance(outcome[0], BridgeDeadlockError)
    assert outcome[1] == "caller"
