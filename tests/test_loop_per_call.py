"""asgiref's loop semantics on request, and persistent loops that close properly.

- ``configure(loop_per_call=True)`` / ``ASGIBRIDGE_LOOP_PER_CALL=1``: each
  top-level async_to_sync call from a plain thread runs on a new loop, closed
  before the call returns (channels_redis keeps a layer per loop in a
  ``WeakKeyDictionary``: the entry must be collected after the call).
- Persistent mode (the default): a loop is closed properly (async generators
  finalized, default executor shut down, ``loop.close()``) when its calling
  thread ends, when the runtime shuts down, and at interpreter exit.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime import _state
from asgibridge._runtime._config import from_environment
from asgibridge.exceptions import ConfigTypeError
from asgibridge.sync import AsyncSingleThreadContext, async_to_sync, sync_to_async

_JOIN = 10.0  # seconds any wait below may take before the test fails


@pytest.fixture
def per_call() -> Iterator[None]:
    previous = asgibridge.configure(loop_per_call=True)
    try:
        yield
    finally:
        asgibridge.configure(**previous)


def test_the_option_is_validated_like_the_others() -> None:
    with pytest.raises(ConfigTypeError, match="loop_per_call must be True or False"):
        asgibridge.configure(loop_per_call="yes")
    assert from_environment({"ASGIBRIDGE_LOOP_PER_CALL": "1"})["loop_per_call"] is True
    assert from_environment({"ASGIBRIDGE_LOOP_PER_CALL": "off"})["loop_per_call"] is False
    assert from_environment({})["loop_per_call"] is False
    with pytest.raises(ConfigTypeError, match="ASGIBRIDGE_LOOP_PER_CALL"):
        from_environment({"ASGIBRIDGE_LOOP_PER_CALL": "sometimes"})


def _in_plain_thread(body: Any) -> Any:
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(body())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(_JOIN)
    assert not thread.is_alive()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def test_each_call_gets_a_new_loop_closed_before_it_returns(per_call: None) -> None:
    per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = (
        weakref.WeakKeyDictionary()
    )

    async def register() -> weakref.ref[asyncio.AbstractEventLoop]:
        loop = asyncio.get_running_loop()
        per_loop[loop] = object()  # what channels_redis keeps per loop
        return weakref.ref(loop)

    def body() -> list[Any]:
        seen = []
        for _ in range(2):
            ref = async_to_sync(register)()
            loop = ref()
            seen.append((id(loop), loop is None or loop.is_closed()))
            del loop
            gc.collect()
            seen.append(len(per_loop))
        return seen

    first, after_first, second, after_second = _in_plain_thread(body)
    assert first[1] is True  # closed (or gone) at return
    assert second[1] is True
    assert after_first == after_second == 0  # the per-loop entry was collected
    assert _state.loop_threads == set() or all(
        not lt.thread.name.endswith("loop per call)") for lt in _state.loop_threads
    )


def test_calls_inside_sync_to_async_and_single_thread_contexts_keep_their_loops(
    per_call: None,
) -> None:
    async def running() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    def inside() -> bool:
        return async_to_sync(running)() is outer

    async def main() -> bool:
        global outer
        outer = asyncio.get_running_loop()
        return await sync_to_async(inside)()

    assert asyncio.run(main())  # the outer loop, as asgiref
    with AsyncSingleThreadContext():
        first = async_to_sync(running)()
        second = async_to_sync(running)()
        assert first is second  # the context's one loop
        assert not first.is_closed()


outer: Any = None


class _Probe:
    """An async generator left suspended and a default-executor thread, on one loop."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.executor: Any = None
        self.agen: Any = None

    async def gen(self) -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            self.closed.set()

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.loop.run_in_executor(None, int)  # creates the default executor
        self.executor = self.loop._default_executor  # type: ignore[attr-defined]
        self.agen = self.gen()
        assert await self.agen.__anext__() == 1  # suspended, never closed by the user

    def loop_thread(self) -> Any:
        (found,) = [lt for lt in list(_state.loop_threads) if lt.loop is self.loop]
        return found

    def assert_closed_properly(self) -> None:
        assert self.closed.wait(_JOIN), "the async generator was never finalized"
        assert self.loop is not None
        assert self.loop.is_closed()
        assert self.executor is not None
        assert self.executor._shutdown


def test_a_persistent_loop_closes_properly_when_its_thread_ends() -> None:
    probe = _Probe()
    loop_threads: list[Any] = []

    def body() -> None:
        async_to_sync(probe.start)()
        loop_threads.append(probe.loop_thread())

    _in_plain_thread(body)  # the calling thread ends here
    (loop_thread,) = loop_threads
    del loop_threads[:]
    gc.collect()  # the thread's locals are dropped with it; the finalizer stops the loop
    loop_thread.thread.join(_JOIN)
    assert not loop_thread.thread.is_alive()
    probe.assert_closed_properly()


def test_a_persistent_loop_closes_properly_at_shutdown() -> None:
    probe = _Probe()
    async_to_sync(probe.start)()
    assert asgibridge.shutdown(timeout=_JOIN) == []
    probe.assert_closed_properly()


def test_a_persistent_loop_closes_properly_at_interpreter_exit() -> None:
    script = (
        "import asyncio\n"
        "from asgibridge.sync import async_to_sync\n"
        "async def gen():\n"
        "    try:\n"
        "        yield 1\n"
        "        yield 2\n"
        "    finally:\n"
        "        print('generator finalized', flush=True)\n"
        "async def start():\n"
        "    global agen\n"
        "    loop = asyncio.get_running_loop()\n"
        "    await loop.run_in_executor(None, int)\n"
        "    agen = gen()\n"
        "    await agen.__anext__()\n"
        "    loop.close_was = loop.close\n"
        "    def close():\n"
        "        print('executor shut down', loop._default_executor._shutdown, flush=True)\n"
        "        loop.close_was()\n"
        "        print('loop closed', loop.is_closed(), flush=True)\n"
        "    loop.close = close\n"
        "async_to_sync(start)()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ASGIBRIDGE_LOOP_PER_CALL"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "generator finalized",
        "executor shut down True",
        "loop closed True",
    ]


_CHILD = r"""
import asyncio, gc, json, sys, weakref
if sys.argv[1] == "bridge":
    import asgibridge
    asgibridge.install_as_asgiref()
from asgiref.sync import async_to_sync
per_loop = weakref.WeakKeyDictionary()
async def register():
    loop = asyncio.get_running_loop()
    per_loop[loop] = object()
    return weakref.ref(loop)
seen = []
for _ in range(2):
    ref = async_to_sync(register)()
    loop = ref()
    closed = loop is None or loop.is_closed()
    del loop
    gc.collect()
    seen.append([closed, len(per_loop)])
print(json.dumps(seen))
"""


@pytest.mark.parametrize("mode", ["bridge", "asgiref"])
def test_the_environment_variable_gives_asgirefs_behaviour(mode: str) -> None:
    if mode == "asgiref":
        pytest.importorskip("asgiref.sync")
    env = {**os.environ, "ASGIBRIDGE_LOOP_PER_CALL": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[True, 0], [True, 0]]
