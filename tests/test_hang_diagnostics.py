"""Hang diagnostics: reports naming the chain, in "raise" and "warn" modes.

Each known asgiref hang is built here and must end fast: small deadlines via
`asgibridge.configure`, restored by the fixture.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge.exceptions import BridgeDeadlockError, LoopUnavailableError
from asgibridge.instrumentation import stats
from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from hang_fixtures import Flag

JOIN = 10.0


def test_configure_validates_the_mode_and_deadline() -> None:
    with pytest.raises(ValueError, match="hang_mode"):
        asgibridge.configure(hang_mode="shout")
    with pytest.raises(ValueError, match="hang_timeout"):
        asgibridge.configure(hang_timeout=0)


def test_environment_sets_the_deadline_and_mode() -> None:
    env = dict(os.environ, ASGIBRIDGE_HANG_TIMEOUT="2.5", ASGIBRIDGE_HANG_MODE="warn")
    code = "from asgibridge.instrumentation import stats; s = stats(); "
    code += "print(s['hang_timeout'], s['hang_mode'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split() == ["2.5", "warn"], out.stderr


# -- async_to_sync --------------------------------------------------------------


@pytest.mark.usefixtures("hang_raise")
def test_async_to_sync_report_names_the_chain() -> None:
    async def waits_forever() -> None:
        await asyncio.Event().wait()

    with pytest.raises(BridgeDeadlockError) as info:
        async_to_sync(waits_forever)()  # the call site the report must name
    text = str(info.value)
    assert threading.current_thread().name in text
    assert "async_to_sync" in text
    assert "waits_forever()" in text  # the coroutine it waits for
    assert f"{__file__}:" in text  # the user's call site, not asgibridge's
    assert "test_async_to_sync_report_names_the_chain" in text
    assert "is now at:" in text
    assert "select" in text or "run_forever" in text  # the loop thread's stack


@pytest.mark.usefixtures("hang_warn")
def test_async_to_sync_warn_mode_logs_once_and_keeps_waiting(flag: Flag) -> None:
    async def waits_for_the_warning() -> str:
        while not flag.event.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # several more health checks: no second report
        return "finished"

    assert async_to_sync(waits_for_the_warning)() == "finished"
    assert len(flag.records) == 1
    assert "async_to_sync" in flag.records[0].getMessage()


# -- sync_to_async --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
async def test_sync_to_async_report_names_the_chain() -> None:
    release = threading.Event()

    def stuck_job() -> None:
        release.wait(JOIN)

    try:
        with pytest.raises(BridgeDeadlockError) as info:
            await sync_to_async(stuck_job, thread_sensitive=False)()  # the call site
    finally:
        release.set()
    text = str(info.value)
    assert "sync_to_async" in text
    assert "stuck_job" in text
    assert "asgibridge-" in text  # the thread it runs on
    assert f"{__file__}:" in text
    assert "test_sync_to_async_report_names_the_chain" in text
    assert "release.wait(JOIN)" in text  # the target thread's current stack
    await _drain()
    assert any(name.endswith("stuck_job") for name in stats()["abandoned_by_function"])


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_warn")
async def test_sync_to_async_warn_mode_logs_once(flag: Flag) -> None:
    def waits_for_the_warning() -> str:
        flag.event.wait(JOIN)
        return "finished"

    assert await sync_to_async(waits_for_the_warning)() == "finished"
    assert len(flag.records) == 1
    assert "waits_for_the_warning" in flag.records[0].getMessage()


@pytest.mark.asyncio
async def test_no_watchdog_without_a_deadline() -> None:
    assert asgibridge.instrumentation.stats()["hang_timeout"] is None
    loop = asyncio.get_running_loop()
    timers: list[Any] = []

    def count_timers() -> None:
        timers.extend(getattr(loop, "_scheduled", []))

    await sync_to_async(count_timers)()
    assert timers == []


async def _drain() -> None:
    def nothing() -> None:
        return None

    await sync_to_async(nothing, thread_sensitive=False)()


# -- the known asgiref hangs ----------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
async def test_sync_function_waiting_on_the_loop_that_awaits_it() -> None:
    # The sync worker blocks on a coroutine that needs the sync worker: a cycle.
    loop = asyncio.get_running_loop()

    async def needs_the_sync_thread() -> int:
        return await sync_to_async(threading.get_ident)()

    inner: list[Any] = []

    def blocks_on_the_loop() -> int:
        inner.append(asyncio.run_coroutine_threadsafe(needs_the_sync_thread(), loop))
        return int(inner[0].result(JOIN))

    with pytest.raises(BridgeDeadlockError) as outer_info:
        await sync_to_async(blocks_on_the_loop)()
    # The outer wait is reported first (it started first), with the stack of
    # the thread it runs on: blocked in .result().
    assert "blocks_on_the_loop" in str(outer_info.value)
    assert ".result(JOIN)" in str(outer_info.value)
    # The inner call is reported as queued behind it, which frees the thread.
    with pytest.raises(BridgeDeadlockError) as inner_info:
        await asyncio.wrap_future(inner[0])
    assert "queued, not started" in str(inner_info.value)
    assert "get_ident" in str(inner_info.value)
    await sync_to_async(threading.get_ident)()  # the thread is free again


@pytest.fixture
def health_checks_only() -> Iterator[None]:
    """Fast liveness checks, a hang deadline far away: what fires is the loop-stop check.

    (With ``hang_raise``'s 0.2 s deadline, a machine busy enough to delay the
    check by 0.2 s made the deadline win the race.)
    """
    previous = asgibridge.configure(hang_timeout=JOIN, hang_mode="raise", health_interval=0.02)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


@pytest.mark.usefixtures("health_checks_only")
def test_nested_bridges_across_a_loop_that_stops() -> None:
    # sync_to_async -> async_to_sync on the outer loop, which then stops
    # (the end of a pytest-asyncio test): the inner wait raises, not hangs.
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}
    waiting = threading.Event()
    ended = threading.Event()

    async def never_finishes() -> None:
        loop.call_soon(waiting.set)
        await asyncio.Event().wait()

    def sync_code() -> None:
        try:
            async_to_sync(never_finishes)()
        except BaseException as exc:
            box["error"] = exc
        finally:
            ended.set()

    async def main() -> None:
        task = asyncio.ensure_future(sync_to_async(sync_code)())
        await loop.run_in_executor(None, waiting.wait, JOIN)
        box["task"] = task

    def run_then_stop() -> None:
        loop.run_until_complete(main())  # returns with sync_code still waiting

    runner = threading.Thread(target=run_then_stop)
    runner.start()
    runner.join(JOIN)
    assert ended.wait(JOIN)
    loop.run_until_complete(_cancel_all())
    loop.close()
    assert isinstance(box["error"], LoopUnavailableError)
    assert "stopped running" in str(box["error"])


async def _cancel_all() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
async def test_thread_sensitive_context_exited_while_work_is_queued() -> None:
    gate = threading.Event()

    def first() -> str:
        gate.wait(JOIN)
        return "first"

    def second() -> str:
        return "second"

    def where() -> int:
        return threading.get_ident()

    async with ThreadSensitiveContext():
        context_thread = await sync_to_async(where)()
        one = asyncio.ensure_future(sync_to_async(first)())
        two = asyncio.ensure_future(sync_to_async(second)())
        three = asyncio.ensure_future(sync_to_async(where)())
        await asyncio.sleep(0)
    # The exit returned without waiting: the work is still queued behind `first`.
    assert not any(task.done() for task in (one, two, three))
    gate.set()
    assert await asyncio.gather(one, two) == ["first", "second"]
    assert await three == context_thread  # ran where the context's work ran
    assert await sync_to_async(where)() != context_thread  # the thread went back


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_reuse_the_parents_loop() -> None:
    async def answer() -> int:
        return 42

    def fork_and_bridge() -> tuple[int, int]:
        reader, writer = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.write(writer, str(async_to_sync(answer)()).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(writer)
        return pid, reader

    async def parent() -> tuple[int, int]:
        return await sync_to_async(fork_and_bridge)()

    previous = asgibridge.configure(hang_timeout=5.0, health_interval=0.05)
    try:
        pid, reader = async_to_sync(parent)()
    finally:
        asgibridge.configure(**previous)
    ready, _, _ = select.select([reader], [], [], JOIN)
    output = os.read(reader, 100) if ready else b""
    os.close(reader)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert output == b"42"
    assert os.waitstatus_to_exitcode(status) == 0


# -- what a report names --------------------------------------------------------


def _line_after(marker: str) -> int:
    """The line number of the line following ``# marker`` in this file."""
    with open(__file__, encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if line.strip() == f"# {marker}":
                return number + 1
    raise AssertionError(f"no line marked {marker!r}")


@pytest.mark.asyncio
@pytest.mark.usefixtures("hang_raise")
async def test_sync_to_async_call_site_is_the_innermost_user_frame() -> None:
    # Task.get_stack() stops at the task's own coroutine; the call is two awaits in.
    release = threading.Event()

    def slow_query() -> None:
        release.wait(JOIN)

    async def repository() -> None:
        # s2a call site
        await sync_to_async(slow_query, thread_sensitive=False)()

    async def view() -> None:
        await repository()

    try:
        with pytest.raises(BridgeDeadlockError) as info:
            await view()
    finally:
        release.set()
    text = str(info.value)
    assert f"called from: {__file__}:{_line_after('s2a call site')} in repository" in text
    await _drain()


@pytest.mark.usefixtures("hang_raise")
def test_async_to_sync_report_shows_where_the_coroutine_waits() -> None:
    async def inner() -> None:
        # the coroutine waits here
        await asyncio.Event().wait()

    async def outer() -> None:
        await inner()

    with pytest.raises(BridgeDeadlockError) as info:
        # a2s call site
        async_to_sync(outer)()
    text = str(info.value)
    site = f"called from: {__file__}:{_line_after('a2s call site')} in "
    assert site + "test_async_to_sync_report_shows_where_the_coroutine_waits" in text
    assert "the coroutine is at:" in text
    waits_at = f'File "{__file__}", line {_line_after("the coroutine waits here")}, in inner'
    assert waits_at in text
    assert "await asyncio.Event().wait()" in text


@pytest.mark.usefixtures("hang_raise")
def test_async_to_sync_that_gave_up_cancels_its_coroutine() -> None:
    cancelled = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(BridgeDeadlockError):
        async_to_sync(stuck)()
    assert cancelled.wait(JOIN)  # it does not run on, unobserved


@pytest.mark.usefixtures("hang_raise")
def test_abandoned_coroutine_ending_later_leaves_the_next_call_alone() -> None:
    # The loop is this thread's persistent loop, reused by the next call: when
    # the abandoned coroutine (which swallows its cancellation) ends during that
    # call, its end must not clean up the loop (cancelling the next call).
    box: dict[str, asyncio.Event] = {}

    async def stubborn() -> None:
        box["release"] = release = asyncio.Event()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # swallowed: it keeps going

    with pytest.raises(BridgeDeadlockError):
        async_to_sync(stubborn)()

    async def next_call() -> str:
        box["release"].set()
        for _ in range(10):  # the abandoned task ends meanwhile
            await asyncio.sleep(0)
        return "not cancelled"

    assert async_to_sync(next_call)() == "not cancelled"


@pytest.mark.asyncio
async def test_a_thread_that_died_running_the_call_is_reported() -> None:
    # A Python thread cannot be killed from Python; a C extension can end one
    # (pthread_exit). Simulated: the call's record names a thread that is gone.
    import contextlib

    from asgibridge.exceptions import WorkerDiedError
    from asgibridge.instrumentation import HopInfo, add_thread_handler

    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    release = threading.Event()

    @contextlib.contextmanager
    def thread_vanishes(info: HopInfo) -> Iterator[None]:
        info.thread_ident = gone.ident if gone.ident not in sys._current_frames() else -1
        yield

    def work() -> None:
        release.wait(JOIN)

    previous = asgibridge.configure(hang_timeout=30.0, health_interval=0.02)
    try:
        with add_thread_handler(thread_vanishes), pytest.raises(WorkerDiedError) as info:
            await sync_to_async(work, thread_sensitive=False)()
    finally:
        release.set()
        asgibridge.configure(**previous)
    assert isinstance(info.value, RuntimeError)
    assert "died while running it" in str(info.value)
    await _drain()
