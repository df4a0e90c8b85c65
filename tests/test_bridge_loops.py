"""Persistent loops for async_to_sync from plain threads, and fork.

A plain thread's async_to_sync calls share one loop on one loop thread
(asgiref starts a new thread and loop per call). What a call leaves running is
cancelled at its end, as ``asyncio.run`` does; a nested ``force_new_loop`` call
gets a loop of its own so it cannot cancel the outer call's tasks. The loop
thread goes away when its calling thread dies or when it idles past
``loop_idle_timeout``. After ``os.fork()`` the child rebuilds everything.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from subprocesses import fork_and_check

JOIN = 10.0


async def where() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    return asyncio.get_running_loop(), threading.current_thread()


def in_plain_thread(fn: Callable[[], Any]) -> Any:
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.fixture
def short_loop_idle() -> Iterator[None]:
    previous = asgibridge.configure(loop_idle_timeout=0.05)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


# -- reuse ---------------------------------------------------------------------


def test_calls_from_one_thread_share_a_loop_and_its_thread() -> None:
    def two_calls() -> tuple[Any, Any]:
        return async_to_sync(where)(), async_to_sync(where)()

    (loop1, thread1), (loop2, thread2) = in_plain_thread(two_calls)
    assert loop1 is loop2
    assert thread1 is thread2


def test_different_calling_threads_get_different_loops() -> None:
    (loop_a, thread_a) = in_plain_thread(async_to_sync(where))
    (loop_b, thread_b) = in_plain_thread(async_to_sync(where))
    assert loop_a is not loop_b
    assert thread_a is not thread_b


def test_loop_thread_is_not_the_calling_thread() -> None:
    _, loop_thread = async_to_sync(where)()
    assert loop_thread is not threading.current_thread()
    assert asgibridge.runtime_stats()["loop_threads"] >= 1


# -- what a call leaves running ------------------------------------------------------


def test_tasks_left_running_are_cancelled_at_the_end_of_the_call() -> None:
    cleaned_up: list[str] = []

    async def leaves_a_task() -> asyncio.Task[None]:
        async def forever() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cleaned_up.append("finally ran")

        task = asyncio.ensure_future(forever())
        await asyncio.sleep(0)  # let it start
        return task

    task = async_to_sync(leaves_a_task)()
    # Already done when async_to_sync returned: the cancellation was awaited.
    assert cleaned_up == ["finally ran"]
    assert task.cancelled()


def test_force_new_loop_nested_call_does_not_cancel_the_outer_calls_tasks() -> None:
    async def nested() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def sync_middle() -> asyncio.AbstractEventLoop:
        # Runs on the plain thread (thread-sensitive, blocked caller) whose own
        # persistent loop is busy with the outer call.
        return async_to_sync(nested, force_new_loop=True)()

    async def outer() -> tuple[bool, str, bool]:
        proceed = asyncio.Event()

        async def background() -> str:
            await proceed.wait()
            return "background finished"

        task = asyncio.ensure_future(background())
        await asyncio.sleep(0)
        nested_loop = await sync_to_async(sync_middle)()
        survived = not task.done()
        proceed.set()
        return survived, await task, nested_loop is asyncio.get_running_loop()

    survived, result, same_loop = in_plain_thread(async_to_sync(outer))
    assert survived
    assert result == "background finished"
    assert not same_loop


def test_nested_async_to_sync_without_force_new_loop_uses_the_outer_loop() -> None:
    async def nested() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def sync_middle() -> asyncio.AbstractEventLoop:
        return async_to_sync(nested)()

    async def outer() -> bool:
        return await sync_to_async(sync_middle)() is asyncio.get_running_loop()

    assert in_plain_thread(async_to_sync(outer))


# -- reaping ---------------------------------------------------------------------------


def test_loop_thread_ends_when_the_calling_thread_ends() -> None:
    before = asgibridge.runtime_stats()["loop_threads"]
    _, loop_thread = in_plain_thread(async_to_sync(where))
    # The calling thread has been joined; its thread-local owner is gone, so the
    # loop thread stops by itself (no shutdown() involved).
    loop_thread.join(JOIN)
    assert not loop_thread.is_alive()
    assert asgibridge.runtime_stats()["loop_threads"] == before


@pytest.mark.usefixtures("short_loop_idle")
def test_loop_thread_ends_when_idle_and_a_new_one_serves_the_next_call() -> None:
    before = asgibridge.runtime_stats()["loop_threads"]
    loop, loop_thread = async_to_sync(where)()
    assert asgibridge.runtime_stats()["loop_threads"] == before + 1
    loop_thread.join(JOIN)  # returns once the idle timeout reaped it
    assert not loop_thread.is_alive()
    assert loop.is_closed()
    assert asgibridge.runtime_stats()["loop_threads"] == before
    new_loop, new_thread = async_to_sync(where)()
    assert new_loop is not loop
    assert new_thread is not loop_thread


@pytest.mark.usefixtures("short_loop_idle")
def test_busy_loop_is_not_reaped_mid_call() -> None:
    async def outlasts_the_idle_timeout() -> tuple[str, asyncio.AbstractEventLoop]:
        # Four idle periods on the loop's own clock: the idle check runs several
        # times during the call and must see the call in progress.
        await asyncio.sleep(0.2)
        return "completed", asyncio.get_running_loop()

    result, _ = async_to_sync(outlasts_the_idle_timeout)()
    assert result == "completed"


def test_shutdown_stops_loops_and_a_later_call_still_works() -> None:
    loop, loop_thread = async_to_sync(where)()
    assert asgibridge.shutdown(timeout=JOIN) == []
    assert not loop_thread.is_alive()
    new_loop, _ = async_to_sync(where)()
    assert new_loop is not loop


# -- fork ----------------------------------------------------------------------------


async def child_sync_to_async() -> threading.Thread:
    return await sync_to_async(threading.current_thread)()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_state_made_before_fork_does_not_leak_into_the_child() -> None:
    parent_loop, parent_loop_thread = async_to_sync(where)()
    parent_sync_thread = asyncio.run(child_sync_to_async())
    assert asgibridge.runtime_stats()["loop_threads"] >= 1

    def child() -> int:
        if asgibridge.runtime_stats()["loop_threads"] != 0:
            return 1
        loop, loop_thread = async_to_sync(where)()
        if loop is parent_loop or loop_thread is parent_loop_thread:
            return 2
        if asyncio.run(child_sync_to_async()) is parent_sync_thread:
            return 3
        if async_to_sync(where)()[0] is not loop:  # the child's loop persists too
            return 4
        return 0

    assert fork_and_check(child) == 0


async def pool_and_sticky_threads() -> tuple[threading.Thread, threading.Thread]:
    async def bounded() -> tuple[threading.Thread, threading.Thread]:
        pool = await sync_to_async(threading.current_thread, thread_sensitive=False)()
        async with ThreadSensitiveContext():
            sticky = await sync_to_async(threading.current_thread)()
        return pool, sticky

    # Bounded so that a call queued to a thread of the parent fails instead of hanging.
    return await asyncio.wait_for(bounded(), JOIN)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_pool_and_sticky_threads_made_before_fork_are_not_used_in_the_child() -> None:
    parent_pool, parent_sticky = asyncio.run(pool_and_sticky_threads())
    stats = asgibridge.runtime_stats()
    assert stats["pool_threads"] >= 1
    assert stats["sticky_threads"] >= 1

    def child() -> int:
        stats = asgibridge.runtime_stats()
        if stats["pool_threads"] or stats["sticky_threads"]:
            return 1
        try:
            pool, sticky = asyncio.run(pool_and_sticky_threads())
        except asyncio.TimeoutError:
            return 2
        if pool is parent_pool or sticky is parent_sticky:
            return 3
        return 0 if pool.is_alive() and sticky.is_alive() else 4

    assert fork_and_check(child) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.asyncio
async def test_fork_inside_a_sync_to_async_worker() -> None:
    # The forking thread's "outer loop" belongs to the parent: in the child,
    # async_to_sync must not wait on it (it would hang forever).
    outer_loop = asyncio.get_running_loop()

    def worker() -> int:
        def child() -> int:
            loop, _ = async_to_sync(where)()
            return 0 if loop is not outer_loop else 5

        return fork_and_check(child)

    assert await sync_to_async(worker)() == 0


# -- the coroutine's environment -------------------------------------------------------


def test_coroutine_runs_as_a_task_so_asyncio_timeouts_work() -> None:
    async def inside() -> bool:
        task = asyncio.current_task()
        try:
            await asyncio.wait_for(asyncio.Event().wait(), 0.01)
        except asyncio.TimeoutError:
            return task is not None
        return False

    assert async_to_sync(inside)() is True


def test_wrapper_built_inside_a_loop_works_after_that_loop_stopped() -> None:
    async def answer() -> int:
        return 42

    holder: dict[str, Callable[[], int]] = {}

    async def build() -> None:
        holder["fn"] = async_to_sync(answer)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(build())
        assert not loop.is_running()
        assert in_plain_thread(holder["fn"]) == 42
    finally:
        loop.close()


def test_many_plain_threads_each_get_a_working_loop_and_all_are_reaped() -> None:
    before = asgibridge.runtime_stats()["loop_threads"]
    count = 10
    barrier = threading.Barrier(count, timeout=JOIN)
    results: list[tuple[asyncio.AbstractEventLoop, threading.Thread]] = []
    lock = threading.Lock()

    def caller() -> None:
        barrier.wait()  # all calls overlap
        outcome = async_to_sync(where)()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=caller) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert len(results) == count
    assert len({loop for loop, _ in results}) == count
    for _, loop_thread in results:
        loop_thread.join(JOIN)  # each stops once its calling thread is gone
        assert not loop_thread.is_alive()
    assert asgibridge.runtime_stats()["loop_threads"] == before


# -- runtime controls --------------------------------------------------------------------


def test_configure_returns_previous_values_and_rejects_unknown_options() -> None:
    previous = asgibridge.configure(loop_idle_timeout=12.5)
    try:
        assert asgibridge.configure(loop_idle_timeout=12.5) == {"loop_idle_timeout": 12.5}
    finally:
        asgibridge.configure(**previous)
    with pytest.raises(TypeError, match="no_such_option"):
        asgibridge.configure(no_such_option=1)


def test_runtime_stats_keys() -> None:
    stats = asgibridge.runtime_stats()
    assert {"abandoned_calls", "loop_threads", "pool_threads", "sticky_threads"} <= set(stats)
    assert all(isinstance(value, int) and value >= 0 for value in stats.values())


@pytest.mark.asyncio
async def test_shutdown_names_a_busy_thread_instead_of_waiting_forever() -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    release = threading.Event()

    def busy() -> str:
        loop.call_soon_threadsafe(started.set)
        release.wait(JOIN)
        return threading.current_thread().name

    task = asyncio.ensure_future(sync_to_async(busy, thread_sensitive=False)())
    await started.wait()
    still_running = asgibridge.shutdown(timeout=0.01)
    release.set()
    name = await task
    assert name in still_running
    # A call after shutdown builds fresh threads.
    assert await sync_to_async(lambda: 1, thread_sensitive=False)() == 1


def child_runs_thread_sensitive_work() -> int:
    """In a forked child: a thread-sensitive call must run, not wait on a parent's thread."""

    async def call() -> threading.Thread:
        # Bounded so that the bugs below fail fast instead of hanging the child.
        return await asyncio.wait_for(sync_to_async(threading.current_thread)(), 2)

    try:
        asyncio.run(call())
    except asyncio.TimeoutError:
        return 6  # hung: queued to a thread that does not exist in the child
    except Exception:
        return 7  # e.g. a deadlock error about a thread of the parent
    return 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.asyncio
async def test_fork_inside_a_worker_then_thread_sensitive_work_in_the_child() -> None:
    assert await sync_to_async(fork_and_check)(child_runs_thread_sensitive_work) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.asyncio
@pytest.mark.parametrize("fork_from", ["loop-thread", "context-thread"])
async def test_fork_inside_a_thread_sensitive_context(fork_from: str) -> None:
    async with ThreadSensitiveContext():
        await sync_to_async(threading.current_thread)()
        if fork_from == "loop-thread":
            status = fork_and_check(child_runs_thread_sensitive_work)
        else:
            status = await sync_to_async(fork_and_check)(child_runs_thread_sensitive_work)
    assert status == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_from_a_coroutine_run_by_async_to_sync() -> None:
    async def forks() -> int:
        return fork_and_check(child_runs_thread_sensitive_work)

    assert async_to_sync(forks)() == 0
