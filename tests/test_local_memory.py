"""Local and memory: no reference cycles, values freed by refcounting, no growth.

Cycle checks run with the collector disabled and ``gc.DEBUG_SAVEALL`` (what
a collection would find lands in ``gc.garbage``); "freed by refcounting"
checks use weakrefs to the values with the collector disabled; growth checks
count the memory still held by allocations made in ``_local.py``
(tracemalloc) after many threads or tasks came and went.

Free-threaded builds (no GIL) free some objects later than refcounting would:
an object released by a thread other than the one that made it is queued for
its owner (biased reference counting) and freed at the owner's next merge or
by the collector, and some objects have deferred reference counts. That is
the interpreter's choice, not a leak, so `settle` runs the collector there
before a "freed" or "no growth" check (cycle detection off for that run: the
cycle checks are separate and need the GIL). With the GIL `settle` does
nothing and the checks stay strict.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import gc
import sys
import threading
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import asgibridge._runtime._local as local_module
from asgibridge.local import Local
from asgibridge.sync import async_to_sync, sync_to_async

JOIN = 10.0
KINDS = [pytest.param(False, id="default"), pytest.param(True, id="thread_critical")]
LOCAL_SOURCE = str(Path(local_module.__file__).resolve())
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
needs_gil = pytest.mark.skipif(
    FREE_THREADED,
    reason="free-threaded build: the collector, not refcounting, frees some objects there",
)


def settle() -> None:
    """Free what is only waiting to be freed (free-threaded builds; see the module docs)."""
    if FREE_THREADED:
        debug = gc.get_debug()
        gc.set_debug(0)
        try:
            gc.collect()
        finally:
            gc.set_debug(debug)


class Value:
    """A value that can be weakly referenced."""


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Collector off; anything a collection would free is kept in gc.garbage."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def cycles_of_ours() -> list[object]:
    """What the collector found that belongs to a Local under test.

    With DEBUG_SAVEALL, a cycle through a Local, its values, its boxes or its
    ContextVars puts those very objects in ``gc.garbage``. Other garbage (a
    suspended generator another test dropped, freed while this one runs) is
    not the Local's and is ignored.
    """

    def ours(obj: object) -> bool:
        if isinstance(obj, (Local, Value)):
            return True
        if isinstance(obj, contextvars.ContextVar):
            return obj.name.startswith("asgibridge.local")
        return isinstance(obj, tuple) and any(isinstance(item, Value) for item in obj)

    return [obj for obj in gc.garbage if ours(obj)]


def exercise(local: Local) -> None:
    """Every operation, hits and misses."""
    local.a = Value()
    local.a = Value()
    _ = local.a
    _ = getattr(local, "missing", None)
    try:
        local.missing
    except AttributeError:
        pass
    try:
        del local.missing
    except AttributeError:
        pass
    del local.a
    local.b = Value()
    dir(local)


def run_thread(target: Callable[[], object]) -> None:
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()


@needs_gil
@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("no_gc")
def test_no_reference_cycles(critical: bool) -> None:
    local = Local(thread_critical=critical)
    exercise(local)
    contextvars.copy_context().run(exercise, local)
    run_thread(functools.partial(exercise, local))
    del local
    gc.collect()
    assert cycles_of_ours() == []


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("no_gc")
def test_local_holds_no_hidden_references(critical: bool) -> None:
    local = Local(thread_critical=critical)
    baseline = sys.getrefcount(local)
    exercise(local)
    contextvars.copy_context().run(exercise, local)
    run_thread(lambda: exercise(local))
    assert sys.getrefcount(local) == baseline


@pytest.mark.usefixtures("no_gc")
def test_thread_critical_sync_values_die_with_the_local() -> None:
    local = Local(thread_critical=True)
    value = Value()
    ref = weakref.ref(value)
    local.value = value
    del value
    assert ref() is not None
    del local
    settle()
    assert ref() is None


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("no_gc")
def test_values_die_with_the_thread(critical: bool) -> None:
    local = Local(thread_critical=critical)
    refs: list[weakref.ref[Value]] = []

    def worker() -> None:
        value = Value()
        refs.append(weakref.ref(value))
        local.value = value
        local.value = Value()  # the replaced value is freed at once, too
        refs.append(weakref.ref(local.value))

    run_thread(worker)
    settle()
    assert [ref() for ref in refs] == [None, None]


@pytest.mark.usefixtures("no_gc")
def test_values_die_with_the_context() -> None:
    local = Local()
    value = Value()
    ref = weakref.ref(value)
    context = contextvars.Context()
    context.run(setattr, local, "value", value)
    del value
    assert context.run(getattr, local, "value") is ref()
    del context
    settle()
    assert ref() is None


@pytest.mark.parametrize("critical", KINDS)
def test_values_die_with_the_task(critical: bool) -> None:
    local = Local(thread_critical=critical)
    refs: list[weakref.ref[Value]] = []

    async def task() -> None:
        value = Value()
        refs.append(weakref.ref(value))
        local.value = value

    async def main() -> None:
        gc.disable()
        try:
            done = asyncio.create_task(task())
            await done
            del done
            # The loop's handle that woke us up still holds the task until
            # this step ends; one more step lets it go.
            await asyncio.sleep(0)
            settle()
            assert refs[0]() is None
        finally:
            gc.enable()

    asyncio.run(main())


def _held_by_local_module() -> int:
    settle()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, LOCAL_SOURCE)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("traced")
def test_no_growth_per_thread(critical: bool) -> None:
    local = Local(thread_critical=critical)

    def worker() -> None:
        local.a = object()
        local.b = [1, 2, 3]
        _ = local.a, getattr(local, "c", None)

    def batch() -> None:
        for _ in range(100):
            run_thread(worker)

    batch()  # first use: the per-name variables are made here
    before = _held_by_local_module()
    batch()
    batch()
    # A leak of one box per thread would be 200 * ~60 bytes.
    assert _held_by_local_module() - before < 2000


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("traced")
def test_no_growth_per_task(critical: bool) -> None:
    local = Local(thread_critical=critical)

    async def request(n: int) -> None:
        local.a = n
        local.b = [n]
        await asyncio.sleep(0)
        del local.a

    async def batch() -> None:
        await asyncio.gather(*(request(n) for n in range(500)))

    async def main() -> int:
        await batch()
        before = _held_by_local_module()
        await batch()
        await batch()
        return _held_by_local_module() - before

    assert asyncio.run(main()) < 2000


@pytest.mark.usefixtures("traced")
def test_no_growth_per_local() -> None:
    # Used in contexts that end (requests, tasks, threads). A value left in a
    # context that lives on stays there, as with any ContextVar.
    def batch() -> None:
        for critical in (False, True) * 100:
            local = Local(thread_critical=critical)
            contextvars.Context().run(exercise, local)
            if critical:
                exercise(local)

    batch()
    before = _held_by_local_module()
    batch()
    batch()
    assert _held_by_local_module() - before < 2000


# -- audit additions: async code and the bridge ------------------------------------------


async def _exercise_async(local: Local) -> None:
    """Every operation in a task, in a child task, and in sync callees both ways."""
    exercise(local)
    await asyncio.create_task(_exercise_in_task(local))
    await sync_to_async(exercise)(local)
    await sync_to_async(exercise, thread_sensitive=False)(local)


async def _exercise_in_task(local: Local) -> None:
    exercise(local)


def _exercise_everywhere(local: Local) -> None:
    asyncio.run(_exercise_async(local))
    exercise(local)

    async def callee() -> None:
        exercise(local)

    async_to_sync(callee)()


@needs_gil
@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("no_gc")
def test_no_reference_cycles_in_async_code_or_through_the_bridge(critical: bool) -> None:
    _exercise_everywhere(Local(thread_critical=critical))  # the bridge's own first-use state
    gc.collect()
    gc.garbage.clear()
    local = Local(thread_critical=critical)
    _exercise_everywhere(local)
    del local
    gc.collect()
    assert cycles_of_ours() == []


@pytest.mark.usefixtures("no_gc")
def test_values_written_through_the_bridge_are_freed_by_refcounting() -> None:
    local = Local()
    refs: list[weakref.ref[Value]] = []

    def sync_callee() -> None:
        value = Value()
        refs.append(weakref.ref(value))
        local.from_sync = value

    async def task() -> list[bool]:
        await sync_to_async(sync_callee)()
        await sync_to_async(sync_callee, thread_sensitive=False)()
        # The second value replaced the first, and is held by this task.
        return [ref() is not None for ref in refs]

    alive = asyncio.run(task())
    settle()
    assert alive == [False, True] or FREE_THREADED  # there the first may wait for a merge
    assert [ref() for ref in refs] == [None, None]

    async def async_callee() -> None:
        value = Value()
        refs.append(weakref.ref(value))
        local.from_async = value

    async_to_sync(async_callee)()
    assert refs[2]() is local.from_async  # carried back to this thread
    local.from_async = None
    assert refs[2]() is None


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.usefixtures("traced")
def test_no_growth_per_bridge_call(critical: bool) -> None:
    local = Local(thread_critical=critical)

    def sync_callee(n: int) -> None:
        local.a = n
        local.b = [n]
        _ = getattr(local, "c", None)

    async def async_callee(n: int) -> None:
        local.a = n
        local.b = [n]
        await sync_to_async(sync_callee)(n)

    async def requests() -> None:
        for n in range(100):
            await sync_to_async(sync_callee, thread_sensitive=n % 2 == 0)(n)

    def batch() -> None:
        asyncio.run(requests())
        for n in range(100):
            async_to_sync(async_callee)(n)

    batch()
    before = _held_by_local_module()
    batch()
    batch()
    # A leak of one box per call would be 600 * ~60 bytes.
    assert _held_by_local_module() - before < 2000


class HoldingExecutor(concurrent.futures.Executor):
    """Runs each call on its own thread, then keeps the call until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[threading.Thread] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def hold() -> None:
            future.set_result(fn(*args, **kwargs))
            self.release.wait(JOIN)  # ``fn`` (the bridge's work item) is still referenced

        thread = threading.Thread(target=hold)
        self.threads.append(thread)
        thread.start()
        return future


def test_a_finished_call_keeps_no_value_alive_while_its_thread_holds_on() -> None:
    # The thread that ran a sync_to_async call may keep the bridge's work item a
    # while after delivering the result (a pool worker until it takes its next
    # item). The callee's context, and the values it set, must not live on in it.
    local = Local()
    executor = HoldingExecutor()
    refs: list[weakref.ref[Value]] = []

    def callee() -> None:
        value = Value()
        refs.append(weakref.ref(value))
        local.value = value

    async def caller() -> None:
        await sync_to_async(callee, thread_sensitive=False, executor=executor)()
        local.value = None  # the caller drops the value it got back

    try:
        contextvars.Context().run(asyncio.run, caller())
        assert refs[0]() is None
    finally:
        executor.release.set()
        for thread in executor.threads:
            thread.join(JOIN)
