"""CurrentThreadExecutor's public API (asgiref.current_thread_executor).

The creating thread serves submitted work in `run_until_future`; other threads
`submit`. Work submitted after an executor quit goes to the enclosing one
(``old_executor``); with none left, submit raises "already quit or is broken".
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

import pytest

from asgibridge.current_thread_executor import CurrentThreadExecutor
from asgibridge.exceptions import CurrentThreadExecutorError, ExecutorGoneError
from asgibridge.sync import CurrentThreadExecutor as SyncCurrentThreadExecutor
from asgibridge.sync import async_to_sync, sync_to_async

JOIN = 10.0


def start(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def finish(thread: threading.Thread) -> None:
    thread.join(JOIN)
    assert not thread.is_alive()


def test_same_class_in_both_modules() -> None:
    assert SyncCurrentThreadExecutor is CurrentThreadExecutor


def pair(a: int, b: int) -> tuple[int, int]:
    return a, b


def test_submit_runs_on_the_serving_thread() -> None:
    executor = CurrentThreadExecutor()
    done: Future[None] = Future()
    results: list[Any] = []

    def submitter() -> None:
        try:
            results.append(executor.submit(threading.current_thread).result(JOIN))
            results.append(executor.submit(pair, 17, b=5).result(JOIN))
        finally:
            done.set_result(None)

    thread = start(submitter)
    executor.run_until_future(done)
    finish(thread)
    assert results == [threading.current_thread(), (17, 5)]


def test_submitted_exception_reaches_the_future() -> None:
    executor = CurrentThreadExecutor()
    done: Future[None] = Future()
    caught: list[BaseException] = []
    error = ValueError("from the served function")

    def fail() -> None:
        raise error

    def submitter() -> None:
        try:
            future = executor.submit(fail)
            caught.append(future.exception(JOIN))  # type: ignore[arg-type]
        finally:
            done.set_result(None)

    thread = start(submitter)
    executor.run_until_future(done)
    finish(thread)
    assert caught == [error]


def test_run_until_future_from_another_thread_raises() -> None:
    executor = CurrentThreadExecutor()
    errors: list[BaseException] = []

    def wrong_thread() -> None:
        try:
            executor.run_until_future(Future())
        except BaseException as exc:
            errors.append(exc)

    finish(start(wrong_thread))
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert isinstance(errors[0], CurrentThreadExecutorError)
    assert errors[0].args[0] == "You cannot run CurrentThreadExecutor from a different thread"


def test_submit_from_the_serving_thread_raises() -> None:
    executor = CurrentThreadExecutor()
    with pytest.raises(RuntimeError) as info:
        executor.submit(print)
    assert isinstance(info.value, CurrentThreadExecutorError)
    assert "own thread" in str(info.value)


def test_work_goes_to_the_enclosing_executor_after_one_quits() -> None:
    outer = CurrentThreadExecutor()
    inner = CurrentThreadExecutor(outer)
    finished: Future[None] = Future()
    finished.set_result(None)
    inner.run_until_future(finished)  # returns at once: inner has quit

    outer_done: Future[None] = Future()
    ran_on: list[threading.Thread] = []

    def submitter() -> None:
        try:
            ran_on.append(inner.submit(threading.current_thread).result(JOIN))
        finally:
            outer_done.set_result(None)

    thread = start(submitter)
    outer.run_until_future(outer_done)
    finish(thread)
    assert ran_on == [threading.current_thread()]


def test_submit_when_every_executor_quit_raises() -> None:
    outer = CurrentThreadExecutor()
    inner = CurrentThreadExecutor(outer)
    finished: Future[None] = Future()
    finished.set_result(None)
    inner.run_until_future(finished)
    outer.run_until_future(finished)
    errors: list[BaseException] = []

    def submitter() -> None:
        try:
            inner.submit(print)
        except BaseException as exc:
            errors.append(exc)

    finish(start(submitter))
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert isinstance(errors[0], ExecutorGoneError)
    assert errors[0].args[0] == "CurrentThreadExecutor already quit or is broken"


def test_work_queued_before_the_future_completes_still_runs() -> None:
    executor = CurrentThreadExecutor()
    done: Future[None] = Future()
    ran: list[int] = []
    futures: list[Future[None]] = []

    def submitter() -> None:
        futures.extend(executor.submit(ran.append, i) for i in range(5))
        done.set_result(None)  # completes while the five items may still be queued

    thread = start(submitter)
    executor.run_until_future(done)
    finish(thread)
    assert ran == [0, 1, 2, 3, 4]
    assert all(f.done() for f in futures)


def test_cancelled_submission_does_not_run() -> None:
    executor = CurrentThreadExecutor()
    done: Future[None] = Future()
    ran: list[str] = []

    def submitter() -> None:
        future = executor.submit(ran.append, "cancelled")
        future.cancel()
        executor.submit(ran.append, "kept").result(JOIN)
        done.set_result(None)

    thread = start(submitter)
    executor.run_until_future(done)
    finish(thread)
    assert ran == ["kept"]


def test_task_outliving_its_async_to_sync_call_gets_a_clear_error() -> None:
    # A task started inside async_to_sync (on the outer loop, so the end of the
    # call does not cancel it) that makes a thread-sensitive call after the call
    # returned: nobody is left to run it. It must fail, not hang.
    async def straggler(proceed: asyncio.Event) -> None:
        await proceed.wait()
        await sync_to_async(threading.get_ident)()

    async def main() -> BaseException | None:
        proceed = asyncio.Event()
        holder: list[asyncio.Task[None]] = []

        async def starts_task() -> None:
            holder.append(asyncio.ensure_future(straggler(proceed)))

        def sync_part() -> None:
            async_to_sync(starts_task)()

        await sync_to_async(sync_part, thread_sensitive=False)()
        proceed.set()
        try:
            await holder[0]
        except BaseException as exc:
            return exc
        return None

    error = asyncio.run(main())
    assert isinstance(error, ExecutorGoneError)
    assert isinstance(error, RuntimeError)
    assert "already quit or is broken" in str(error)


# -- the executor chain through the bridge ---------------------------------------


def test_task_outliving_a_nested_call_runs_on_the_enclosing_caller() -> None:
    # inner's task outlives the nested async_to_sync (on the outer loop) and is
    # awaited by main: its sync work goes to the still-blocked outermost caller.
    async def inner() -> asyncio.Task[threading.Thread]:
        return asyncio.ensure_future(sync_to_async(threading.current_thread)())

    async def main() -> threading.Thread:
        task = await sync_to_async(async_to_sync(inner))()
        return await task

    assert async_to_sync(main)() is threading.current_thread()


def test_doubly_nested_tasks_reach_the_enclosing_caller() -> None:
    async def inner() -> asyncio.Task[threading.Thread]:
        return asyncio.ensure_future(sync_to_async(threading.current_thread)())

    async def outer() -> asyncio.Task[asyncio.Task[threading.Thread]]:
        return asyncio.ensure_future(sync_to_async(async_to_sync(inner))())

    async def main() -> threading.Thread:
        outer_task = await sync_to_async(async_to_sync(outer))()
        inner_task = await outer_task
        return await inner_task

    assert async_to_sync(main)() is threading.current_thread()
