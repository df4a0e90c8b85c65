"""Which thread runs a sync_to_async call, and which loop runs an async_to_sync call.

The routing table (DESIGN.md section 2): thread-sensitive work goes to the sync
thread blocked in async_to_sync up the stack, else to the current
ThreadSensitiveContext's thread, else to one process-wide sync thread;
thread_sensitive=False work goes to ``executor=``, a user-set default executor
of the loop, or a pool thread. async_to_sync inside a sync_to_async worker runs
on the outer loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import asgibridge
from asgibridge.exceptions import SyncToAsyncTypeError
from asgibridge.sync import SyncToAsync, ThreadSensitiveContext, async_to_sync, sync_to_async
from bridge_routes import EXECUTOR_PREFIX, ROUTES, run_on_route

JOIN = 10.0  # seconds a helper thread gets to finish before the test fails


def current() -> threading.Thread:
    return threading.current_thread()


def run_in_plain_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a new plain thread (no loop) and return its result or raise its error."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, name="plain-caller")
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive(), "the plain thread did not finish"
    if "error" in box:
        raise box["error"]
    return box["result"]


# -- thread-sensitive routing --------------------------------------------------


def test_nested_sync_work_runs_on_the_blocked_sync_caller() -> None:
    async def middle() -> threading.Thread:
        return await sync_to_async(current)()

    def caller() -> tuple[threading.Thread, threading.Thread]:
        return current(), async_to_sync(middle)()

    me, ran_on = run_in_plain_thread(caller)
    assert ran_on is me
    assert me.name == "plain-caller"


def test_two_levels_down_still_reach_the_blocked_caller() -> None:
    async def level2() -> threading.Thread:
        return await sync_to_async(current)()

    def level1() -> threading.Thread:
        return async_to_sync(level2)()

    async def level0() -> tuple[threading.Thread, threading.Thread]:
        return current(), await sync_to_async(level1)()

    def caller() -> tuple[threading.Thread, threading.Thread, threading.Thread]:
        loop_thread, inner = async_to_sync(level0)()
        return current(), loop_thread, inner

    me, loop_thread, inner = run_in_plain_thread(caller)
    # level1 ran on the blocked caller, and level1 blocked in its own async_to_sync,
    # so level2's sync work ran there too.
    assert inner is me
    assert loop_thread is not me


@pytest.mark.asyncio
async def test_sync_work_inside_a_worker_goes_back_to_that_worker() -> None:
    async def inner() -> threading.Thread:
        return await sync_to_async(current)()

    def outer() -> tuple[threading.Thread, threading.Thread]:
        return current(), async_to_sync(inner)()

    async with ThreadSensitiveContext():
        outer_thread, inner_thread = await sync_to_async(outer)()
    assert inner_thread is outer_thread


def test_blocked_caller_wins_over_an_enclosing_thread_sensitive_context() -> None:
    async def middle() -> threading.Thread:
        async with ThreadSensitiveContext():
            return await sync_to_async(current)()

    def caller() -> tuple[threading.Thread, threading.Thread]:
        return current(), async_to_sync(middle)()

    me, ran_on = run_in_plain_thread(caller)
    assert ran_on is me


def test_task_without_the_executor_contextvar_still_reaches_the_caller() -> None:
    # A task created in an empty context did not inherit the "blocked caller"
    # ContextVar; the persistent loop still knows whom it is serving.
    async def task_body() -> threading.Thread:
        return await sync_to_async(current)()

    async def middle() -> threading.Thread:
        task = contextvars.Context().run(asyncio.ensure_future, task_body())
        return await task

    def caller() -> tuple[threading.Thread, threading.Thread]:
        return current(), async_to_sync(middle)()

    me, ran_on = run_in_plain_thread(caller)
    assert ran_on is me


@pytest.mark.asyncio
async def test_thread_sensitive_context_has_its_own_thread() -> None:
    outside = await sync_to_async(current)()
    async with ThreadSensitiveContext():
        first = await sync_to_async(current)()
        second = await sync_to_async(current)()
    assert first is second
    assert first is not outside
    assert first is not current()


@pytest.mark.asyncio
async def test_sibling_contexts_get_different_threads() -> None:
    both_in = asyncio.Event()
    entered = 0

    async def request() -> threading.Thread:
        nonlocal entered
        async with ThreadSensitiveContext():
            ran_on = await sync_to_async(current)()
            entered += 1
            if entered == 2:
                both_in.set()
            await both_in.wait()  # both contexts hold their thread at once
            again = await sync_to_async(current)()
            assert again is ran_on
            return ran_on

    first, second = await asyncio.gather(request(), request())
    assert first is not second


@pytest.mark.asyncio
async def test_nested_contexts_share_the_outer_thread() -> None:
    async with ThreadSensitiveContext():
        outer = await sync_to_async(current)()
        async with ThreadSensitiveContext():
            inner = await sync_to_async(current)()
            async with ThreadSensitiveContext():
                innermost = await sync_to_async(current)()
        after = await sync_to_async(current)()
    assert outer is inner is innermost is after


@pytest.mark.asyncio
async def test_context_follows_tasks_created_inside_it() -> None:
    async with ThreadSensitiveContext():
        here = await sync_to_async(current)()
        in_task = await asyncio.ensure_future(sync_to_async(current)())
    assert in_task is here


@pytest.mark.asyncio
async def test_without_context_one_process_wide_sync_thread() -> None:
    here = await sync_to_async(current)()
    again = await sync_to_async(current)()

    async def from_another_loop() -> threading.Thread:
        return await sync_to_async(current)()

    other_loop = run_in_plain_thread(lambda: asyncio.run(from_another_loop()))
    assert here is again is other_loop
    assert here is not current()


@pytest.mark.asyncio
async def test_process_wide_thread_runs_one_call_at_a_time() -> None:
    running = 0
    overlap = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, overlap
        with lock:
            running += 1
            overlap = max(overlap, running)
        with lock:
            running -= 1

    await asyncio.gather(*(sync_to_async(work)() for _ in range(20)))
    assert overlap == 1


# -- thread_sensitive=False and executors ---------------------------------------


@pytest.mark.asyncio
async def test_thread_sensitive_false_runs_on_pool_threads_in_parallel() -> None:
    barrier = threading.Barrier(2, timeout=JOIN)

    def meet() -> threading.Thread:
        barrier.wait()  # only returns if two calls run at the same time
        return current()

    sensitive = await sync_to_async(current)()
    a, b = await asyncio.gather(
        sync_to_async(meet, thread_sensitive=False)(),
        sync_to_async(meet, thread_sensitive=False)(),
    )
    assert a is not b
    assert sensitive not in (a, b)
    assert current() not in (a, b)


@pytest.mark.asyncio
async def test_executor_argument_is_honoured() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="user-executor") as executor:
        ran_on = await sync_to_async(current, thread_sensitive=False, executor=executor)()
        decorated = sync_to_async(thread_sensitive=False, executor=executor)(current)
        ran_on_2 = await decorated()
    assert ran_on.name.startswith("user-executor")
    assert ran_on_2 is ran_on


@pytest.mark.parametrize(
    "build",
    [
        lambda ex: sync_to_async(current, executor=ex),
        lambda ex: sync_to_async(current, thread_sensitive=True, executor=ex),
        lambda ex: sync_to_async(executor=ex)(current),
        lambda ex: SyncToAsync(current, executor=ex),
    ],
    ids=["call", "explicit-true", "decorator", "class"],
)
def test_executor_with_thread_sensitive_raises_typeerror(
    build: Callable[[ThreadPoolExecutor], object],
) -> None:
    with ThreadPoolExecutor(1) as executor:
        with pytest.raises(TypeError) as info:
            build(executor)
    assert isinstance(info.value, SyncToAsyncTypeError)
    assert info.value.args[0] == "executor must not be set when thread_sensitive is True"


@pytest.mark.asyncio
async def test_user_default_executor_of_the_loop_is_honoured() -> None:
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(1, thread_name_prefix="loop-default")
    loop.set_default_executor(executor)
    try:
        ran_on = await sync_to_async(current, thread_sensitive=False)()
        sensitive = await sync_to_async(current)()
    finally:
        executor.shutdown(wait=True)
    assert ran_on.name.startswith("loop-default")
    # The default executor is for thread_sensitive=False only.
    assert not sensitive.name.startswith("loop-default")


@pytest.mark.asyncio
async def test_asyncio_own_default_executor_is_not_used() -> None:
    loop = asyncio.get_running_loop()
    # Make the loop build its lazy default executor ("asyncio_N" or "uvloop_N" threads).
    loop_thread = await loop.run_in_executor(None, current)
    ran_on = await sync_to_async(current, thread_sensitive=False)()
    assert loop_thread.name.startswith(("asyncio", "uvloop"))
    assert ran_on.name.startswith("asgibridge-pool-")


@pytest.mark.asyncio
async def test_context_with_executor_routes_thread_sensitive_calls() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="ctx-executor") as executor:
        async with ThreadSensitiveContext(executor=executor):
            ran_on = await sync_to_async(current)()
    assert ran_on.name.startswith("ctx-executor")


def test_context_with_executor_wins_over_a_blocked_caller() -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="ctx-executor") as executor:

        async def middle() -> threading.Thread:
            async with ThreadSensitiveContext(executor=executor):
                return await sync_to_async(current)()

        ran_on = run_in_plain_thread(lambda: async_to_sync(middle)())
    assert ran_on.name.startswith("ctx-executor")


# -- which loop async_to_sync uses ----------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_async_to_sync_in_a_worker_runs_on_the_outer_loop(thread_sensitive: bool) -> None:
    outer_loop = asyncio.get_running_loop()

    async def inner() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def worker() -> asyncio.AbstractEventLoop:
        return async_to_sync(inner)()

    inner_loop = await sync_to_async(worker, thread_sensitive=thread_sensitive)()
    assert inner_loop is outer_loop


@pytest.mark.asyncio
async def test_force_new_loop_in_a_worker_uses_another_loop() -> None:
    outer_loop = asyncio.get_running_loop()

    async def inner() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def worker() -> asyncio.AbstractEventLoop:
        return async_to_sync(inner, force_new_loop=True)()

    inner_loop = await sync_to_async(worker)()
    assert inner_loop is not outer_loop


@pytest.mark.asyncio
async def test_nested_sync_work_from_a_pool_caller_runs_on_that_pool_thread() -> None:
    async def inner() -> threading.Thread:
        return await sync_to_async(current)()

    def pool_side() -> tuple[threading.Thread, threading.Thread]:
        return current(), async_to_sync(inner)()

    caller, inner_thread = await sync_to_async(pool_side, thread_sensitive=False)()
    assert inner_thread is caller
    assert caller.name.startswith("asgibridge-pool")


@pytest.mark.asyncio
async def test_deep_nesting_stays_on_one_sync_thread_and_one_loop() -> None:
    outer_loop = asyncio.get_running_loop()
    seen: list[tuple[threading.Thread, asyncio.AbstractEventLoop]] = []

    async def level(depth: int) -> None:
        seen.append((current(), asyncio.get_running_loop()))
        if depth:
            await sync_to_async(sync_level)(depth - 1)

    def sync_level(depth: int) -> None:
        seen.append((current(), outer_loop))
        async_to_sync(level)(depth)

    await sync_to_async(sync_level)(5)
    sync_threads = {thread for thread, _ in seen[0::2]}
    loops = {loop for _, loop in seen[1::2]}
    assert len(seen) == 12
    assert len(sync_threads) == 1
    assert loops == {outer_loop}


@pytest.mark.asyncio
async def test_pool_never_exceeds_max_workers() -> None:
    previous = asgibridge.configure(max_workers=2)
    asgibridge.shutdown()  # the next pool is built with the new bound
    running = 0
    peak = 0
    lock = threading.Lock()

    def work(i: int) -> tuple[int, threading.Thread]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        with lock:
            running -= 1
        return i, current()

    try:
        results = await asyncio.gather(
            *(sync_to_async(work, thread_sensitive=False)(i) for i in range(30))
        )
    finally:
        asgibridge.configure(**previous)
    assert [i for i, _ in results] == list(range(30))
    assert len({thread for _, thread in results}) <= 2
    assert peak <= 2


# -- every route -------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
def test_each_route_runs_where_it_says(route: str) -> None:
    async def body(wrap: Any) -> tuple[threading.Thread, threading.Thread]:
        return await wrap(current)(), current()

    ran_on, loop_thread = run_on_route(route, body)
    expected = {
        "sync-thread": "asgibridge-sync",
        "pool": "asgibridge-pool",
        "executor": EXECUTOR_PREFIX,
        "context": "asgibridge-sticky",
        "context-executor": EXECUTOR_PREFIX,
        "blocked-caller": "route-caller",
    }[route]
    assert ran_on.name.startswith(expected)
    assert ran_on is not loop_thread


@pytest.mark.parametrize("route", ROUTES)
def test_async_to_sync_inside_every_route_runs_on_the_awaiting_loop(route: str) -> None:
    async def inner() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def worker() -> asyncio.AbstractEventLoop:
        return async_to_sync(inner)()

    async def body(wrap: Any) -> tuple[asyncio.AbstractEventLoop, asyncio.AbstractEventLoop]:
        return await wrap(worker)(), asyncio.get_running_loop()

    inner_loop, awaiting_loop = run_on_route(route, body)
    assert inner_loop is awaiting_loop
