"""The hang rules: a bridge wait that can never finish raises, naming what it waits on.

- A sync function that starts its own loop (``asyncio.run``) whose coroutine
  sends thread-sensitive work back to that very thread: a cycle, detected.
- async_to_sync waiting on a loop that was closed, or stopped, while the
  coroutine ran: `LoopUnavailableError` at the next health check.
- A wait longer than ``hang_timeout``: `BridgeDeadlockError`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge.exceptions import BridgeDeadlockError, LoopUnavailableError
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async

JOIN = 10.0


@pytest.fixture
def quick_health() -> Iterator[None]:
    previous = asgibridge.configure(health_interval=0.02)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


def starts_its_own_loop() -> None:
    async def sends_work_back() -> None:
        await sync_to_async(threading.get_ident)()

    asyncio.run(sends_work_back())


# -- cycles ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_asyncio_run_on_the_process_wide_sync_thread_raises() -> None:
    with pytest.raises(BridgeDeadlockError) as info:
        await sync_to_async(starts_its_own_loop)()
    assert isinstance(info.value, RuntimeError)
    assert info.value.args[0] == "Single thread executor already being used, would deadlock"
    assert "asgibridge-sync" in str(info.value)  # names the blocked thread


@pytest.mark.asyncio
async def test_asyncio_run_on_a_thread_sensitive_context_thread_raises() -> None:
    async with ThreadSensitiveContext():
        with pytest.raises(BridgeDeadlockError, match="would deadlock"):
            await sync_to_async(starts_its_own_loop)()


def test_asyncio_run_on_the_blocked_sync_caller_raises() -> None:
    async def middle() -> None:
        await sync_to_async(starts_its_own_loop)()  # runs on the calling thread

    box: dict[str, BaseException] = {}

    def caller() -> None:
        try:
            async_to_sync(middle)()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=caller, name="blocked-caller")
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    error = box["error"]
    assert isinstance(error, BridgeDeadlockError)
    assert isinstance(error, RuntimeError)
    assert "blocked-caller" in str(error)


# -- loops that go away ---------------------------------------------------------


class LoopInThread:
    """An event loop run by a helper thread, that the test can stop and close."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # The stranded tasks are destroyed pending once the loop is gone; keep
        # asyncio's report of that out of the test output.
        self.reports: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, context: self.reports.append(context))
        self.may_close = threading.Event()
        self.thread = threading.Thread(target=self._main, name="test-loop")
        self.thread.start()

    def _main(self) -> None:
        self.loop.run_forever()
        self.may_close.wait(JOIN)
        self.loop.close()

    def stop(self, *, close: bool) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        if close:
            self.may_close.set()

    def finish(self) -> None:
        self.may_close.set()
        self.thread.join(JOIN)
        assert not self.thread.is_alive()


def strand_a_sync_caller(host: LoopInThread, *, close: bool) -> BaseException:
    """Run sync code on ``host``'s loop that waits in async_to_sync; pull the loop away."""
    coroutine_started = threading.Event()
    done = threading.Event()
    box: dict[str, BaseException] = {}

    async def waits_forever() -> None:
        coroutine_started.set()
        await asyncio.Event().wait()

    def sync_part() -> None:
        try:
            async_to_sync(waits_forever)()  # runs on host.loop, the outer loop
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    wrapped: Callable[[], Any] = sync_to_async(sync_part, thread_sensitive=False)
    asyncio.run_coroutine_threadsafe(wrapped(), host.loop)
    assert coroutine_started.wait(JOIN)
    host.stop(close=close)
    assert done.wait(JOIN), "async_to_sync hung on a loop that went away"
    host.finish()
    return box["error"]


@pytest.mark.usefixtures("quick_health")
def test_async_to_sync_on_a_closed_loop_raises() -> None:
    error = strand_a_sync_caller(LoopInThread(), close=True)
    assert isinstance(error, LoopUnavailableError)
    assert isinstance(error, RuntimeError)
    assert "closed" in str(error)


@pytest.mark.usefixtures("quick_health")
def test_async_to_sync_on_a_stopped_loop_raises() -> None:
    # pytest-asyncio stops (without closing) a test's loop at the end of a test.
    error = strand_a_sync_caller(LoopInThread(), close=False)
    assert isinstance(error, LoopUnavailableError)
    assert "stopped running" in str(error)


