"""Streaming bridges: `sync_iter_to_async` and `async_iter_to_sync` (issue 8, part 3)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from asgibridge import _runtime
from asgibridge._runtime import _state
from asgibridge.exceptions import AsyncToSyncInLoopError, IteratorLoopChangedError
from asgibridge.iterators import async_iter_to_sync, sync_iter_to_async
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

assert _runtime  # the package is imported for `_state`

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


class Recorder:
    """A sync generator factory that records what ran on which thread."""

    def __init__(self) -> None:
        self.produced: list[int] = []
        self.threads: set[int] = set()
        self.finally_thread: int | None = None
        self.closed = threading.Event()

    def gen(self, count: int | None = None) -> Iterator[int]:
        try:
            i = 0
            while count is None or i < count:
                self.threads.add(threading.get_ident())
                self.produced.append(i)
                yield i
                i += 1
        finally:
            self.finally_thread = threading.get_ident()
            self.closed.set()


# -- sync_iter_to_async --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
@pytest.mark.parametrize("buffer", [1, 2, 7])
async def test_yields_every_item_in_order(thread_sensitive: bool, buffer: int) -> None:
    recorder = Recorder()
    agen = sync_iter_to_async(recorder.gen(20), thread_sensitive=thread_sensitive, buffer=buffer)
    items = [item async for item in agen]
    assert items == list(range(20))
    if thread_sensitive:
        assert recorder.finally_thread in recorder.threads
    else:
        # The generator may move between pool threads (each batch is a pool
        # call), so the last, item-less batch may run on a thread of its own.
        assert recorder.finally_thread is not None
        assert recorder.finally_thread != threading.get_ident()
    assert threading.get_ident() not in recorder.threads


@pytest.mark.asyncio
async def test_plain_iterables_and_iter_called_on_the_producing_thread() -> None:
    called_on: list[int] = []

    class Lazy:
        def __iter__(self) -> Iterator[str]:
            called_on.append(threading.get_ident())
            return iter("abc")

    assert [c async for c in sync_iter_to_async(Lazy())] == ["a", "b", "c"]
    assert [c async for c in sync_iter_to_async([])] == []
    worker = await sync_to_async(threading.get_ident)()
    assert called_on == [worker]


@pytest.mark.asyncio
async def test_runs_on_the_thread_sync_to_async_picks() -> None:
    recorder = Recorder()
    agen = sync_iter_to_async(recorder.gen(5))
    assert [i async for i in agen] == [0, 1, 2, 3, 4]
    assert recorder.threads == {await sync_to_async(threading.get_ident)()}


@pytest.mark.asyncio
async def test_inside_a_thread_sensitive_context_and_closed_there_by_another_task() -> None:
    recorder = Recorder()
    async with ThreadSensitiveContext():
        context_thread = await sync_to_async(threading.get_ident)()
        agen = sync_iter_to_async(recorder.gen(), buffer=2)
        assert await agen.__anext__() == 0
        # Another task (no ThreadSensitiveContext of its own) closes it.
        await contextvars.Context().run(asyncio.create_task, agen.aclose())
    assert recorder.threads == {context_thread}
    assert recorder.finally_thread == context_thread
    assert context_thread != await sync_to_async(threading.get_ident)()


def test_thread_sensitive_production_comes_back_to_a_blocked_sync_caller() -> None:
    recorder = Recorder()

    async def consume() -> list[int]:
        return [i async for i in sync_iter_to_async(recorder.gen(6), buffer=2)]

    assert async_to_sync(consume)() == list(range(6))
    assert recorder.threads == {threading.get_ident()}
    assert recorder.finally_thread == threading.get_ident()


@pytest.mark.asyncio
async def test_back_pressure_stops_the_producer_at_buffer_items_ahead() -> None:
    recorder = Recorder()
    agen = sync_iter_to_async(recorder.gen(), buffer=4)
    async with contextlib.aclosing(agen):
        assert await agen.__anext__() == 0
        # The sync worker runs one item at a time: this hop runs after the batch,
        # which stopped with 4 items waiting (item 0 taken before or after that).
        await sync_to_async(lambda: None)()
        first_batch = len(recorder.produced)
        assert 4 <= first_batch <= 1 + 4
        await sync_to_async(lambda: None)()
        assert len(recorder.produced) == first_batch  # stopped, not just slow
        assert [await agen.__anext__() for _ in range(3)] == [1, 2, 3]
        await sync_to_async(lambda: None)()
        # Refilled once half the buffer was consumed, never beyond the bound.
        assert 4 < len(recorder.produced) <= 4 + 4
    assert recorder.finally_thread in recorder.threads


@pytest.mark.asyncio
async def test_early_break_with_aclosing_closes_on_the_generator_thread() -> None:
    recorder = Recorder()
    agen = sync_iter_to_async(recorder.gen(), buffer=3)
    async with contextlib.aclosing(agen):
        async for item in agen:
            if item == 2:
                break
    assert recorder.finally_thread is not None
    assert recorder.threads == {recorder.finally_thread}
    assert recorder.finally_thread != threading.get_ident()


@pytest.mark.asyncio
async def test_aclose_before_iterating_never_touches_the_iterable() -> None:
    class Untouchable:
        def __iter__(self) -> Iterator[int]:
            raise AssertionError("iter() must not be called")

    agen = sync_iter_to_async(Untouchable())
    await agen.aclose()
    with pytest.raises(StopAsyncIteration):
        await agen.__anext__()


@pytest.mark.asyncio
async def test_exception_reaches_the_consumer_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("boom at 3")

    agen = sync_iter_to_async(failing(), buffer=8)
    assert [await agen.__anext__(), await agen.__anext__()] == [1, 2]
    with pytest.raises(ValueError, match="boom at 3"):
        await agen.__anext__()


@pytest.mark.asyncio
async def test_exception_from_iter_reaches_the_consumer() -> None:
    class Broken:
        def __iter__(self) -> Iterator[int]:
            raise KeyError("no iterator")

    with pytest.raises(KeyError, match="no iterator"):
        await sync_iter_to_async(Broken()).__anext__()


@pytest.mark.asyncio
async def test_cancelling_the_consumer_stops_production_and_closes() -> None:
    release = threading.Event()
    blocked = threading.Event()
    recorder = Recorder()

    def slow() -> Iterator[int]:
        inner = recorder.gen()
        yield next(inner)
        blocked.set()
        release.wait(30)
        try:
            yield from inner
        finally:
            inner.close()

    got: list[int] = []
    started = asyncio.Event()

    async def consume() -> None:
        async for item in sync_iter_to_async(slow(), buffer=4):
            got.append(item)
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.to_thread(blocked.wait, 30)
    task.cancel()
    await asyncio.sleep(0)  # let the cancellation reach the waiting consumer
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == [0]
    # The consumer did not wait for the item in flight; its thread closes the
    # generator once that item is done: production stopped after it.
    assert await asyncio.to_thread(recorder.closed.wait, 30)
    assert recorder.produced == [0, 1]
    assert recorder.finally_thread in recorder.threads


@pytest.mark.asyncio
async def test_generator_sees_the_consumer_contextvars_copied_at_creation() -> None:
    def reader() -> Iterator[str]:
        yield request_id.get()
        request_id.set("changed inside")
        yield request_id.get()

    token = request_id.set("req-1")
    try:
        agen = sync_iter_to_async(reader())
        request_id.set("req-2")
        assert [v async for v in agen] == ["req-1", "changed inside"]
        assert request_id.get() == "req-2"
    finally:
        request_id.reset(token)


@pytest.mark.asyncio
async def test_nested_async_to_sync_in_the_generator_runs_on_the_consumer_loop() -> None:
    async def which_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def gen() -> Iterator[asyncio.AbstractEventLoop]:
        yield async_to_sync(which_loop)()

    assert [loop async for loop in sync_iter_to_async(gen())] == [asyncio.get_running_loop()]


def test_buffer_must_be_positive() -> None:
    with pytest.raises(ValueError, match="buffer must be at least 1"):
        sync_iter_to_async([], buffer=0)


# -- async_iter_to_sync --------------------------------------------------------------


class AsyncRecorder:
    def __init__(self) -> None:
        self.finally_ran = False
        self.loops: set[asyncio.AbstractEventLoop] = set()

    async def agen(self, count: int) -> AsyncIterator[int]:
        try:
            for i in range(count):
                self.loops.add(asyncio.get_running_loop())
                yield i
        finally:
            self.finally_ran = True


def test_async_iter_to_sync_yields_in_order_on_one_loop() -> None:
    recorder = AsyncRecorder()
    assert list(async_iter_to_sync(recorder.agen(10))) == list(range(10))
    assert recorder.finally_ran
    assert len(recorder.loops) == 1


def test_async_iter_to_sync_accepts_any_async_iterable() -> None:
    class Countdown:
        def __init__(self) -> None:
            self.n = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> int:
            if self.n == 0:
                raise StopAsyncIteration
            self.n -= 1
            return self.n

    assert list(async_iter_to_sync(Countdown())) == [2, 1, 0]


def test_async_iter_to_sync_close_propagates_aclose() -> None:
    recorder = AsyncRecorder()
    with contextlib.closing(async_iter_to_sync(recorder.agen(100))) as items:
        assert next(items) == 0
        assert next(items) == 1
        assert not recorder.finally_ran
    assert recorder.finally_ran


def test_async_iter_to_sync_thread_sensitive_work_comes_back_to_the_consumer() -> None:
    async def agen() -> AsyncIterator[int]:
        for _ in range(3):
            yield await sync_to_async(threading.get_ident)()

    assert set(async_iter_to_sync(agen())) == {threading.get_ident()}


def test_async_iter_to_sync_propagates_exceptions() -> None:
    async def agen() -> AsyncIterator[int]:
        yield 1
        raise LookupError("async boom")

    items = async_iter_to_sync(agen())
    assert next(items) == 1
    with pytest.raises(LookupError, match="async boom"):
        next(items)


def test_async_iter_to_sync_keeps_its_loop_alive_until_closed() -> None:
    recorder = AsyncRecorder()
    items = async_iter_to_sync(recorder.agen(5))
    assert next(items) == 0
    loop_thread = _state.tls.loop_owner.loop_thread
    assert loop_thread._pins == 1
    items.close()
    assert loop_thread._pins == 0
    assert recorder.finally_ran


def test_async_iter_to_sync_refuses_another_loop() -> None:
    recorder = AsyncRecorder()
    items = async_iter_to_sync(recorder.agen(5))
    assert next(items) == 0
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            next(items)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(30)
    assert len(errors) == 1
    assert isinstance(errors[0], IteratorLoopChangedError)
    assert isinstance(errors[0], RuntimeError)
    assert "AsyncSingleThreadContext" in str(errors[0])


@pytest.mark.asyncio
async def test_async_iter_to_sync_inside_a_running_loop_raises() -> None:
    recorder = AsyncRecorder()
    items = async_iter_to_sync(recorder.agen(1))
    with pytest.raises(AsyncToSyncInLoopError):
        next(items)


@pytest.mark.asyncio
async def test_dropping_after_break_closes_through_the_asyncgen_finalizer() -> None:
    closed = threading.Event()
    recorder = Recorder()

    def gen() -> Iterator[int]:
        try:
            yield from recorder.gen()
        finally:
            closed.set()

    async for item in sync_iter_to_async(gen(), buffer=2):
        if item == 1:
            break
    # The async generator is unreferenced: asyncio's finalizer schedules its aclose().
    assert await asyncio.to_thread(closed.wait, 30)
    assert recorder.finally_thread in recorder.threads
