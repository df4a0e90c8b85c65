"""Exceptions cross the bridge unchanged, and the callee sees the caller's exc_info.

The exception object the callee raised is the one the caller catches, with a
traceback that reaches into the callee. While the caller is handling an
exception, ``sys.exc_info()`` inside the callee is that exception, in both
directions (Django's exception middleware relies on it, asgiref does it).
"""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Any

import pytest

from asgibridge.sync import async_to_sync, sync_to_async
from bridge_routes import ROUTES, run_on_route

JOIN = 10.0


class Boom(Exception):
    pass


class CallerError(Exception):
    pass


def frame_names(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def in_plain_thread(fn: Any) -> Any:
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


# -- propagation -------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_sync_to_async_raises_the_same_object(thread_sensitive: bool) -> None:
    raised: list[Boom] = []

    def failing_sync_callee() -> None:
        error = Boom("from the sync side")
        raised.append(error)
        raise error

    with pytest.raises(Boom) as info:
        await sync_to_async(failing_sync_callee, thread_sensitive=thread_sensitive)()
    assert info.value is raised[0]
    assert "failing_sync_callee" in frame_names(info.value)


def test_async_to_sync_raises_the_same_object() -> None:
    raised: list[Boom] = []

    async def failing_async_callee() -> None:
        error = Boom("from the async side")
        raised.append(error)
        raise error

    with pytest.raises(Boom) as info:
        async_to_sync(failing_async_callee)()
    assert info.value is raised[0]
    assert "failing_async_callee" in frame_names(info.value)


@pytest.mark.asyncio
async def test_exception_crosses_two_hops_unchanged() -> None:
    raised: list[Boom] = []

    async def deepest_async() -> None:
        error = Boom("deep")
        raised.append(error)
        raise error

    def middle_sync() -> None:
        async_to_sync(deepest_async)()

    with pytest.raises(Boom) as info:
        await sync_to_async(middle_sync)()
    assert info.value is raised[0]
    names = frame_names(info.value)
    assert "deepest_async" in names
    assert "middle_sync" in names


@pytest.mark.asyncio
async def test_exception_chaining_is_kept() -> None:
    def callee() -> None:
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise Boom("outer") from exc

    with pytest.raises(Boom) as info:
        await sync_to_async(callee)()
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.asyncio
async def test_stop_iteration_from_sync_callee_becomes_runtime_error() -> None:
    # A StopIteration cannot travel through a coroutine (PEP 479); asyncio turns
    # it into RuntimeError, and so does the bridge (instead of hanging).
    def callee() -> None:
        raise StopIteration("done")

    with pytest.raises(RuntimeError) as info:
        await sync_to_async(callee)()
    assert isinstance(info.value.__cause__, StopIteration)


# -- sys.exc_info() inside the callee --------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_sync_callee_sees_the_exception_being_handled(thread_sensitive: bool) -> None:
    def callee() -> BaseException | None:
        return sys.exc_info()[1]

    error = CallerError("being handled")
    try:
        raise error
    except CallerError:
        tb_before = error.__traceback__
        seen = await sync_to_async(callee, thread_sensitive=thread_sensitive)()
        # The hand-over does not grow the caller's traceback.
        assert error.__traceback__ is tb_before
    assert seen is error
    # Outside the except block the callee sees nothing.
    assert await sync_to_async(callee, thread_sensitive=thread_sensitive)() is None


def test_async_callee_sees_the_exception_being_handled() -> None:
    async def callee() -> BaseException | None:
        return sys.exc_info()[1]

    def caller() -> tuple[CallerError, BaseException | None, BaseException | None, bool]:
        error = CallerError("being handled")
        try:
            raise error
        except CallerError:
            tb_before = error.__traceback__
            seen = async_to_sync(callee)()
            tb_kept = error.__traceback__ is tb_before
        return error, seen, async_to_sync(callee)(), tb_kept

    error, seen, outside, tb_kept = in_plain_thread(caller)
    assert seen is error
    assert outside is None
    assert tb_kept


@pytest.mark.asyncio
async def test_async_callee_in_a_worker_sees_the_exception_being_handled() -> None:
    async def callee() -> BaseException | None:
        return sys.exc_info()[1]

    def worker() -> tuple[CallerError, BaseException | None]:
        error = CallerError("in worker")
        try:
            raise error
        except CallerError:
            return error, async_to_sync(callee)()

    error, seen = await sync_to_async(worker)()
    assert seen is error


@pytest.mark.asyncio
async def test_callee_raising_while_caller_handles_keeps_its_own_exception() -> None:
    def callee() -> None:
        raise Boom("callee's own")

    handled = CallerError("handled")
    try:
        raise handled
    except CallerError:
        with pytest.raises(Boom) as info:
            await sync_to_async(callee)()
    # Raised while the caller's exception was being handled: Python chains it as
    # the context, exactly as for a direct call in the except block.
    assert info.value.__context__ is handled


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_shows_the_callers_exception_and_raises_the_same_object(route: str) -> None:
    raised: list[Boom] = []

    def callee() -> BaseException | None:
        return sys.exc_info()[1]

    def failing() -> None:
        error = Boom(f"from {route}")
        raised.append(error)
        raise error

    async def body(wrap: Any) -> tuple[CallerError, BaseException | None, BaseException]:
        error = CallerError("being handled")
        try:
            raise error
        except CallerError:
            seen = await wrap(callee)()
        try:
            await wrap(failing)()
        except Boom as exc:
            return error, seen, exc
        raise AssertionError("the callee's error was not raised")

    error, seen, caught = run_on_route(route, body)
    assert seen is error
    assert caught is raised[0]
    assert "failing" in frame_names(caught)
