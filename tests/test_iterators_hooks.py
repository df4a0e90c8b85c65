"""The streaming bridges and the instrumentation: listeners, thread handlers, hang deadline.

Each production batch of `sync_iter_to_async` (and the final ``close()`` of a
generator closed early) is one sync_to_async hop for the hooks; each item of
`async_iter_to_sync` is one async_to_sync hop. Hang tests use small deadlines
(restored by the fixtures) and must end fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

import pytest

from asgibridge._runtime import _state
from asgibridge.exceptions import BridgeDeadlockError
from asgibridge.instrumentation import HopInfo, add_hop_listener, add_thread_handler, stats
from asgibridge.iterators import async_iter_to_sync, sync_iter_to_async
from hang_fixtures import Flag

JOIN = 10.0
FAST = 5.0  # a hang test must end well before this (its deadline is 0.2 s)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


class Listener:
    """Records every hop start and end; ``ended`` can be awaited from the loop."""

    def __init__(self) -> None:
        self.started: list[HopInfo] = []
        self.ended: list[HopInfo] = []
        self.loop = asyncio.get_running_loop() if asyncio._get_running_loop() else None
        self.first_end = asyncio.Event() if self.loop is not None else None

    def on_start(self, info: HopInfo) -> HopInfo:
        self.started.append(info)
        return info

    def on_end(self, info: HopInfo, state: Any) -> None:
        self.ended.append(state)  # what on_start returned: the same HopInfo
        if self.loop is not None and self.first_end is not None:
            self.loop.call_soon_threadsafe(self.first_end.set)


class Produced:
    """What a sync generator saw while producing: threads, handler state, its finally."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.inside_handler: list[HopInfo | None] = []
        self.finally_thread: int | None = None
        self.finally_inside_handler: HopInfo | None = None


active = threading.local()  # the HopInfo of the thread handler active on this thread


def numbers(count: int, seen: Produced) -> Iterator[int]:
    try:
        for i in range(count):
            seen.threads.add(threading.get_ident())
            seen.inside_handler.append(getattr(active, "info", None))
            yield i
    finally:
        seen.finally_thread = threading.get_ident()
        seen.finally_inside_handler = getattr(active, "info", None)


def fails_after_two(seen: Produced) -> Iterator[int]:
    seen.threads.add(threading.get_ident())
    yield 0
    yield 1
    raise ValueError("generator boom")


def stalls(release: threading.Event, closed: threading.Event) -> Iterator[int]:
    try:
        yield 0
        release.wait(JOIN)
        yield 1
    finally:
        closed.set()


async def ticks(count: int) -> AsyncIterator[int]:
    for i in range(count):
        await asyncio.sleep(0)
        yield i


async def ticks_then_fails() -> AsyncIterator[int]:
    yield 0
    raise LookupError("async boom")


async def never_ticks(started: threading.Event) -> AsyncIterator[int]:
    started.set()
    await asyncio.Event().wait()
    yield 0


async def collect(agen: AsyncGenerator[int, None], into: list[int]) -> None:
    async with contextlib.aclosing(agen):
        async for item in agen:  # the call site a hang report must name
            into.append(item)


def _each_once(started: list[HopInfo], ended: list[HopInfo]) -> None:
    assert len({id(i) for i in started}) == len(started)
    assert {id(i) for i in started} == {id(i) for i in ended}
    assert len(ended) == len(started)


