"""ThreadSensitiveContext (async) and AsyncSingleThreadContext (sync).

ThreadSensitiveContext: the thread-sensitive calls inside it share a thread
leased from a pool of sticky threads, handed back at exit without blocking the
loop; nothing is started if the block makes no sync call; ``executor=`` routes
one block and refuses reuse. AsyncSingleThreadContext: the async_to_sync calls
inside it share one loop thread of their own, stopped at exit.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import asgibridge
from asgibridge.exceptions import ThreadSensitiveContextError
from asgibridge.sync import (
    AsyncSingleThreadContext,
    ThreadSensitiveContext,
    async_to_sync,
    sync_to_async,
)

WAIT = 10.0


def current() -> threading.Thread:
    return threading.current_thread()


# -- ThreadSensitiveContext ------------------------------------------------------


@pytest.mark.asyncio
async def test_context_without_sync_work_starts_no_thread() -> None:
    before = set(threading.enumerate())
    async with ThreadSensitiveContext():
        await asyncio.sleep(0)
    assert set(threading.enumerate()) == before
    assert asgibridge.runtime_stats()["sticky_threads"] == 0


@pytest.mark.asyncio
async def test_context_returns_itself_and_concurrent_tasks_share_its_thread() -> None:
    async with ThreadSensitiveContext() as context:
        assert isinstance(context, ThreadSensitiveContext)
        threads = await asyncio.gather(*(sync_to_async(current)() for _ in range(5)))
    assert len(set(threads)) == 1
    assert threads[0] is not current()


@pytest.mark.asyncio
async def test_context_exit_does_not_wait_for_its_busy_thread() -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    release = threading.Event()
    finished = threading.Event()

    def busy() -> None:
        loop.call_soon_threadsafe(started.set)
        release.wait(WAIT)
        finished.set()

    async with ThreadSensitiveContext():
        task = asyncio.ensure_future(sync_to_async(busy)())
        await started.wait()
    # The block has exited while its thread still runs `busy`.
    assert not finished.is_set()
    release.set()
    await task
    assert finished.is_set()


@pytest.mark.asyncio
async def test_sequential_contexts_reuse_pooled_threads() -> None:
    seen = []
    for _ in range(20):
        async with ThreadSensitiveContext():
            seen.append(await sync_to_async(current)())
    # asgiref starts a thread per context; here threads go back to a pool.
    assert len(set(seen)) < len(seen)
    assert asgibridge.runtime_stats()["sticky_threads"] < len(seen)


@pytest.mark.asyncio
async def test_context_with_executor_cannot_be_entered_twice() -> None:
    with ThreadPoolExecutor(1) as executor:
        context = ThreadSensitiveContext(executor=executor)
        async with context:
            with pytest.raises(ThreadSensitiveContextError) as info:
                async with context:
                    pass
        assert isinstance(info.value, RuntimeError)
        assert info.value.args[0] == "ThreadSensitiveContext is already entered"
        with pytest.raises(RuntimeError, match="cannot be entered again"):
            async with context:
                pass


@pytest.mark.asyncio
async def test_task_outliving_a_context_with_executor_is_refused() -> None:
    proceed = asyncio.Event()

    async def straggler() -> None:
        await proceed.wait()
        await sync_to_async(current)()

    with ThreadPoolExecutor(1) as executor:
        async with ThreadSensitiveContext(executor=executor):
            task = asyncio.ensure_future(straggler())
        proceed.set()
        with pytest.raises(ThreadSensitiveContextError, match="has exited"):
            await task


@pytest.mark.asyncio
async def test_executor_of_a_context_is_not_shut_down_at_exit() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="owned") as executor:
        async with ThreadSensitiveContext(executor=executor):
            await sync_to_async(current)()
        assert executor.submit(current).result(WAIT).name.startswith("owned")


# -- AsyncSingleThreadContext ------------------------------------------------


async def loop_thread() -> threading.Thread:
    return threading.current_thread()


def test_single_thread_context_shares_one_thread_and_stops_it_at_exit() -> None:
    with AsyncSingleThreadContext() as context:
        assert isinstance(context, AsyncSingleThreadContext)
        first = async_to_sync(loop_thread)()
        second = async_to_sync(loop_thread)()
        assert first.is_alive()
    assert first is second
    assert first is not current()
    assert not first.is_alive()  # stopped and joined by __exit__


def test_single_thread_context_uses_its_own_loop_not_the_threads_persistent_one() -> None:
    persistent = async_to_sync(loop_thread)()
    with AsyncSingleThreadContext():
        inside = async_to_sync(loop_thread)()
    assert inside is not persistent
    assert persistent.is_alive()


def test_nested_single_thread_contexts_share_the_outer_thread() -> None:
    with AsyncSingleThreadContext():
        outer = async_to_sync(loop_thread)()
        with AsyncSingleThreadContext():
            inner = async_to_sync(loop_thread)()
        assert outer.is_alive()  # the inner exit did not stop the outer's thread
        after = async_to_sync(loop_thread)()
    assert outer is inner is after


def test_single_thread_context_without_async_work_starts_no_thread() -> None:
    before = set(threading.enumerate())
    with AsyncSingleThreadContext():
        pass
    assert set(threading.enumerate()) == before


def test_single_thread_context_carries_contextvars_between_calls() -> None:
    connection: contextvars.ContextVar[int] = contextvars.ContextVar("connection")

    async def bump() -> None:
        connection.set(connection.get(0) + 1)

    def body() -> int:
        with AsyncSingleThreadContext():
            async_to_sync(bump)()
            async_to_sync(bump)()
        return connection.get()

    assert contextvars.Context().run(body) == 2


@pytest.mark.asyncio
async def test_single_thread_context_in_a_worker_uses_the_outer_loop() -> None:
    def inner() -> tuple[threading.Thread, threading.Thread]:
        with AsyncSingleThreadContext():
            return async_to_sync(loop_thread)(), async_to_sync(loop_thread)()

    first, second = await sync_to_async(inner)()
    assert first is second is current()


@pytest.mark.asyncio
async def test_context_exit_while_its_thread_is_parked_in_async_to_sync() -> None:
    # asgiref issue #535: the exit must neither block the loop nor wait for the
    # thread, which is waiting for the very loop the exit runs on.
    parked = asyncio.Event()
    proceed = asyncio.Event()

    async def inner() -> str:
        parked.set()
        await proceed.wait()
        return "inner done"

    def sync_code() -> str:
        return async_to_sync(inner)()

    async with ThreadSensitiveContext():
        task = asyncio.ensure_future(sync_to_async(sync_code)())
        await parked.wait()
    assert not task.done()
    proceed.set()
    assert await task == "inner done"


@pytest.mark.asyncio
async def test_concurrent_contexts_each_keep_one_thread_of_their_own() -> None:
    count = 20
    all_started = asyncio.Event()
    started = 0

    async def request() -> set[threading.Thread]:
        nonlocal started
        async with ThreadSensitiveContext():
            threads = {await sync_to_async(current)()}
            started += 1
            if started == count:
                all_started.set()
            await all_started.wait()  # every context holds its thread now
            for _ in range(3):
                threads.add(await sync_to_async(current)())
        return threads

    results = await asyncio.gather(*(request() for _ in range(count)))
    assert all(len(threads) == 1 for threads in results)
    assert len(set.union(*results)) == count
