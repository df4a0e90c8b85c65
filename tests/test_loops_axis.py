"""Every loop and Python the runtime supports: uvloop, eager task factories, private reads, 3.14.

The async tests here run on each loop of the axis (asyncio's and uvloop, see
``conftest.py``). What is checked is what differs between loops and
Pythons: the default executor a user set, ``time_left()`` under
``asyncio.timeout`` and ``wait_for``, nested hops under an eager task
factory, the runtime's own loop factory, and contexts that runtime threads
and loops must not keep alive.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import subprocess
import sys
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime.host import _asyncio_private
from asgibridge.cancellation import time_left
from asgibridge.exceptions import ConfigTypeError, ConfigValueError
from asgibridge.sync import async_to_sync, sync_to_async

JOIN = 10.0


def _name() -> str:
    return threading.current_thread().name


@pytest.mark.asyncio
async def test_a_default_executor_set_by_the_user_is_honoured() -> None:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1, thread_name_prefix="user-default") as executor:
        loop.set_default_executor(executor)
        assert _asyncio_private.default_executor(loop) is executor
        assert (await sync_to_async(_name, thread_sensitive=False)()).startswith("user-default")


@pytest.mark.asyncio
async def test_the_loops_own_default_executor_is_not_the_users() -> None:
    loop = asyncio.get_running_loop()
    assert _asyncio_private.default_executor(loop) is None
    await loop.run_in_executor(None, _name)  # the loop makes its own, lazily
    asgibridge_pool = await sync_to_async(_name, thread_sensitive=False)()
    assert asgibridge_pool.startswith("asgibridge-pool-")


@pytest.mark.asyncio
async def test_the_running_loop_is_seen_without_raising() -> None:
    assert _asyncio_private.get_running_loop() is asyncio.get_running_loop()
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(_asyncio_private.get_running_loop()))
    thread.start()
    thread.join(JOIN)
    assert seen == [None]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["timeout", "wait_for"])
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_time_left_sees_the_deadline_on_every_loop(
    kind: str, thread_sensitive: bool
) -> None:
    call = sync_to_async(time_left, thread_sensitive=thread_sensitive)
    if kind == "wait_for":
        left = await asyncio.wait_for(call(), 5)
    elif sys.version_info >= (3, 11):
        async with asyncio.timeout(5):
            left = await call()
    else:
        pytest.skip("asyncio.timeout is 3.11+")
    assert left is not None
    assert 0 < left <= 5


@pytest.mark.asyncio
async def test_time_left_is_none_without_a_deadline_and_after_one_ended() -> None:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(5):
            await asyncio.sleep(0)
    assert await sync_to_async(time_left)() is None


@pytest.mark.asyncio
@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is 3.12+")
async def test_nested_time_left_under_an_eager_task_factory() -> None:
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    try:
        probe = asyncio.sleep(0)
        try:
            await loop.create_task(probe, context=contextvars.copy_context())
        except TypeError as exc:  # uvloop 0.23 with CPython 3.13.0's eager factory
            probe.close()
            pytest.skip(f"this loop cannot run eager tasks with a context: {exc}")

        async def middle() -> float | None:
            return await sync_to_async(time_left, thread_sensitive=False)()

        def outer() -> float | None:
            return async_to_sync(middle)()

        left = await asyncio.wait_for(sync_to_async(outer)(), 5)
    finally:
        loop.set_task_factory(None)
    assert left is not None
    assert 0 < left <= 5


@pytest.mark.parametrize(
    ("value", "error"),
    [("trio", ConfigValueError), (3, ConfigTypeError), ("", ConfigValueError)],
)
def test_loop_factory_option_is_validated(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="loop_factory"):
        asgibridge.configure(loop_factory=value)


@pytest.mark.parametrize("factory", ["asyncio", "uvloop", "callable"])
def test_the_runtimes_own_loops_follow_loop_factory(factory: str) -> None:
    if factory == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        expected: Any = uvloop.Loop
        value: Any = "uvloop"
    elif factory == "asyncio":
        expected, value = asyncio.BaseEventLoop, "asyncio"
    else:
        made: list[asyncio.AbstractEventLoop] = []

        def value() -> asyncio.AbstractEventLoop:
            made.append(asyncio.new_event_loop())
            return made[-1]

        expected = asyncio.AbstractEventLoop

    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    previous = asgibridge.configure(loop_factory=value)
    seen: list[type] = []
    try:
        thread = threading.Thread(target=lambda: seen.append(async_to_sync(loop_type)()))
        thread.start()
        thread.join(JOIN)
    finally:
        asgibridge.configure(**previous)
    assert issubclass(seen[0], expected)
    if factory == "callable":
        assert len(made) == 1


def test_a_persistent_loop_keeps_no_callers_context() -> None:
    """The first caller's values die with its request though its thread's loop lives on."""
    var: contextvars.ContextVar[object] = contextvars.ContextVar("request")
    refs: list[weakref.ref[object]] = []

    class Request:
        pass

    async def noop() -> None:
        await asyncio.sleep(0)

    def request() -> None:
        value = Request()
        refs.append(weakref.ref(value))
        var.set(value)
        async_to_sync(noop)()

    done = threading.Event()

    def caller() -> None:
        contextvars.Context().run(request)
        contextvars.Context().run(request)
        gc.collect()
        done.set()
        leave.wait(JOIN)

    leave = threading.Event()
    thread = threading.Thread(target=caller)
    thread.start()
    assert done.wait(JOIN)
    try:
        gc.collect()
        assert [ref() for ref in refs] == [None, None]
    finally:
        leave.set()
        thread.join(JOIN)


@pytest.mark.skipif(sys.version_info < (3, 14), reason="thread_inherit_context is 3.14+")
def test_runtime_threads_pin_no_request_under_thread_inherit_context() -> None:
    """Under -X thread_inherit_context=1, workers started by a request do not keep it alive."""
    script = r"""
import asyncio, contextvars, gc, weakref
from asgibridge.sync import ThreadSensitiveContext, sync_to_async
var = contextvars.ContextVar("request")
class Request: pass
def view(): return var.get() is not None
async def plain(): return await sync_to_async(view)()
async def pooled(): return await sync_to_async(view, thread_sensitive=False)()
async def sticky():
    async with ThreadSensitiveContext():
        return await sync_to_async(view)()
refs = []
for call in (plain, pooled, sticky):
    async def handle(call=call):
        value = Request()
        refs.append(weakref.ref(value))
        var.set(value)
        del value
        return await call()
    assert asyncio.run(handle())
gc.collect()
print(sum(ref() is not None for ref in refs))
"""
    result = subprocess.run(
        [sys.executable, "-X", "thread_inherit_context=1", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


@pytest.mark.asyncio
async def test_the_task_awaiting_a_future_is_found_on_every_loop() -> None:
    """``future_callbacks`` (the fallback for hops the bridge did not submit) on this loop."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    assert _asyncio_private.future_callbacks(future) == []

    async def wait() -> None:
        await future

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)
    owners = [getattr(cb, "__self__", None) for cb in _asyncio_private.future_callbacks(future)]
    assert task in owners
    future.set_result(None)
    await task
