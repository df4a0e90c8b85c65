"""asgibridge.instrumentation: hop listeners, thread handlers, stats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge import runtime_stats
from asgibridge._runtime import _state
from asgibridge.instrumentation import HopInfo, add_hop_listener, add_thread_handler, stats
from asgibridge.sync import async_to_sync, sync_to_async


class Recorder:
    def __init__(self) -> None:
        self.started: list[HopInfo] = []
        self.ended: list[tuple[HopInfo, Any]] = []

    def on_start(self, info: HopInfo) -> str:
        self.started.append(info)
        return f"token-{len(self.started)}"

    def on_end(self, info: HopInfo, state: Any) -> None:
        self.ended.append((info, state))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    with add_hop_listener(rec.on_start, rec.on_end):
        yield rec
    assert not _state.traced


def double(x: int) -> int:
    return 2 * x


def fail() -> None:
    raise ValueError("boom")


@pytest.mark.asyncio
async def test_sync_to_async_hop_is_reported(recorder: Recorder) -> None:
    assert await sync_to_async(double)(21) == 42
    assert [i.function for i in recorder.started] == [double]
    info, state = recorder.ended[0]
    assert state == "token-1"
    assert info.direction == "sync_to_async"
    assert info.loop is asyncio.get_running_loop()
    assert info.thread_name is not None
    assert info.thread_name.startswith("asgibridge-sync")
    assert info.thread_ident != threading.get_ident()
    assert info.queue_wait is not None
    assert info.queue_wait >= 0
    assert info.run_time is not None
    assert info.run_time >= 0
    assert info.exception is None
    assert info.name.endswith("double")


@pytest.mark.asyncio
async def test_exception_is_reported_and_still_raised(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="boom"):
        await sync_to_async(fail, thread_sensitive=False)()
    info, _ = recorder.ended[0]
    assert isinstance(info.exception, ValueError)


def test_async_to_sync_hop_is_reported(recorder: Recorder) -> None:
    async def add(a: int, b: int) -> int:
        return a + b

    assert async_to_sync(add)(1, 2) == 3
    info, state = recorder.ended[0]
    assert state == "token-1"
    assert info.direction == "async_to_sync"
    assert info.thread_ident == threading.get_ident()
    assert info.loop is not None
    assert info.run_time is not None
    assert info.queue_wait is not None


def test_nested_hops_are_all_reported(recorder: Recorder) -> None:
    async def outer() -> int:
        return await sync_to_async(double)(4)

    assert async_to_sync(outer)() == 8
    assert sorted(i.direction for i, _ in recorder.ended) == ["async_to_sync", "sync_to_async"]


@pytest.mark.asyncio
async def test_raising_listener_is_logged_and_harmless(caplog: pytest.LogCaptureFixture) -> None:
    def broken_start(info: HopInfo) -> None:
        raise RuntimeError("listener bug")

    def broken_end(info: HopInfo, state: object) -> None:
        raise RuntimeError("listener bug at end")

    with caplog.at_level(logging.ERROR, logger="asgibridge"):
        with add_hop_listener(broken_start, broken_end):
            assert await sync_to_async(double)(5) == 10
    messages = [r.getMessage() for r in caplog.records]
    assert any("on_start" in m for m in messages)
    assert any("on_end" in m for m in messages)


@pytest.mark.asyncio
async def test_thread_handler_wraps_the_function_on_its_thread() -> None:
    events: list[tuple[str, int]] = []

    @contextlib.contextmanager
    def around(info: HopInfo) -> Iterator[None]:
        events.append(("enter", threading.get_ident()))
        yield
        events.append(("exit", threading.get_ident()))

    def work() -> int:
        events.append(("run", threading.get_ident()))
        return 1

    handle = add_thread_handler(around)
    try:
        assert await sync_to_async(work)() == 1
    finally:
        assert handle.remove()
    assert not handle.remove()
    assert [e[0] for e in events] == ["enter", "run", "exit"]
    assert len({e[1] for e in events}) == 1
    assert events[0][1] != threading.get_ident()


@pytest.mark.asyncio
async def test_failing_thread_handler_does_not_break_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class BadExit:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            raise RuntimeError("cleanup bug")

    def bad_factory(info: HopInfo) -> contextlib.AbstractContextManager[None]:
        raise RuntimeError("factory bug")

    with caplog.at_level(logging.ERROR, logger="asgibridge"):
        with add_thread_handler(lambda info: BadExit()), add_thread_handler(bad_factory):
            assert await sync_to_async(double)(3) == 6
            with pytest.raises(ValueError, match="boom"):
                await sync_to_async(fail)()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "failed on entry" in messages
    assert "failed on exit" in messages


@pytest.mark.asyncio
async def test_thread_handler_sees_the_callers_contextvars() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    @contextlib.contextmanager
    def around(info: HopInfo) -> Iterator[None]:
        seen.append(var.get())
        yield

    var.set("caller")
    with add_thread_handler(around):
        await sync_to_async(double)(1)
    assert seen == ["caller"]


@pytest.mark.asyncio
async def test_cancelled_before_start_is_reported_as_cancelled(recorder: Recorder) -> None:
    release = threading.Event()
    blocker = asyncio.ensure_future(sync_to_async(release.wait)())
    queued = asyncio.ensure_future(sync_to_async(double)(1))
    while len(recorder.started) < 2:
        await asyncio.sleep(0)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    await blocker
    while len(recorder.ended) < 2:
        await asyncio.sleep(0.001)
    skipped = [i for i, _ in recorder.ended if i.function is double]
    assert skipped[0].cancelled


@pytest.mark.asyncio
async def test_stats_names_abandoned_functions() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_job() -> None:
        started.set()
        release.wait(10)

    before = stats()["abandoned_by_function"]
    task = asyncio.ensure_future(sync_to_async(slow_job, thread_sensitive=False)())
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    after = stats()
    name = next(n for n in after["abandoned_by_function"] if n.endswith("slow_job"))
    assert after["abandoned_by_function"][name] == before.get(name, 0) + 1
    assert after["abandoned_calls"] == runtime_stats()["abandoned_calls"]
    assert after["hop_listeners"] == 0
    assert after["thread_handlers"] == 0


@pytest.mark.asyncio
async def test_thread_handlers_also_wrap_a_custom_thread_handler_subclass() -> None:
    from asgibridge.sync import SyncToAsync

    order: list[str] = []

    class ChannelsStyle(SyncToAsync[[], int]):
        def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
            order.append("subclass")
            return super().thread_handler(loop, *args, **kwargs)

    @contextlib.contextmanager
    def around(info: HopInfo) -> Iterator[None]:
        order.append("handler")
        yield

    def work() -> int:
        order.append("run")
        return 5

    with add_thread_handler(around):
        assert await ChannelsStyle(work)() == 5
    assert order == ["subclass", "handler", "run"]


def test_nothing_registered_builds_nothing_for_instrumentation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "Zero cost when nothing is registered": the plain paths never build a
    # HopInfo (a hop's tracing data). Made to fail loudly if they did; then shown to
    # be reached once a listener is registered (so the check itself works).
    from asgibridge._runtime.bridge import _async_to_sync, _sync_to_async

    built: list[str] = []

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        built.append(str(args[:1]))
        raise AssertionError("instrumentation object built with nothing registered")

    monkeypatch.setattr(_sync_to_async, "HopInfo", forbidden)
    monkeypatch.setattr(_async_to_sync, "HopInfo", forbidden)

    async def outer() -> int:
        return await sync_to_async(double)(2) + await sync_to_async(
            double, thread_sensitive=False
        )(1)

    assert not _state.traced
    assert async_to_sync(outer)() == 6
    assert built == []
    with add_hop_listener(on_end=lambda info, _: None), pytest.raises(AssertionError):
        async_to_sync(outer)()
    assert built