@pytest.mark.usefixtures("quick_health")
def test_hang_timeout_turns_a_long_wait_into_an_error() -> None:
    previous = asgibridge.configure(hang_timeout=0.1)
    release: list[asyncio.Event] = []

    async def waits() -> None:
        event = asyncio.Event()
        release.append(event)
        await event.wait()

    try:
        with pytest.raises(BridgeDeadlockError) as info:
            async_to_sync(waits)()
    finally:
        asgibridge.configure(**previous)
    assert isinstance(info.value, RuntimeError)
    assert threading.current_thread().name in str(info.value)  # names the waiting thread
    assert "ASGIBRIDGE_HANG_TIMEOUT" in str(info.value)  # and the knob


def test_abandoned_sync_code_whose_loop_closed_can_still_call_async_to_sync() -> None:
    # The awaiting task was cancelled and its loop closed while the sync code
    # ran on: its later async_to_sync must not wait for the dead outer loop.
    release = threading.Event()
    box: dict[str, Any] = {}

    async def later() -> str:
        return "ran on a live loop"

    def sync_code(loop: asyncio.AbstractEventLoop, started: asyncio.Event) -> None:
        loop.call_soon_threadsafe(started.set)
        release.wait(JOIN)
        try:
            box["result"] = async_to_sync(later)()
        except BaseException as exc:
            box["error"] = exc
        finally:
            box["done"] = threading.current_thread()

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.ensure_future(sync_to_async(sync_code)(asyncio.get_running_loop(), started))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())  # the loop is closed when this returns
    release.set()

    async def drain() -> None:  # the sync thread has finished sync_code after this
        await sync_to_async(lambda: None)()

    asyncio.run(drain())
    assert box.get("error") is None
    assert box["result"] == "ran on a live loop"


@pytest.mark.asyncio
@pytest.mark.parametrize("listened", [False, True], ids=["plain", "with-a-listener"])
async def test_executor_that_drops_queued_work_cancels_the_await(listened: bool) -> None:
    # ThreadPoolExecutor.shutdown(cancel_futures=True) drops queued calls: the
    # awaiting task is cancelled (as asgiref's run_in_executor does), not left waiting.
    from concurrent.futures import ThreadPoolExecutor

    from asgibridge.instrumentation import HopInfo, add_hop_listener

    ended: list[HopInfo] = []
    gate = threading.Event()
    started = threading.Event()

    def first() -> str:
        started.set()
        gate.wait(JOIN)
        return "ran"

    executor = ThreadPoolExecutor(1)
    listener = add_hop_listener(on_end=lambda info, _state: ended.append(info))
    if not listened:
        listener.remove()
    with listener:
        one = asyncio.ensure_future(
            sync_to_async(first, thread_sensitive=False, executor=executor)()
        )
        two = asyncio.ensure_future(
            sync_to_async(len, thread_sensitive=False, executor=executor)("queued")
        )
        await asyncio.get_running_loop().run_in_executor(None, started.wait, JOIN)
        executor.shutdown(wait=False, cancel_futures=True)
        gate.set()
        assert await one == "ran"
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(two, JOIN)  # a hang here fails, not the test run
    executor.shutdown(wait=True)
    dropped = [info for info in ended if info.function is len]
    assert len(dropped) == (1 if listened else 0)
    assert all(info.cancelled for info in dropped)  # listeners see the dropped call end


def test_work_queued_as_the_caller_gives_up_fails_instead_of_waiting_forever(
    quick_health: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race: a caller blocked in async_to_sync wakes idle, and work lands on
    # its queue in the instant before its health check gives up. Nobody serves
    # that queue any more, so the work must fail with a named error rather than
    # leave whoever awaits it waiting forever (hazard: silent hang).
    from asgibridge._runtime.bridge import _call
    from asgibridge.exceptions import ExecutorGoneError

    submitted: list[Any] = []

    def gives_up(self: Any) -> None:
        executor = self.executor
        submitter = threading.Thread(target=lambda: submitted.append(executor.submit(str, 1)))
        submitter.start()
        submitter.join(JOIN)
        raise BridgeDeadlockError("gave up", "(the test's health check)")

    monkeypatch.setattr(_call.AsyncCall, "health_check", gives_up)

    async def waits_forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(BridgeDeadlockError):
        async_to_sync(waits_forever)()
    assert len(submitted) == 1
    with pytest.raises(ExecutorGoneError, match="gave up"):
        submitted[0].result(timeout=JOIN)
