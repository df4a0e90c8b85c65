"""``shutdown()`` is safe at any time, from any thread, any number of times; loops are kept honest.

A shutdown is forced at exact points of a call (from hop listeners, which run
after the target is chosen, inside the function, and after it returned),
from other threads, from inside a worker, and while an async_to_sync call
runs on a persistent loop. Loop bookkeeping (idle reaping, async generator
finalization, leftover tasks) is driven with a fake clock and events.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime import _state
from asgibridge._runtime.threads import _loops
from asgibridge.instrumentation import add_hop_listener
from asgibridge.sync import AsyncSingleThreadContext, async_to_sync, sync_to_async

JOIN = 10.0


def _shutdown_elsewhere() -> list[str]:
    left: list[str] = []
    # A short join deadline: the thread running this call is busy by design.
    thread = threading.Thread(target=lambda: left.extend(asgibridge.shutdown(0.1)))
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    return left


@pytest.mark.parametrize("point", ["submitted", "running", "ended"])
@pytest.mark.parametrize("thread_sensitive", [True, False])
def test_shutdown_at_any_point_of_a_call_never_strands_it(
    point: str, thread_sensitive: bool
) -> None:
    """The call completes whether shutdown() runs before queueing, while it runs, or after."""
    armed = threading.Event()

    def on_start(info: Any) -> None:  # after the target was chosen, before queueing
        if point == "submitted" and armed.is_set():
            armed.clear()
            _shutdown_elsewhere()

    def on_end(info: Any, state: Any) -> None:  # on the worker, before delivery
        if point == "ended" and armed.is_set():
            armed.clear()
            _shutdown_elsewhere()

    def work() -> str:
        if point == "running" and armed.is_set():
            armed.clear()
            _shutdown_elsewhere()
        return "done"

    async def main() -> str:
        assert await sync_to_async(lambda: "warm", thread_sensitive=thread_sensitive)() == "warm"
        with add_hop_listener(on_start, on_end):
            armed.set()
            return await asyncio.wait_for(
                sync_to_async(work, thread_sensitive=thread_sensitive)(), JOIN
            )

    assert asyncio.run(main()) == "done"
    assert not armed.is_set()  # the shutdown really happened at that point


def test_shutdown_from_inside_a_sync_function_returns() -> None:
    """shutdown() on a worker thread does not join itself and the call still returns."""

    async def main() -> list[str]:
        return await asyncio.wait_for(sync_to_async(asgibridge.shutdown)(1.0), JOIN)

    left = asyncio.run(main())
    assert all(name.startswith("asgibridge-sync-") for name in left)


def test_concurrent_repeated_shutdowns_and_calls() -> None:
    """Several threads call shutdown() repeatedly while calls go on: no error, no hang."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def shutter() -> None:
        while not stop.is_set():
            try:
                asgibridge.shutdown(1.0)
            except BaseException as exc:  # pragma: no cover - the failure being tested
                errors.append(exc)
                return

    async def calls() -> list[int]:
        results = []
        for i in range(60):
            results.append(await asyncio.wait_for(sync_to_async(lambda i=i: i)(), JOIN))
            results.append(
                await asyncio.wait_for(
                    sync_to_async(lambda i=i: i, thread_sensitive=False)(), JOIN
                )
            )
        return results

    threads = [threading.Thread(target=shutter) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        results = asyncio.run(calls())
    finally:
        stop.set()
        for thread in threads:
            thread.join(JOIN)
    assert errors == []
    assert results == [i for i in range(60) for _ in range(2)]


def test_shutdown_leaves_a_running_async_to_sync_call_alone_and_starts_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = threading.Event()
    proceed: list[asyncio.Event] = []
    outcome: list[Any] = []

    async def work() -> str:
        event = asyncio.Event()
        proceed.append(event)
        started.set()
        await event.wait()
        return "done"

    def caller() -> None:
        try:
            outcome.append(async_to_sync(work)())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller, name="caller")
    thread.start()
    assert started.wait(JOIN)
    new_threads: list[str] = []
    real_start = threading.Thread.start

    def recording_start(self: threading.Thread) -> None:
        new_threads.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    left = asgibridge.shutdown(0.2)
    monkeypatch.setattr(threading.Thread, "start", real_start)
    assert new_threads == []
    assert any("async_to_sync for caller" in name for name in left)  # busy: named, not killed
    (loop_thread,) = [lt for lt in _state.loop_threads if "caller" in lt.thread.name]
    loop_thread.loop.call_soon_threadsafe(proceed[0].set)
    thread.join(JOIN)
    assert outcome == ["done"]
    loop_thread.thread.join(JOIN)  # the deferred stop happened when the call released it
    assert not loop_thread.thread.is_alive()


