"""check_cancelled() and time_left() inside sync code run by sync_to_async."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Iterator

import pytest

from asgibridge.cancellation import check_cancelled, time_left
from asgibridge.sync import async_to_sync, sync_to_async
from asgibridge.timeout import timeout as bridge_timeout

needs_timeout = pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is 3.11+")


def test_outside_a_bridged_call_they_do_nothing() -> None:
    check_cancelled()
    assert time_left() is None


@pytest.mark.asyncio
async def test_not_cancelled_runs_to_the_end() -> None:
    def work() -> str:
        check_cancelled()
        return "done"

    assert await sync_to_async(work)() == "done"


async def _cancel_while_running(thread_sensitive: bool, nested: bool) -> list[str]:
    started = threading.Event()
    cancelled = threading.Event()
    finished = threading.Event()
    seen: list[str] = []

    def loop_until_cancelled() -> None:
        started.set()
        cancelled.wait(10)
        try:
            check_cancelled()
        except asyncio.CancelledError:
            seen.append("raised")
            finished.set()
            raise
        seen.append("not raised")
        finished.set()

    async def middle() -> None:
        await sync_to_async(loop_until_cancelled, thread_sensitive=thread_sensitive)()

    def outer() -> None:
        async_to_sync(middle)()

    func = outer if nested else loop_until_cancelled
    task = asyncio.ensure_future(sync_to_async(func, thread_sensitive=thread_sensitive)())
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled.set()
    # The abandoned function runs on: wait for its end on its own thread (a
    # later pool call may run on another pool thread, before it is done).
    assert await loop.run_in_executor(None, finished.wait, 10)
    return seen


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_check_cancelled_raises_after_the_awaiting_task_is_cancelled(
    thread_sensitive: bool,
) -> None:
    seen = await _cancel_while_running(thread_sensitive, nested=False)
    await _drain()
    assert seen == ["raised"]


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_check_cancelled_sees_through_nested_hops(thread_sensitive: bool) -> None:
    seen = await _cancel_while_running(thread_sensitive, nested=True)
    await _drain()
    assert seen == ["raised"]


async def _drain() -> None:
    # Let the abandoned functions finish on their threads before the test ends.
    def nothing() -> None:
        return None

    await sync_to_async(nothing)()
    await sync_to_async(nothing, thread_sensitive=False)()


@pytest.mark.asyncio
@needs_timeout
async def test_time_left_reports_the_asyncio_timeout() -> None:
    async with asyncio.timeout(30):  # type: ignore[attr-defined,unused-ignore]
        left = await sync_to_async(time_left)()
    assert left is not None
    assert 0 < left <= 30


@pytest.mark.asyncio
async def test_time_left_without_a_deadline_is_none() -> None:
    assert await sync_to_async(time_left)() is None


@pytest.mark.asyncio
async def test_time_left_reports_wait_for() -> None:
    left = await asyncio.wait_for(sync_to_async(time_left)(), 20)
    assert left is not None
    assert 0 < left <= 20


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_time_left_reports_the_bridge_timeout() -> None:
    async with bridge_timeout(25):
        left = await sync_to_async(time_left)()
    assert left is not None
    assert 0 < left <= 25


@pytest.mark.asyncio
@needs_timeout
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_time_left_sees_through_nested_hops(thread_sensitive: bool) -> None:
    async def middle() -> float | None:
        return await sync_to_async(time_left, thread_sensitive=thread_sensitive)()

    def outer() -> float | None:
        return async_to_sync(middle)()

    async with asyncio.timeout(40):  # type: ignore[attr-defined,unused-ignore]
        left = await sync_to_async(outer, thread_sensitive=thread_sensitive)()
    assert left is not None
    assert 0 < left <= 40


@pytest.mark.asyncio
@needs_timeout
async def test_time_left_takes_the_nearest_deadline() -> None:
    async def middle() -> float | None:
        async with asyncio.timeout(10):  # type: ignore[attr-defined,unused-ignore]
            return await sync_to_async(time_left)()

    def outer() -> float | None:
        return async_to_sync(middle)()

    async with asyncio.timeout(50):  # type: ignore[attr-defined,unused-ignore]
        left = await sync_to_async(outer)()
    assert left is not None
    assert 0 < left <= 10


# -- inside a sync generator driven by sync_iter_to_async -----------------------------


@pytest.mark.asyncio
@needs_timeout  # Task.cancelling() is 3.11+
async def test_check_cancelled_in_a_generator_follows_the_consumer() -> None:
    from asgibridge.iterators import sync_iter_to_async

    produced = threading.Event()
    cancelled = threading.Event()
    checked = threading.Event()
    seen: list[str] = []

    def rows() -> Iterator[int]:
        yield 0
        produced.set()
        cancelled.wait(10)  # the consumer is cancelled meanwhile
        try:
            check_cancelled()
        except asyncio.CancelledError:
            seen.append("raised")
            raise
        finally:
            checked.set()
        seen.append("not raised")
        yield 1

    async def consume() -> None:
        # aclosing: the cancelled consumer closes the bridge (it gives up the batch in flight)
        async with contextlib.aclosing(sync_iter_to_async(rows(), buffer=4)) as agen:
            async for _ in agen:
                await asyncio.Event().wait()  # stuck after the first item

    task = asyncio.ensure_future(consume())
    await asyncio.get_running_loop().run_in_executor(None, produced.wait, 10)
    task.cancel()
    await asyncio.sleep(0)  # the cancellation reaches the consumer
    cancelled.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The cancelled consumer does not wait for the item in flight (aclose gives the
    # batch up): the generator's thread may still be on its way to the check.
    await asyncio.get_running_loop().run_in_executor(None, checked.wait, 10)
    assert seen == ["raised"]


@pytest.mark.asyncio
async def test_check_cancelled_in_a_generator_of_a_live_consumer_does_nothing() -> None:
    from asgibridge.iterators import sync_iter_to_async

    def rows() -> Iterator[int]:
        for i in range(3):
            check_cancelled()
            yield i

    assert [i async for i in sync_iter_to_async(rows(), buffer=1)] == [0, 1, 2]


@pytest.mark.asyncio
@needs_timeout
async def test_time_left_in_a_generator_is_the_consumers_deadline() -> None:
    from asgibridge.iterators import sync_iter_to_async

    def budgets() -> Iterator[float | None]:
        yield time_left()

    assert [b async for b in sync_iter_to_async(budgets())] == [None]
    async with asyncio.timeout(30):  # type: ignore[attr-defined,unused-ignore]
        (left,) = [b async for b in sync_iter_to_async(budgets())]
    assert left is not None
    assert 0 < left <= 30
