"""Local values across asgibridge.sync, both directions.

Default Local: the callee sees the caller's values and the caller sees the
callee's writes (and deletions) once the call returns, through any number of
layers, including values the callee creates. thread_critical Local: values
never cross threads, but thread-sensitive work routed back to a blocked sync
caller runs on that caller's thread and shares its values (Django's database
connections).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from asgibridge.local import Local
from asgibridge.sync import (
    ThreadSensitiveContext,
    async_to_sync,
    sync_to_async,
)

JOIN = 10.0


def on_thread(fn: Any, *, context: contextvars.Context | None = None) -> Any:
    """Run ``fn`` on a new thread (in ``context`` if given); return or raise its outcome."""
    outcome: dict[str, Any] = {}

    def main() -> None:
        try:
            outcome["result"] = context.run(fn) if context is not None else fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


# -- default Local: async caller, sync callee ------------------------------------


@pytest.mark.parametrize("thread_sensitive", [True, False])
@pytest.mark.asyncio
async def test_sync_callee_sees_and_returns_values(thread_sensitive: bool) -> None:
    local = Local()
    local.seen = "from the task"
    local.doomed = "delete me"

    def callee() -> str:
        seen: str = local.seen
        local.seen = "from the callee"
        local.created = "new in the callee"
        del local.doomed
        return seen

    result = await sync_to_async(callee, thread_sensitive=thread_sensitive)()
    assert result == "from the task"
    assert local.seen == "from the callee"
    assert local.created == "new in the callee"
    assert not hasattr(local, "doomed")


@pytest.mark.asyncio
async def test_callee_values_persist_across_calls_in_a_thread_sensitive_context() -> None:
    # Django's ASGIHandler: one ThreadSensitiveContext per request, middleware
    # and view as successive thread-sensitive calls on the request's thread.
    local = Local()

    def middleware() -> None:
        local.language = "fr"

    def view() -> tuple[str, int]:
        local.hits = getattr(local, "hits", 0) + 1
        return local.language, local.hits

    async with ThreadSensitiveContext():
        await sync_to_async(middleware)()
        assert await sync_to_async(view)() == ("fr", 1)
        assert await sync_to_async(view)() == ("fr", 2)
    assert local.language == "fr"


@pytest.mark.asyncio
async def test_concurrent_calls_do_not_see_each_other() -> None:
    local = Local()
    barrier = threading.Barrier(4)

    def callee(n: int) -> int:
        local.value = n
        barrier.wait(JOIN)  # all four have written before any reads back
        value: int = local.value
        return value

    async def task(n: int) -> tuple[int, int]:
        result = await sync_to_async(callee, thread_sensitive=False)(n)
        return result, local.value

    results = await asyncio.gather(*(task(n) for n in range(4)))
    assert results == [(n, n) for n in range(4)]
    assert not hasattr(local, "value")


# -- default Local: sync caller, async callee ----------------------------------------


def test_async_callee_sees_and_returns_values() -> None:
    local = Local()
    local.seen = "from sync"
    local.doomed = "delete me"

    async def callee() -> str:
        seen: str = local.seen
        local.seen = "from async"
        local.created = "new in async"
        del local.doomed
        await asyncio.sleep(0)
        return seen

    assert async_to_sync(callee)() == "from sync"
    assert local.seen == "from async"
    assert local.created == "new in async"
    assert not hasattr(local, "doomed")
    # The values came back as this thread's own: they can be overwritten and
    # deleted as usual...
    local.created = "rewritten"
    assert local.created == "rewritten"
    del local.seen
    assert not hasattr(local, "seen")


def test_values_carried_back_are_not_seen_by_a_thread_inheriting_the_context() -> None:
    local = Local()

    async def callee() -> None:
        local.created = "for the caller only"

    async_to_sync(callee)()
    assert local.created == "for the caller only"
    child = on_thread(lambda: hasattr(local, "created"), context=contextvars.copy_context())
    assert child is False


def test_plain_thread_callers_are_isolated() -> None:
    local = Local()

    async def callee(n: int) -> int:
        local.value = n
        await asyncio.sleep(0)
        value: int = local.value
        return value

    def caller(n: int) -> tuple[int, int]:
        return async_to_sync(callee)(n), local.value

    assert [on_thread(lambda n=n: caller(n)) for n in range(3)] == [(n, n) for n in range(3)]
    assert not hasattr(local, "value")


# -- default Local: many layers ------------------------------------------------------


@pytest.mark.asyncio
async def test_values_cross_many_layers_both_ways() -> None:
    local = Local()
    local.trail = ["task"]

    def sync_1() -> None:
        local.trail = [*local.trail, "sync 1"]

        async def async_1() -> None:
            local.trail = [*local.trail, "async 1"]

            def sync_2() -> None:
                local.trail = [*local.trail, "sync 2"]
                local.deep = "created at the bottom"

            await sync_to_async(sync_2)()
            await sync_to_async(sync_2, thread_sensitive=False)()

        async_to_sync(async_1)()

    await sync_to_async(sync_1)()
    assert local.trail == ["task", "sync 1", "async 1", "sync 2", "sync 2"]
    assert local.deep == "created at the bottom"


def test_sync_work_routed_back_to_the_blocked_caller_shares_values() -> None:
    local = Local()
    caller = threading.current_thread()
    seen_threads: list[threading.Thread] = []

    def on_caller_thread() -> None:
        seen_threads.append(threading.current_thread())
        local.created = "by work on the caller's thread"

    def on_pool_thread() -> None:
        local.pooled = getattr(local, "created", None)

    async def middle() -> None:
        await sync_to_async(on_caller_thread)()
        await sync_to_async(on_pool_thread, thread_sensitive=False)()

    async_to_sync(middle)()
    assert seen_threads == [caller]
    assert local.created == "by work on the caller's thread"
    assert local.pooled == "by work on the caller's thread"


def test_values_set_in_a_child_task_stay_in_the_child() -> None:
    local = Local()

    def in_sync() -> None:
        local.value = "child task's"

    async def main() -> None:
        await asyncio.create_task(sync_to_async(in_sync)())
        assert not hasattr(local, "value")

    async_to_sync(main)()
    assert not hasattr(local, "value")


# -- thread_critical Local -------------------------------------------------------------


@pytest.mark.asyncio
async def test_thread_critical_values_do_not_cross_sync_to_async() -> None:
    local = Local(thread_critical=True)
    local.value = "task"

    def callee() -> bool:
        had = hasattr(local, "value")
        local.value = "callee"
        return had

    assert await sync_to_async(callee)() is False
    assert await sync_to_async(callee, thread_sensitive=False)() is False
    assert local.value == "task"


def test_thread_critical_values_do_not_cross_async_to_sync() -> None:
    local = Local(thread_critical=True)
    local.value = "sync"

    async def callee() -> bool:
        had = hasattr(local, "value")
        local.value = "async"
        return had

    assert async_to_sync(callee)() is False
    assert local.value == "sync"


def test_thread_critical_is_shared_with_work_routed_back_to_the_caller_thread() -> None:
    # Django: the connection opened in the outer sync code is the one the
    # thread-sensitive ORM call sees inside async_to_sync -> sync_to_async.
    connections = Local(thread_critical=True)
    connections.default = "connection opened outside"

    def orm_call() -> str:
        seen: str = connections.default
        connections.other = "opened inside"
        return seen

    async def view() -> str:
        return await sync_to_async(orm_call)()

    assert async_to_sync(view)() == "connection opened outside"
    assert connections.other == "opened inside"


@pytest.mark.asyncio
async def test_thread_critical_async_values_do_not_reach_another_loop_thread() -> None:
    local = Local(thread_critical=True)
    local.value = "outer task"

    async def inner() -> bool:
        return hasattr(local, "value")

    def sync_middle() -> bool:
        # A new loop on this worker thread, with the outer task's context copy.
        return async_to_sync(inner, force_new_loop=True)()

    assert await sync_to_async(sync_middle, thread_sensitive=False)() is False
    assert local.value == "outer task"


# -- thread_critical Local: names created or deleted by callees, per task ----------


@pytest.mark.parametrize("thread_sensitive", [True, False])
@pytest.mark.asyncio
async def test_thread_critical_names_created_by_a_sync_callee_stay_there(
    thread_sensitive: bool,
) -> None:
    local = Local(thread_critical=True)

    def callee() -> str:
        local.created = "by the callee"
        value: str = local.created
        return value

    assert await sync_to_async(callee, thread_sensitive=thread_sensitive)() == "by the callee"
    assert not hasattr(local, "created")
    assert "created" not in dir(local)


def test_thread_critical_names_created_by_an_async_callee_stay_there() -> None:
    local = Local(thread_critical=True)

    async def callee() -> str:
        local.created = "by the callee"
        value: str = local.created
        return value

    assert async_to_sync(callee)() == "by the callee"
    assert not hasattr(local, "created")
    assert "created" not in dir(local)


def test_thread_critical_deletion_in_a_callee_does_not_reach_the_caller() -> None:
    local = Local(thread_critical=True)
    local.value = "caller's"

    async def callee() -> bool:
        with pytest.raises(AttributeError):
            del local.value  # not this thread's, so nothing to delete
        return hasattr(local, "value")

    assert async_to_sync(callee)() is False
    assert local.value == "caller's"


@pytest.mark.asyncio
async def test_thread_critical_stays_per_task_through_the_bridge() -> None:
    # Sibling tasks each make a round trip that writes on this loop's thread:
    # each sees only its own write afterwards, never a sibling's.
    local = Local(thread_critical=True)
    done = 0
    all_done = asyncio.Event()

    async def write(n: int) -> None:
        local.value = n

    def on_pool(n: int) -> bool:
        async_to_sync(write)(n)  # back on the awaiting task's loop thread
        return hasattr(local, "value")  # the pool thread's own: nothing

    async def sibling(n: int) -> tuple[bool, int]:
        nonlocal done
        seen_on_pool = await sync_to_async(on_pool, thread_sensitive=False)(n)
        done += 1
        if done == 3:
            all_done.set()
        await all_done.wait()
        value: int = local.value
        return seen_on_pool, value

    assert await asyncio.gather(*(sibling(n) for n in range(3))) == [(False, n) for n in range(3)]
    assert not hasattr(local, "value")