def test_after_shutdown_the_runtime_starts_again_lazily() -> None:
    async def answer() -> int:
        return (
            await sync_to_async(lambda: 5)()
            + await sync_to_async(lambda: 6, thread_sensitive=False)()
        )

    assert async_to_sync(answer)() == 11
    assert asgibridge.shutdown() == []
    assert asgibridge.runtime_stats()["pool_threads"] == 0
    assert async_to_sync(answer)() == 11


# -- leftover tasks ---------------------------------------------------------------------


def test_a_leftover_task_that_ignores_cancellation_gets_a_bounded_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    previous = asgibridge.configure(leftover_timeout=0.2)
    release = threading.Event()
    results: list[Any] = []

    async def stubborn_leftover() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # ignores every cancellation

    async def main() -> int:
        asyncio.get_running_loop().create_task(stubborn_leftover(), name="stubborn-task")
        await asyncio.sleep(0)
        return 42

    async def quick() -> int:
        return 7

    def caller() -> None:
        results.append(async_to_sync(main)())
        results.append(async_to_sync(quick)())  # the stubborn task is not waited for again

    try:
        with caplog.at_level(logging.WARNING, logger="asgibridge"):
            thread = threading.Thread(target=caller)
            thread.start()
            thread.join(JOIN)
        assert results == [42, 7]
        warnings = [r.getMessage() for r in caplog.records if "stubborn-task" in r.getMessage()]
        assert len(warnings) == 1
        assert "stubborn_leftover" in warnings[0]
        assert asgibridge.runtime_stats()["leftover_tasks"] >= 1
    finally:
        release.set()
        asgibridge.configure(**previous)


# -- loop bookkeeping (each test kills a mutant of the loop code) -------------------------


def test_an_async_generator_left_on_a_persistent_loop_is_finalized_when_the_loop_stops() -> None:
    finalized = threading.Event()
    holder: list[AsyncIterator[int]] = []

    async def agen() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            finalized.set()

    async def start() -> int:
        gen = agen()
        holder.append(gen)  # kept alive: only the loop's shutdown can finalize it
        return await gen.__anext__()

    called = threading.Event()
    leave = threading.Event()

    def caller() -> None:
        assert async_to_sync(start)() == 1
        called.set()
        leave.wait(JOIN)  # alive: its loop is stopped by shutdown(), not by its death

    thread = threading.Thread(target=caller)
    thread.start()
    assert called.wait(JOIN)
    assert not finalized.is_set()
    asgibridge.shutdown()
    assert finalized.is_set()
    leave.set()
    thread.join(JOIN)


def test_idle_reaping_counts_from_the_last_call_not_from_the_loops_creation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(_loops, "_clock", lambda: now[0])
    previous = asgibridge.configure(loop_idle_timeout=10.0)
    loops: list[Any] = []

    async def grab() -> None:
        loops.append(asyncio.get_running_loop())

    def check_idle(loop_thread: Any) -> bool:
        done = threading.Event()

        def run() -> None:
            loop_thread._check_idle()
            done.set()

        loop_thread.loop.call_soon_threadsafe(run)
        assert done.wait(JOIN)
        return bool(loop_thread.stopping)

    def caller() -> None:
        async_to_sync(grab)()  # the loop is made at t=1000
        now[0] += 9.0
        async_to_sync(grab)()  # used at t=1009
        now[0] += 9.0  # t=1018: 18 s after creation, 9 s after the last call
        (loop_thread,) = [lt for lt in _state.loop_threads if lt.loop is loops[0]]
        loops.append(check_idle(loop_thread))
        now[0] += 2.0  # t=1020: 11 s idle
        loops.append(check_idle(loop_thread))

    try:
        thread = threading.Thread(target=caller)
        thread.start()
        thread.join(JOIN)
    finally:
        asgibridge.configure(**previous)
    assert loops[2:] == [False, True]


def test_a_retiring_idle_worker_stays_when_a_submitter_just_picked_it() -> None:
    """The race between an idle timeout and a submit: the picked worker must not exit."""
    from asgibridge._runtime.threads._workers import WorkerPool

    pool = WorkerPool(2)
    ran = threading.Event()
    pool.submit(_Item(threading.Event()))
    (worker,) = pool.workers
    # Wait until it is idle (on the idle stack), as a submitter would find it.
    for _ in range(1000):
        with pool._lock:
            if worker in pool._idle:
                picked = pool._idle.pop()  # a submitter takes it ...
                break
        threading.Event().wait(0.001)
    assert picked is worker
    assert pool.retire(worker) is False  # ... so its timed-out wait must not retire it
    assert worker in pool.workers
    worker.submit(_Item(ran))
    assert ran.wait(JOIN)
    pool.stop_idle()
    worker.thread.join(JOIN)


