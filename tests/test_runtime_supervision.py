"""Supervised runtime threads: whatever user code, listeners or handlers raise, none dies.

Faults are injected, never waited for: listeners and handlers that raise
BaseExceptions, ``Thread.start`` patched to fail, work items that break the
worker's contract, a task that raises KeyboardInterrupt on a persistent loop.
Each test then checks that the call that met the fault ended with a clear
outcome and that the *next* call still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge.instrumentation import add_hop_listener, add_thread_handler
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

JOIN = 10.0


class Custom(BaseException):
    """A BaseException that is neither KeyboardInterrupt nor SystemExit."""


BASE_EXCEPTIONS = [KeyboardInterrupt, SystemExit, Custom]


def _call(value: int, *, thread_sensitive: bool = True) -> Any:
    # A KeyboardInterrupt/SystemExit is caught inside the task and re-raised
    # here: asyncio would otherwise re-raise it out of the loop and log the task.
    async def main() -> tuple[Any, BaseException | None]:
        try:
            call = sync_to_async(lambda: value, thread_sensitive=thread_sensitive)
            return await asyncio.wait_for(call(), JOIN), None
        except BaseException as exc:
            return None, exc

    result, error = asyncio.run(main())
    if error is not None:
        raise error
    return result


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
@pytest.mark.parametrize("thread_sensitive", [True, False])
def test_listener_base_exception_is_the_calls_outcome_and_the_worker_lives(
    kind: type[BaseException], thread_sensitive: bool
) -> None:
    """A listener's on_end raising a BaseException on the worker reaches the caller."""
    raised_on: list[str] = []

    def on_end(info: Any, state: Any) -> None:
        if not raised_on:
            raised_on.append(threading.current_thread().name)
            raise kind("from a listener")

    with add_hop_listener(on_end=on_end), pytest.raises(kind):
        _call(1, thread_sensitive=thread_sensitive)
    assert raised_on[0].startswith("asgibridge-")
    assert _call(2, thread_sensitive=thread_sensitive) == 2


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_thread_handler_base_exception_is_the_calls_outcome(kind: type[BaseException]) -> None:
    """A thread handler that raises a BaseException on entry fails that call only."""
    armed = [True]

    @contextlib.contextmanager
    def handler(info: Any) -> Iterator[None]:
        if armed:
            armed.clear()
            raise kind("from a handler")
        yield

    with add_thread_handler(handler):
        with pytest.raises(kind):
            _call(1)
        assert _call(2) == 2


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_user_function_base_exception_reaches_the_caller(kind: type[BaseException]) -> None:
    """A sync function raising KeyboardInterrupt/SystemExit: the caller gets it."""

    def boom() -> None:
        raise kind("from user code")

    async def main() -> BaseException | None:
        try:
            await sync_to_async(boom)()
        except BaseException as exc:
            return exc
        return None

    assert isinstance(asyncio.run(main()), kind)
    assert _call(3) == 3


class _BrokenItem:
    """A work item that breaks the contract (its run raises); the worker must survive it."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def run(self) -> None:
        self.ran.set()
        raise KeyboardInterrupt("a work item broke the contract")

    def fail(self, exc: BaseException) -> None:  # pragma: no cover - never failed here
        raise AssertionError("not expected")


def test_a_work_item_that_raises_is_logged_and_counted_and_the_worker_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The guard of a worker's loop logs and counts an escaped BaseException."""
    from asgibridge._runtime.threads._workers import get_sync_worker

    assert _call(0) == 0
    before = asgibridge.runtime_stats()["unhandled_errors"]
    worker = get_sync_worker()
    item = _BrokenItem()
    worker.submit(item)
    assert item.ran.wait(JOIN)
    assert _call(4) == 4
    assert get_sync_worker() is worker  # the same thread served on
    assert asgibridge.runtime_stats()["unhandled_errors"] == before + 1
    assert any("KeyboardInterrupt" in record.getMessage() for record in caplog.records)


def test_a_sync_worker_that_left_is_replaced_and_its_queue_runs_elsewhere() -> None:
    """Work queued on a sync worker behind its exit runs on its replacement (never stranded)."""
    from asgibridge._runtime.threads import _workers

    assert _call(0) == 0
    worker = _workers.get_sync_worker()
    gate = threading.Event()
    busy = threading.Event()

    def hold() -> None:
        busy.set()
        gate.wait(JOIN)

    async def main() -> list[Any]:
        held = asyncio.create_task(sync_to_async(hold)())
        await asyncio.to_thread(busy.wait, JOIN)
        # The worker is told to leave while a call is queued behind the marker.
        worker.queue.put(_workers._STOP)
        queued = asyncio.create_task(sync_to_async(threading.current_thread)())
        await asyncio.sleep(0)  # the queued call is now behind the stop marker
        gate.set()
        return await asyncio.wait_for(asyncio.gather(held, queued), JOIN)

    _, ran_on = asyncio.run(main())
    assert ran_on is not worker.thread
    assert ran_on.name.startswith("asgibridge-sync-")
    assert _workers.get_sync_worker() is not worker