# -- sync_iter_to_async: hop listeners ------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_listeners_see_one_sync_to_async_hop_per_batch(thread_sensitive: bool) -> None:
    listener = Listener()
    seen = Produced()
    gen = numbers(10, seen)
    with add_hop_listener(listener.on_start, listener.on_end):
        agen = sync_iter_to_async(gen, thread_sensitive=thread_sensitive, buffer=4)
        async with contextlib.aclosing(agen):
            items = [await agen.__anext__()]
            assert listener.first_end is not None
            await asyncio.wait_for(listener.first_end.wait(), JOIN)
            # Nobody consumed meanwhile: the first batch stopped with the buffer full.
            assert len(listener.ended) == 1
            items += [item async for item in agen]
    assert items == list(range(10))
    assert len(listener.started) >= 2  # the first batch could not produce everything
    _each_once(listener.started, listener.ended)
    if thread_sensitive:
        assert len(seen.threads) == 1  # False: batches may move between pool threads
    for info in listener.ended:
        assert info.direction == "sync_to_async"
        assert info.name == f"{__name__}.numbers"
        assert info.function is gen
        assert info.loop is asyncio.get_running_loop()
        assert info.thread_name is not None
        assert info.thread_name.startswith("asgibridge-")
        assert info.thread_ident != threading.get_ident()
        if thread_sensitive:
            assert info.thread_ident in seen.threads
        assert info.exception is None
        assert not info.cancelled
        assert info.queue_wait is not None
        assert info.run_time is not None


@pytest.mark.asyncio
async def test_the_batch_that_raised_reports_the_generators_exception() -> None:
    listener = Listener()
    seen = Produced()
    with add_hop_listener(listener.on_start, listener.on_end):
        items: list[int] = []
        with pytest.raises(ValueError, match="generator boom") as raised:
            await collect(sync_iter_to_async(fails_after_two(seen), buffer=8), items)
    assert items == [0, 1]
    _each_once(listener.started, listener.ended)
    # The consumer got the end of the stream after the batch's on_end had run.
    failed = [info for info in listener.ended if info.exception is not None]
    assert [info.exception for info in failed] == [raised.value]
    assert failed[0].name == f"{__name__}.fails_after_two"
    assert failed[0].thread_ident in seen.threads


@pytest.mark.asyncio
async def test_closing_early_reports_the_close_on_the_generators_thread() -> None:
    listener = Listener()
    seen = Produced()
    with add_hop_listener(listener.on_start, listener.on_end):
        agen = sync_iter_to_async(numbers(100, seen), buffer=2)
        async with contextlib.aclosing(agen):
            assert await agen.__anext__() == 0
    assert seen.finally_thread in seen.threads
    _each_once(listener.started, listener.ended)
    assert len(listener.ended) >= 2  # at least one batch, then close()
    assert {info.name for info in listener.ended} == {f"{__name__}.numbers"}
    assert {info.thread_ident for info in listener.ended} == seen.threads


