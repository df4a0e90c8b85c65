"""Default Local values across every route of the bridge, and when the callee raises.

Complements test_local_bridge.py: an explicit executor, AsyncSingleThreadContext,
force_new_loop, sync -> async -> sync -> async nesting from a sync caller (values
owned by the outermost blocked caller), and writes made before an exception.
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from asgibridge.local import Local
from asgibridge.sync import AsyncSingleThreadContext, async_to_sync, sync_to_async


class Boom(Exception):
    pass


def test_async_callee_writes_are_carried_back_when_it_raises() -> None:
    local = Local()
    local.doomed = "delete me"

    async def callee() -> None:
        local.written = "before raising"
        del local.doomed
        raise Boom

    with pytest.raises(Boom):
        async_to_sync(callee)()
    assert local.written == "before raising"
    assert not hasattr(local, "doomed")


@pytest.mark.parametrize("thread_sensitive", [True, False])
@pytest.mark.asyncio
async def test_sync_callee_writes_are_carried_back_when_it_raises(thread_sensitive: bool) -> None:
    local = Local()
    local.doomed = "delete me"

    def callee() -> None:
        local.written = "before raising"
        del local.doomed
        raise Boom

    with pytest.raises(Boom):
        await sync_to_async(callee, thread_sensitive=thread_sensitive)()
    assert local.written == "before raising"
    assert not hasattr(local, "doomed")


@pytest.mark.asyncio
async def test_values_follow_a_call_on_a_given_executor() -> None:
    local = Local()
    local.seen = "from the task"
    with ThreadPoolExecutor(max_workers=1) as executor:

        def callee() -> tuple[str, bool]:
            seen: str = local.seen
            local.seen = "from the executor"
            return seen, threading.current_thread() is threading.main_thread()

        call = sync_to_async(callee, thread_sensitive=False, executor=executor)
        assert await call() == ("from the task", False)
    assert local.seen == "from the executor"


def test_values_follow_calls_in_an_async_single_thread_context() -> None:
    local = Local()
    local.count = 0

    async def increment() -> tuple[int, int]:
        before: int = local.count
        local.count += 1
        return before, threading.get_ident()

    with AsyncSingleThreadContext():
        first, first_thread = async_to_sync(increment)()
        local.count += 10
        second, second_thread = async_to_sync(increment)()
    assert (first, second, local.count) == (0, 11, 12)
    assert first_thread == second_thread != threading.get_ident()


def test_values_follow_a_call_on_a_new_loop() -> None:
    local = Local()
    local.seen = "from sync"

    async def callee() -> str:
        seen: str = local.seen
        local.seen = "from the new loop"
        local.created = "new"
        return seen

    assert async_to_sync(callee, force_new_loop=True)() == "from sync"
    assert (local.seen, local.created) == ("from the new loop", "new")


@pytest.mark.parametrize("thread_sensitive", [True, False])
def test_writes_deep_in_nested_calls_reach_a_sync_caller(thread_sensitive: bool) -> None:
    # sync -> async_to_sync -> sync_to_async -> async_to_sync: the innermost
    # write is made for the outermost blocked caller, which sees it (and may
    # overwrite and delete it) once everything returned.
    local = Local()
    local.trail = ["sync"]

    async def inner() -> None:
        local.trail = [*local.trail, "inner async"]
        local.deep = "written at the bottom"

    def middle_sync() -> None:
        local.trail = [*local.trail, "middle sync"]
        async_to_sync(inner)()
        assert local.deep == "written at the bottom"

    async def outer() -> None:
        local.trail = [*local.trail, "outer async"]
        await sync_to_async(middle_sync, thread_sensitive=thread_sensitive)()
        assert local.deep == "written at the bottom"

    async_to_sync(outer)()
    assert local.trail == ["sync", "outer async", "middle sync", "inner async"]
    assert local.deep == "written at the bottom"
    local.deep = "overwritten"
    assert local.deep == "overwritten"
    del local.deep
    assert not hasattr(local, "deep")


def test_values_written_for_a_sync_caller_come_back_into_the_next_call() -> None:
    local = Local()

    async def write() -> None:
        local.value = "first call's"

    def read_on_pool() -> str:
        value: str = local.value
        return value

    async def read() -> tuple[str, str]:
        return local.value, await sync_to_async(read_on_pool, thread_sensitive=False)()

    async_to_sync(write)()
    assert async_to_sync(read)() == ("first call's", "first call's")


def test_values_carried_back_stay_hidden_from_a_later_thread_reusing_the_ident() -> None:
    # Values async code writes for a blocked sync caller are carried back into
    # the caller's context. A later thread that runs in a copy of that context
    # must not see them, even when it gets the dead caller's thread ident back
    # (glibc reuses idents at once): plain threads see only their own values.
    local = Local()
    first: dict[str, object] = {}

    def writer() -> None:
        async def writes() -> None:
            local.secret = "the writer's"

        async_to_sync(writes)()
        assert local.secret == "the writer's"
        first["ident"] = threading.get_ident()
        first["context"] = contextvars.copy_context()

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    context = first["context"]
    assert isinstance(context, contextvars.Context)
    reused = 0

    def reader(seen: dict[str, object]) -> None:
        seen["ident"] = threading.get_ident()
        seen["value"] = getattr(local, "secret", None)

    for _ in range(50):
        seen: dict[str, object] = {}
        thread = threading.Thread(target=context.copy().run, args=(reader, seen))
        thread.start()
        thread.join()
        assert seen["value"] is None
        reused += seen["ident"] == first["ident"]
    if not reused:
        pytest.skip("no thread got the writer's ident back: the hazard was not exercised")


def test_thread_critical_async_values_end_with_their_async_to_sync_call() -> None:
    # asgiref runs each async_to_sync from a plain thread on a thread of its own,
    # so a thread-critical value written by one call's coroutine is never seen
    # by the next call's. asgibridge reuses one loop thread for both: the value
    # must still end with the call that wrote it (not be carried back).
    local = Local(thread_critical=True)

    async def write() -> None:
        local.value = "the first call's"

    async def read() -> object:
        return getattr(local, "value", None)

    async_to_sync(write)()
    assert async_to_sync(read)() is None


def test_thread_critical_async_values_last_for_an_async_single_thread_context() -> None:
    # Inside AsyncSingleThreadContext every call runs on the context's one
    # thread, in asgiref too: there a value written by one call is the next's.
    local = Local(thread_critical=True)

    async def write() -> None:
        local.value = "the first call's"

    async def read() -> object:
        return getattr(local, "value", None)

    with AsyncSingleThreadContext():
        async_to_sync(write)()
        assert async_to_sync(read)() == "the first call's"
