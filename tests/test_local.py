"""asgibridge.local.Local: the namespace API, threads, tasks and thread_critical.

Bridge behaviour lives in test_local_bridge.py and test_local_routes.py, memory in
test_local_memory.py, concurrency in test_local_stress.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any

import pytest

from asgibridge.exceptions import AsgiBridgeError, LocalReservedNameError, LocalSubclassError
from asgibridge.local import Local

JOIN = 10.0
KINDS = [pytest.param(False, id="default"), pytest.param(True, id="thread_critical")]


def on_thread(fn: Callable[[], Any], *, context: contextvars.Context | None = None) -> Any:
    """Run ``fn`` on a new thread (inside ``context`` if given); return or raise its outcome."""
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


# -- the namespace API ---------------------------------------------------------


@pytest.mark.parametrize("critical", KINDS)
def test_set_get_delete_in_sync_code(critical: bool) -> None:
    local = Local(thread_critical=critical)
    assert not hasattr(local, "name")
    assert getattr(local, "name", "fallback") == "fallback"
    local.name = "ada"
    assert local.name == "ada"
    assert hasattr(local, "name")
    setattr(local, "name", "grace")  # noqa: B010
    assert getattr(local, "name") == "grace"  # noqa: B009
    del local.name
    assert not hasattr(local, "name")
    with pytest.raises(AttributeError):
        del local.name


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_set_get_delete_in_async_code(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(AttributeError):
        local.name
    local.name = 1
    local.name += 1
    assert local.name == 2
    delattr(local, "name")
    assert getattr(local, "name", None) is None
    with pytest.raises(AttributeError):
        delattr(local, "name")


@pytest.mark.parametrize("critical", KINDS)
def test_missing_attribute_error_names_the_attribute(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(AttributeError, match="'missing_thing'") as caught:
        local.missing_thing
    assert caught.value.name == "missing_thing"
    assert caught.value.obj is local


@pytest.mark.parametrize("critical", KINDS)
def test_many_attributes_are_independent(critical: bool) -> None:
    local = Local(thread_critical=critical)
    for i in range(50):
        setattr(local, f"attr_{i}", i)
    del local.attr_7
    assert [getattr(local, f"attr_{i}", None) for i in range(10)] == [
        0, 1, 2, 3, 4, 5, 6, None, 8, 9,
    ]  # fmt: skip
    assert {f"attr_{i}" for i in range(50)} - {"attr_7"} <= set(dir(local))
    assert "attr_7" not in dir(local)


@pytest.mark.parametrize("critical", KINDS)
def test_data_is_reserved_as_in_asgiref(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(LocalReservedNameError) as caught:
        local._data = "x"
    assert isinstance(caught.value, AttributeError)
    assert isinstance(caught.value, AsgiBridgeError)
    assert caught.value.args[0] == "Cannot set attribute '_data' on Local"
    assert not hasattr(local, "_data")


def test_cannot_be_subclassed() -> None:
    class Mine(Local):  # type: ignore[misc]
        pass

    with pytest.raises(LocalSubclassError, match="cannot be subclassed") as caught:
        Mine()
    assert isinstance(caught.value, TypeError)


@pytest.mark.parametrize("critical", KINDS)
def test_object_protocol(critical: bool) -> None:
    local = Local(thread_critical=critical)
    other = Local(thread_critical=critical)
    assert isinstance(local, Local)
    assert local.__class__ is type(local)
    assert f"thread_critical={critical}" in repr(local)
    assert local == local  # noqa: PLR0124
    assert local != other
    assert len({local, other}) == 2
    assert bool(local)
    # The storage's container methods are not attributes of the namespace...
    assert not hasattr(local, "count")
    assert not hasattr(local, "index")
    # ...and those names are free for user values.
    local.count = 3
    assert local.count == 3


@pytest.mark.parametrize("critical", KINDS)
def test_dunder_names_fall_back_to_the_class(critical: bool) -> None:
    local = Local(thread_critical=critical)
    assert local.__doc__ == type(local).__doc__
    assert local.__module__ == Local.__module__
    assert "__class__" in dir(local)
    local.__custom__ = "mine"
    assert local.__custom__ == "mine"


# -- plain threads: like threading.local -----------------------------------------


@pytest.mark.parametrize("critical", KINDS)
def test_each_thread_has_its_own_values(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "main"
    barrier = threading.Barrier(4)
    seen: dict[int, tuple[bool, int]] = {}

    def worker(n: int) -> None:
        had = hasattr(local, "value")
        local.value = n
        barrier.wait(JOIN)  # everyone has written before anyone reads back
        seen[n] = (had, local.value)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert seen == {n: (False, n) for n in range(4)}
    assert local.value == "main"


@pytest.mark.parametrize("critical", KINDS)
def test_thread_that_inherits_the_context_does_not_see_values(critical: bool) -> None:
    # thread_inherit_context (free-threaded 3.14's default) simulated: the new
    # thread runs in a copy of its creator's context.
    local = Local(thread_critical=critical)
    local.value = "creator"

    def child() -> tuple[bool, str]:
        had = hasattr(local, "value")
        local.value = "child"
        return had, local.value

    assert on_thread(child, context=contextvars.copy_context()) == (False, "child")
    assert local.value == "creator"


@pytest.mark.parametrize("critical", KINDS)
def test_inherited_thread_running_a_loop_does_not_see_values(critical: bool) -> None:
    local = Local(thread_critical=critical)

    async def set_in_task() -> contextvars.Context:
        local.value = "creator's task"
        return contextvars.copy_context()

    inherited = asyncio.run(set_in_task())

    async def read() -> bool:
        return hasattr(local, "value")

    if critical:
        assert on_thread(lambda: asyncio.run(read()), context=inherited) is False
    assert on_thread(lambda: hasattr(local, "value"), context=inherited) is False


def test_thread_critical_is_one_namespace_per_thread_whatever_the_context() -> None:
    local = Local(thread_critical=True)
    local.value = 1

    def in_copy() -> int:
        seen: int = local.value
        local.value = 2
        return seen

    assert contextvars.copy_context().run(in_copy) == 1
    assert local.value == 2
    contextvars.Context().run(delattr, local, "value")
    assert not hasattr(local, "value")


def test_default_local_follows_the_context_in_sync_code() -> None:
    local = Local()
    local.value = 1

    def in_copy() -> int:
        seen: int = local.value
        local.value = 2
        del local.value
        return seen

    assert contextvars.copy_context().run(in_copy) == 1
    assert local.value == 1  # deleting in the copy did not unset it here
    assert contextvars.Context().run(getattr, local, "value", None) is None


# -- asyncio tasks -----------------------------------------------------------------


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_task_sees_values_of_its_creator_at_creation(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "parent"
    started = asyncio.Event()
    go_on = asyncio.Event()

    async def child() -> tuple[str, str]:
        first = local.value
        started.set()
        await go_on.wait()
        second = local.value  # the parent's later write is not seen
        local.value = "child"
        return first, second

    task = asyncio.create_task(child())
    await started.wait()
    local.value = "parent, later"
    go_on.set()
    assert await task == ("parent", "parent")
    assert local.value == "parent, later"


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_sibling_tasks_never_see_each_other(critical: bool) -> None:
    local = Local(thread_critical=critical)
    barrier_count = 10
    written = 0
    all_written = asyncio.Event()

    async def sibling(n: int) -> int:
        nonlocal written
        local.value = n
        written += 1
        if written == barrier_count:
            all_written.set()
        await all_written.wait()
        value: int = local.value
        return value

    results = await asyncio.gather(*(sibling(n) for n in range(barrier_count)))
    assert results == list(range(barrier_count))
    assert not hasattr(local, "value")


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_deleting_in_a_task_does_not_unset_in_its_creator(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "kept"

    async def delete() -> bool:
        del local.value
        return hasattr(local, "value")

    assert await asyncio.create_task(delete()) is False
    assert local.value == "kept"


def test_thread_critical_sync_and_async_values_are_separate() -> None:
    local = Local(thread_critical=True)
    local.value = "sync"

    async def main() -> tuple[bool, str]:
        had = hasattr(local, "value")
        local.value = "async"
        return had, local.value

    assert asyncio.run(main()) == (False, "async")
    assert local.value == "sync"


def test_async_values_of_one_thread_are_not_seen_by_a_loop_in_another() -> None:
    # A task's context handed to another thread's loop (as asyncio.to_thread or
    # run_coroutine_threadsafe can do) must not carry thread_critical values.
    local = Local(thread_critical=True)

    async def set_value() -> contextvars.Context:
        local.value = "here"
        return contextvars.copy_context()

    context = asyncio.run(set_value())

    async def look() -> bool:
        return hasattr(local, "value")

    assert on_thread(lambda: asyncio.run(look()), context=context) is False
    assert context.run(asyncio.run, look()) is True  # same thread: still its own


# -- audit additions: threads, deletion, errors --------------------------------------


@pytest.mark.parametrize("critical", KINDS)
def test_a_new_thread_starts_empty_after_an_earlier_thread_ended(critical: bool) -> None:
    # Thread idents are reused once a thread ends (the next thread usually
    # gets the same one): a threading.local still starts empty.
    local = Local(thread_critical=critical)

    def first() -> None:
        local.value = "first thread's"

    def second() -> bool:
        return hasattr(local, "value")

    on_thread(first)
    assert [on_thread(second) for _ in range(3)] == [False] * 3
    assert not hasattr(local, "value")


@pytest.mark.parametrize("critical", KINDS)
def test_deleting_in_one_thread_does_not_unset_in_another(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "main"
    written = threading.Barrier(2)
    deleted = threading.Event()
    seen: dict[str, Any] = {}

    def deleter() -> None:
        local.value = "deleter's"
        written.wait(JOIN)
        del local.value
        seen["deleter"] = hasattr(local, "value")
        deleted.set()

    def keeper() -> None:
        local.value = "keeper's"
        written.wait(JOIN)
        assert deleted.wait(JOIN)
        seen["keeper"] = local.value

    threads = [threading.Thread(target=deleter), threading.Thread(target=keeper)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert seen == {"deleter": False, "keeper": "keeper's"}
    assert local.value == "main"


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_deleting_in_the_creator_does_not_unset_in_a_task(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "before the task"
    started = asyncio.Event()
    deleted = asyncio.Event()

    async def child() -> tuple[str, str]:
        first: str = local.value
        started.set()
        await deleted.wait()
        return first, local.value

    task = asyncio.create_task(child())
    await started.wait()
    del local.value
    deleted.set()
    assert await task == ("before the task", "before the task")
    assert not hasattr(local, "value")


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_deleting_in_a_sibling_task_does_not_unset_in_another(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.value = "shared at creation"
    deleted = asyncio.Event()

    async def deleter() -> bool:
        del local.value
        deleted.set()
        return hasattr(local, "value")

    async def keeper() -> str:
        await deleted.wait()
        value: str = local.value
        return value

    assert await asyncio.gather(deleter(), keeper()) == [False, "shared at creation"]
    assert local.value == "shared at creation"


def _assert_names(caught: pytest.ExceptionInfo[AttributeError], local: Local, name: str) -> None:
    assert repr(name) in str(caught.value)
    assert caught.value.name == name
    assert caught.value.obj is local


@pytest.mark.parametrize("critical", KINDS)
def test_attribute_error_names_the_attribute_on_read_and_delete(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(AttributeError) as caught:
        del local.never_set
    _assert_names(caught, local, "never_set")
    local.was_set = 1
    del local.was_set
    with pytest.raises(AttributeError) as caught:
        local.was_set
    _assert_names(caught, local, "was_set")
    with pytest.raises(AttributeError) as caught:
        del local.was_set
    _assert_names(caught, local, "was_set")


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.asyncio
async def test_attribute_error_names_the_attribute_in_async_code(critical: bool) -> None:
    local = Local(thread_critical=critical)
    with pytest.raises(AttributeError) as caught:
        local.missing_in_task
    _assert_names(caught, local, "missing_in_task")
    with pytest.raises(AttributeError) as caught:
        del local.missing_in_task
    _assert_names(caught, local, "missing_in_task")


@pytest.mark.parametrize("critical", KINDS)
def test_attribute_error_names_the_attribute_in_an_inheriting_thread(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.creators = "not for the child"

    def child() -> None:
        local.creators

    with pytest.raises(AttributeError) as caught:
        on_thread(child, context=contextvars.copy_context())
    _assert_names(caught, local, "creators")

    def delete() -> None:
        del local.creators

    with pytest.raises(AttributeError) as caught:
        on_thread(delete, context=contextvars.copy_context())
    _assert_names(caught, local, "creators")
    assert local.creators == "not for the child"


def test_default_local_main_task_of_asyncio_run_starts_with_the_sync_values() -> None:
    # asyncio.run copies the caller's context: its main task sees the sync
    # code's values at creation, and its writes stay in the task.
    local = Local()
    local.value = "sync"
    local.doomed = "sync"

    async def main() -> tuple[str, str]:
        seen: str = local.value
        local.value = "task"
        del local.doomed
        return seen, local.value

    assert asyncio.run(main()) == ("sync", "task")
    assert (local.value, local.doomed) == ("sync", "sync")
