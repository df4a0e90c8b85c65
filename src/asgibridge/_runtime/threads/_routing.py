"""Choosing the thread a sync_to_async call runs on (see `_sync_to_async` for the rules).

Kept apart from the bridge classes so that the routing table reads in one
place; every function here is on the hot path and allocates nothing in the
common case.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any, Protocol

from .. import _state
from ..host._asyncio_private import UNKNOWN, default_executor
from ._executor import WorkItem
from ._workers import get_pool, get_sync_worker

__all__ = (
    "ExecutorTarget",
    "LoopDefaultExecutorTarget",
    "Target",
    "nonsensitive_target",
    "sensitive_target",
)

_current_executor = _state.current_executor
_thread_sensitive_context = _state.thread_sensitive_context
_loop_executors = _state.loop_executors


class Target(Protocol):
    """Where a work item can be put: a worker, a pool, an executor, a blocked caller."""

    def _put(self, item: WorkItem) -> None: ...


class ExecutorTarget:
    """Adapts a concurrent.futures executor (user-supplied) to `Target`."""

    __slots__ = ("executor",)

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def _put(self, item: WorkItem) -> None:
        future = self.executor.submit(item.run)
        # Hazard (hang): an executor may drop queued work (``shutdown(cancel_futures=
        # True)``); the awaiting task is then cancelled, as asgiref's
        # run_in_executor does, instead of waiting for a run that never comes.
        dropped = getattr(item, "dropped", None)
        if dropped is not None:
            future.add_done_callback(dropped)


def sensitive_target(loop: asyncio.AbstractEventLoop) -> Target:
    """The thread for a thread_sensitive=True call made on ``loop``."""
    executor = _current_executor.get()
    if executor is not None and executor._generation == _state.generation:
        return executor  # type: ignore[no-any-return]
    context: Any = _thread_sensitive_context.get(None)
    if context is not None:
        return context._target()  # type: ignore[no-any-return]
    executor = _loop_executors.get(loop)
    if executor is not None:
        return executor  # type: ignore[no-any-return]
    return get_sync_worker()


class LoopDefaultExecutorTarget:
    """The loop's default executor reached the public way (``run_in_executor(None, ...)``).

    For loops that do not show which default executor is set (uvloop): a
    ``set_default_executor`` there is then honoured, as asgiref honours it.
    Called on the loop thread (the awaiting task submits).
    """

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def _put(self, item: WorkItem) -> None:
        future = self.loop.run_in_executor(None, item.run)
        dropped = getattr(item, "dropped", None)
        if dropped is not None:
            future.add_done_callback(dropped)
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    # The item delivers its own outcome; this future only reports a drop.
    if not future.cancelled():
        future.exception()


def nonsensitive_target(loop: asyncio.AbstractEventLoop) -> Target:
    """The thread for a thread_sensitive=False call without ``executor=``."""
    # A default executor set by the user (loop.set_default_executor) is
    # honoured; otherwise asgibridge's own bounded pool (faster than asyncio's).
    default = default_executor(loop)
    if default is None:
        return get_pool()
    if default is UNKNOWN:
        return LoopDefaultExecutorTarget(loop)
    return ExecutorTarget(default)  # type: ignore[arg-type]