# -- Thread.start failing ---------------------------------------------------------------


@pytest.fixture
def failing_starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next N starts of asgibridge threads raise as when the process hits its limit."""
    remaining = [0]
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if remaining[0] > 0 and self.name.startswith("asgibridge-"):
            remaining[0] -= 1
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return remaining


def _expect_start_error(run: Any) -> None:
    with pytest.raises(RuntimeError) as raised:
        run()
    text = str(raised.value)
    assert "can't start new thread" in text
    assert "max_workers" in text  # which limit to lower
    assert "asgibridge's" in text  # how many runtime threads exist


def test_pool_start_failures_leave_no_phantom_workers(failing_starts: list[int]) -> None:
    """Two failed starts with max_workers=2: both callers fail, the third call runs."""
    previous = asgibridge.configure(max_workers=2)
    try:
        asgibridge.shutdown()  # a fresh pool with the new bound
        failing_starts[0] = 2
        _expect_start_error(lambda: _call(1, thread_sensitive=False))
        _expect_start_error(lambda: _call(2, thread_sensitive=False))
        assert asgibridge.runtime_stats()["pool_threads"] == 0
        assert _call(3, thread_sensitive=False) == 3
        assert asgibridge.runtime_stats()["pool_threads"] == 1
        assert asgibridge.shutdown() == []
    finally:
        asgibridge.configure(**previous)


def test_sync_worker_start_failure_fails_the_call_and_the_next_call_retries(
    failing_starts: list[int],
) -> None:
    asgibridge.shutdown()
    failing_starts[0] = 1
    _expect_start_error(lambda: _call(1))
    assert _call(2) == 2
    assert asgibridge.shutdown() == []


def test_sticky_worker_start_failure_fails_the_call_inside_the_context(
    failing_starts: list[int],
) -> None:
    async def request() -> Any:
        async with ThreadSensitiveContext():
            return await sync_to_async(lambda: "ok")()

    failing_starts[0] = 1
    _expect_start_error(lambda: asyncio.run(request()))
    assert asyncio.run(request()) == "ok"
    assert asgibridge.runtime_stats()["sticky_threads"] == 1


def test_loop_thread_start_failure_fails_async_to_sync_and_registers_nothing(
    failing_starts: list[int],
) -> None:
    async def answer() -> int:
        return 42

    outcomes: list[Any] = []

    def caller() -> None:
        failing_starts[0] = 1
        try:
            async_to_sync(answer)()
        except RuntimeError as exc:
            outcomes.append(exc)
        outcomes.append(async_to_sync(answer)())

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(JOIN)
    assert isinstance(outcomes[0], RuntimeError)
    assert "can't start new thread" in str(outcomes[0])
    assert outcomes[1] == 42
    assert asgibridge.shutdown() == []


# -- loop supervision -------------------------------------------------------------------


def test_keyboard_interrupt_in_a_task_does_not_end_the_persistent_loop() -> None:
    """asyncio re-raises KeyboardInterrupt out of run_forever; the loop thread runs on."""

    async def interrupt() -> None:
        raise KeyboardInterrupt("raised in a task")

    async def loop_thread_name() -> str:
        return threading.current_thread().name

    results: list[Any] = []

    def caller() -> None:
        first = async_to_sync(loop_thread_name)()
        try:
            async_to_sync(interrupt)()
        except KeyboardInterrupt as exc:
            results.append(exc)
        results.append(async_to_sync(loop_thread_name)() == first)

    before = asgibridge.runtime_stats()["unhandled_errors"]
    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(JOIN)
    assert isinstance(results[0], KeyboardInterrupt)
    assert results[1] is True  # same loop thread, still serving
    assert asgibridge.runtime_stats()["unhandled_errors"] == before + 1


def test_runtime_threads_start_in_an_empty_context() -> None:
    """No runtime thread pins its creator's context (thread_inherit_context on 3.14+)."""
    import contextvars

    from asgibridge._runtime.threads._supervise import new_thread

    var: contextvars.ContextVar[str] = contextvars.ContextVar("creator")
    var.set("creator's value")
    seen: list[Any] = []
    thread = new_thread(lambda: seen.append(var.get("empty")), "asgibridge-probe")
    thread.start()
    thread.join(JOIN)
    assert seen == ["empty"]


def test_a_persistent_loop_stopped_from_inside_a_task_keeps_serving() -> None:
    """User code calling loop.stop() on the runtime's loop does not strand later calls."""

    async def stop_my_loop() -> str:
        asyncio.get_running_loop().stop()
        return threading.current_thread().name

    async def where() -> str:
        return threading.current_thread().name

    names: list[str] = []

    def caller() -> None:
        names.append(async_to_sync(stop_my_loop)())
        names.append(async_to_sync(where)())

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(JOIN)
    assert len(names) == 2
    assert names[0] == names[1]