class _Item:
    def __init__(self, ran: threading.Event) -> None:
        self.ran = ran

    def run(self) -> None:
        self.ran.set()

    def fail(self, exc: BaseException) -> None:  # pragma: no cover
        raise AssertionError(exc)


def test_an_async_single_thread_context_keeps_its_loop_however_idle() -> None:
    previous = asgibridge.configure(loop_idle_timeout=0.01)
    seen: list[Any] = []

    async def first() -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_soon(fut.set_result, "kept")
        seen.extend([loop, threading.current_thread(), fut])

    async def second() -> str:
        assert asyncio.get_running_loop() is seen[0]
        return str(await seen[2])

    try:
        with AsyncSingleThreadContext():
            async_to_sync(first)()
            seen[1].join(0.3)  # idle far longer than loop_idle_timeout; ends early only if reaped
            assert seen[1].is_alive()
            assert async_to_sync(second)() == "kept"
    finally:
        asgibridge.configure(**previous)


# -- nothing leaked ---------------------------------------------------------------------


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def test_500_short_lived_calling_threads_leave_threads_and_fds_where_they_were() -> None:
    """Each calling thread's persistent loop ends with it: no thread, loop or fd left."""

    async def answer() -> int:
        return 1

    async_to_sync(answer)()  # the main thread's own loop exists before we count
    # Descriptors of earlier tests' objects (a finished thread's wake-up socket pair,
    # see `_inbox`) may be waiting for a collection: free them before counting.
    gc.collect()
    threads_before = threading.active_count()
    fds_before = _open_fds()
    results: list[int] = []
    for _ in range(50):  # 10 callers at a time, 500 in all
        batch = [
            threading.Thread(target=lambda: results.append(async_to_sync(answer)()))
            for _ in range(10)
        ]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join(JOIN)
    assert results == [1] * 500
    for loop_thread in [lt for lt in list(_state.loop_threads) if "Thread-" in lt.thread.name]:
        loop_thread.thread.join(JOIN)  # each stops once its calling thread is gone
    assert threading.active_count() == threads_before
    # No more than before: each caller's wake-up socket pair goes with its thread
    # (a leak would be 1,000 descriptors). Fewer is fine: an earlier test's object
    # may have let its descriptors go meanwhile.
    gc.collect()
    assert _open_fds() <= fds_before


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_an_iterator_dropped_without_aclose_gives_its_thread_back(
    thread_sensitive: bool,
) -> None:
    from asgibridge.iterators import sync_iter_to_async

    closed = threading.Event()

    def numbers() -> Any:
        try:
            yield from range(100)
        finally:
            closed.set()

    agen = sync_iter_to_async(numbers(), thread_sensitive=thread_sensitive, buffer=2)
    assert await agen.__anext__() == 0
    del agen  # dropped: the loop's async generator finalizer closes it
    await asyncio.sleep(0)
    assert await asyncio.to_thread(closed.wait, JOIN)
    # Its thread serves the next call (the sync worker, or a pool thread).
    assert await sync_to_async(lambda: 5, thread_sensitive=thread_sensitive)() == 5


def test_a_new_persistent_loop_is_born_leased_so_idling_cannot_reap_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The machine stalls between a loop's start and its first call; an idle check runs there."""
    now = [1000.0]
    monkeypatch.setattr(_loops, "_clock", lambda: now[0])
    real_owner = _loops._Owner

    class StallingOwner(real_owner):  # type: ignore[misc,valid-type]
        # Made right after the loop thread started, before the call is scheduled.
        def __init__(self, loop_thread: Any) -> None:
            super().__init__(loop_thread)
            now[0] += 3600.0  # far past loop_idle_timeout
            done = threading.Event()

            def check() -> None:
                loop_thread._check_idle()
                done.set()

            loop_thread.loop.call_soon_threadsafe(check)
            assert done.wait(JOIN)

    monkeypatch.setattr(_loops, "_Owner", StallingOwner)

    async def answer() -> int:
        return 7

    outcome: list[Any] = []

    def caller() -> None:
        try:
            outcome.append(async_to_sync(answer)())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(JOIN)
    assert outcome == [7]