def test_nothing_registered_builds_nothing_for_the_iterators(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Zero cost with nothing registered: no HopInfo, no traced hop, no watchdog.
    from asgibridge._runtime.extras import _iterators

    built: list[str] = []

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        built.append(repr(args[:1]))
        raise AssertionError("instrumentation object built with nothing registered")

    for name in ("HopInfo", "StreamWatchdog", "Watchdog"):
        monkeypatch.setattr(_iterators, name, forbidden)

    async def consume() -> list[int]:
        return [item async for item in sync_iter_to_async(range(5), buffer=2)]

    assert not _state.traced
    assert asyncio.run(consume()) == list(range(5))
    assert list(async_iter_to_sync(ticks(3))) == [0, 1, 2]
    assert built == []
    with add_hop_listener(on_end=lambda info, _: None), pytest.raises(AssertionError):
        asyncio.run(consume())
    assert built


# -- sync_iter_to_async: thread handlers ----------------------------------------------


@contextlib.contextmanager
def marks_thread(info: HopInfo, log: list[tuple[str, int, Any]]) -> Iterator[None]:
    log.append(("enter", threading.get_ident(), info))
    active.info = info
    try:
        yield
    except BaseException as exc:
        log.append(("error", threading.get_ident(), exc))
        raise
    finally:
        active.info = None
        log.append(("exit", threading.get_ident(), info))


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_thread_handler_wraps_each_batch_on_its_thread(thread_sensitive: bool) -> None:
    log: list[tuple[str, int, Any]] = []
    seen = Produced()
    with add_thread_handler(lambda info: marks_thread(info, log)):
        agen = sync_iter_to_async(numbers(50, seen), thread_sensitive=thread_sensitive, buffer=4)
        async with contextlib.aclosing(agen):
            async for item in agen:
                if item == 20:
                    break
    if thread_sensitive:
        assert len(seen.threads) == 1  # one thread for the generator's life
    # thread_sensitive=False: each batch is one item of the bounded pool, so the
    # generator may move between pool threads; handlers follow it on each.
    logged = {entry[1] for entry in log}
    assert threading.get_ident() not in logged
    assert seen.threads <= logged  # every producing batch was wrapped on its thread
    assert seen.finally_thread in logged  # and so was the final close()
    if thread_sensitive:
        assert logged == seen.threads
    assert [entry[0] for entry in log] == ["enter", "exit"] * (len(log) // 2)
    entered = [entry[2] for entry in log if entry[0] == "enter"]
    assert len(entered) >= 2  # at least one batch, then close()
    # Every item was produced inside a handler entered for the batch producing it,
    # and the generator's finally (the close() after the break) inside one too.
    assert all(info is not None for info in seen.inside_handler)
    assert {id(info) for info in seen.inside_handler} <= {id(info) for info in entered}
    assert seen.finally_thread in seen.threads | {entry[1] for entry in log}
    assert seen.finally_inside_handler is entered[-1]
    for info in entered:
        assert info.direction == "sync_to_async"
        assert info.name == f"{__name__}.numbers"


@pytest.mark.asyncio
async def test_thread_handler_sees_the_generators_error_but_not_its_normal_end() -> None:
    log: list[tuple[str, int, Any]] = []
    with add_thread_handler(lambda info: marks_thread(info, log)):
        assert [i async for i in sync_iter_to_async(numbers(3, Produced()))] == [0, 1, 2]
        assert [entry for entry in log if entry[0] == "error"] == []
        with pytest.raises(ValueError, match="generator boom") as raised:
            async for _item in sync_iter_to_async(fails_after_two(Produced())):
                pass
    errors = [entry[2] for entry in log if entry[0] == "error"]
    assert errors == [raised.value]


@pytest.mark.asyncio
async def test_thread_handler_runs_in_the_consumers_context_copy() -> None:
    seen: list[str] = []

    @contextlib.contextmanager
    def reads_context(info: HopInfo) -> Iterator[None]:
        seen.append(request_id.get())
        yield

    request_id.set("request-7")
    with add_thread_handler(reads_context):
        assert [i async for i in sync_iter_to_async(range(3))] == [0, 1, 2]
    assert seen
    assert set(seen) == {"request-7"}


# -- sync_iter_to_async: the hang deadline --------------------------------------------


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_a_stuck_batch_is_reported_to_the_consumer(thread_sensitive: bool) -> None:
    release = threading.Event()
    closed = threading.Event()
    began = time.monotonic()
    items: list[int] = []
    try:
        agen = sync_iter_to_async(stalls(release, closed), thread_sensitive=thread_sensitive)
        with pytest.raises(BridgeDeadlockError) as raised:
            await collect(agen, items)
        assert time.monotonic() - began < FAST
    finally:
        release.set()
    assert items == [0]
    text = str(raised.value)
    assert "sync_iter_to_async" in text
    assert f"{__name__}.stalls" in text
    assert f"{__file__}:" in text
    assert " in collect" in text  # the innermost frame of the consumer's await chain
    assert "release.wait(JOIN)" in text  # the producing thread's current stack
    # The abandoned batch ends once released; the generator is then closed on its thread.
    assert await asyncio.get_running_loop().run_in_executor(None, closed.wait, JOIN)
    assert any(name.endswith("stalls") for name in stats()["abandoned_by_function"])


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_warn")
async def test_a_stuck_batch_is_logged_once_in_warn_mode(flag: Flag) -> None:
    def waits_for_the_warning() -> Iterator[int]:
        yield 0
        flag.event.wait(JOIN)
        yield 1
        yield 2

    items = [item async for item in sync_iter_to_async(waits_for_the_warning())]
    assert items == [0, 1, 2]
    assert len(flag.records) == 1
    text = flag.records[0].getMessage()
    assert "sync_iter_to_async" in text
    assert "waits_for_the_warning" in text


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
async def test_a_slow_consumer_of_a_long_batch_is_not_a_hang() -> None:
    # A batch may run as long as the consumer keeps taking items; only a wait
    # for an item counts, so a stream longer than the deadline is no hang.
    step = threading.Event()

    def paced() -> Iterator[int]:
        for i in range(6):
            step.wait(JOIN)
            step.clear()
            yield i

    agen = sync_iter_to_async(paced(), buffer=64)
    loop = asyncio.get_running_loop()
    got: list[int] = []
    async with contextlib.aclosing(agen):
        for _ in range(6):
            loop.call_later(0.05, step.set)  # 6 x 0.05 s: longer than the 0.2 s deadline
            got.append(await agen.__anext__())
    assert got == list(range(6))


# -- async_iter_to_sync -----------------------------------------------------------------


def test_async_iter_to_sync_reports_each_item_as_an_async_to_sync_hop() -> None:
    listener = Listener()
    agen = ticks(3)
    with add_hop_listener(listener.on_start, listener.on_end):
        assert list(async_iter_to_sync(agen)) == [0, 1, 2]
    _each_once(listener.started, listener.ended)
    assert len(listener.ended) >= 3
    for info in listener.ended:
        assert info.direction == "async_to_sync"
        assert info.name == f"{__name__}.ticks"
        assert info.function is agen
        assert info.thread_ident == threading.get_ident()
        assert info.exception is None


def test_async_iter_to_sync_reports_the_async_iterators_exception() -> None:
    listener = Listener()
    with add_hop_listener(listener.on_start, listener.on_end):
        items = async_iter_to_sync(ticks_then_fails())
        assert next(items) == 0
        with pytest.raises(LookupError, match="async boom") as raised:
            next(items)
    _each_once(listener.started, listener.ended)
    failed = [info for info in listener.ended if info.exception is not None]
    assert [info.exception for info in failed] == [raised.value]
    assert failed[0].name == f"{__name__}.ticks_then_fails"


@pytest.mark.usefixtures("hang_raise")
def test_async_iter_to_sync_stuck_item_is_reported() -> None:
    began = time.monotonic()
    with pytest.raises(BridgeDeadlockError) as raised:
        for _item in async_iter_to_sync(never_ticks(threading.Event())):  # the call site
            pass
    assert time.monotonic() - began < FAST
    text = str(raised.value)
    assert "async_to_sync" in text
    assert f"{__file__}:" in text
    assert "test_async_iter_to_sync_stuck_item_is_reported" in text


@pytest.mark.usefixtures("hang_warn")
def test_async_iter_to_sync_stuck_item_is_logged_once_in_warn_mode(flag: Flag) -> None:
    async def waits_for_the_warning() -> AsyncIterator[int]:
        while not flag.event.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # more health checks: still one report
        yield 1

    assert list(async_iter_to_sync(waits_for_the_warning())) == [1]
    assert len(flag.records) == 1
    assert "async_to_sync" in flag.records[0].getMessage()


@pytest.mark.asyncio
async def test_time_left_in_a_traced_batch_is_still_the_consumers_deadline() -> None:
    from asgibridge.cancellation import time_left

    def budgets() -> Iterator[float | None]:
        yield time_left()

    async def consume() -> list[float | None]:
        return [b async for b in sync_iter_to_async(budgets())]

    with add_hop_listener(on_end=lambda info, _: None):
        (left,) = await asyncio.wait_for(consume(), 30)
    assert left is not None
    assert 0 < left <= 30
