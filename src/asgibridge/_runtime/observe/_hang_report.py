"""Hang reports: who waits on what, from where, and what the target is doing now.

A report names the chain: which thread is blocked in which bridge call, what
it waits on (a loop or a thread), the user's call site (the first frame
outside asgibridge and asyncio), and what the target is doing now (its
current stack, from ``sys._current_frames()``). `a2s_deadline` is the
async_to_sync side's check (its caller wakes every ``health_interval``);
the sync_to_async side's timers live in `_deadlines`.

Rules: mode "raise" raises `BridgeDeadlockError` in the waiting caller; mode
"warn" logs once per stuck wait on the "asgibridge" logger (not
``warnings``: a test suite running with ``-W error`` must not turn a
diagnostic into a failure elsewhere). Formatting only reads frames and
objects; it never calls ``repr()`` of user objects.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any

from ..._errors import BridgeDeadlockError
from .. import _state
from ._stats import logger  # the runtime's one logger, "asgibridge"

__all__ = ("a2s_deadline", "await_frames", "call_site", "logger", "thread_stack")


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_THREADING_FILE = os.path.abspath(threading.__file__)
_STACK_LIMIT = 12  # frames of the target's stack shown in a report
_CHAIN_LIMIT = 200  # coroutines followed down an await chain (a guard against a cycle)


def _is_ours(filename: str) -> bool:
    path = os.path.abspath(filename)
    return (
        path.startswith(_PACKAGE_DIR + os.sep)
        or path.startswith(_ASYNCIO_DIR + os.sep)
        or path == _THREADING_FILE
    )


def call_site(frames: list[FrameType]) -> str:
    """``file:line in function`` of the innermost frame that is not asgibridge's or asyncio's."""
    for frame in reversed(frames):
        code = frame.f_code
        if not _is_ours(code.co_filename):
            return f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
    return "<unknown call site>"


def await_frames(coro: Any) -> list[FrameType]:
    """The frames of a coroutine and of what it awaits, down the chain (outermost first).

    ``Task.get_stack()`` stops at the task's own coroutine; the user's call site
    is usually further in (``await helper()`` -> ``await sync_to_async(f)()``).
    """
    frames: list[FrameType] = []
    while coro is not None and len(frames) < _CHAIN_LIMIT:
        if isinstance(coro, asyncio.Task):
            coro = coro.get_coro()  # an awaited task: follow into its coroutine
            continue
        frame = _first_of(coro, ("cr_frame", "gi_frame", "ag_frame"))
        if frame is None:
            break
        frames.append(frame)
        coro = _first_of(coro, ("cr_await", "gi_yieldfrom", "ag_await"))
    return frames


def _first_of(obj: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _format_frames(frames: list[FrameType]) -> str:
    """Frames formatted like a traceback (the innermost `_STACK_LIMIT`)."""
    pairs = [(frame, frame.f_lineno) for frame in frames[-_STACK_LIMIT:]]
    return "".join(traceback.format_list(traceback.StackSummary.extract(iter(pairs))))


def _thread_frames() -> list[FrameType]:
    frames = []
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()  # outermost first, like Task.get_stack()
    return frames


def thread_stack(ident: int | None) -> str:
    """The current stack of thread ``ident`` (innermost frames last), or why there is none."""
    if ident is None:
        return "    (not started yet: the call is still queued)\n"
    frame = sys._current_frames().get(ident)
    if frame is None:
        return "    (the thread is gone)\n"
    lines = traceback.format_stack(frame, limit=_STACK_LIMIT)
    return "".join(lines)


# -- async_to_sync ------------------------------------------------------------


def a2s_deadline(call: Any, loop_name: str) -> None:
    """Report ``call`` if it outlived the hang deadline (the waiting caller's thread)."""
    limit = _state.config["hang_timeout"]
    if limit is None or time.monotonic() - call.started_at < limit:
        return
    loop_thread = call.loop_thread
    ident = loop_thread.thread.ident if loop_thread else call.loop_ident
    message = (
        f"async_to_sync in thread {call.waiter.name!r} has waited more than {limit:g}s "
        f"for {_coroutine_name(call.task)} on {loop_name}.\n"
        f"  called from: {call_site(_thread_frames())}\n"
        f"{_suspended_at(call.task)}"
        f"  {loop_name} is now at:\n{thread_stack(ident)}"
    )
    hint = (
        "Raise hang_timeout (ASGIBRIDGE_HANG_TIMEOUT) if the work is legitimately slow; "
        "otherwise the coroutine waits on something that waits on this thread."
    )
    if _state.config["hang_mode"] == "warn":
        # Once per stuck wait: push this call's deadline out of reach.
        call.started_at = float("inf")
        logger.warning("%s\n%s", message, hint)
        return
    raise BridgeDeadlockError(message, hint)


def _coroutine_name(task: asyncio.Task[Any] | None) -> str:
    """The user's coroutine a task runs (past asgibridge's own wrappers)."""
    if task is None:
        return "a coroutine that has not started"
    for frame in await_frames(task.get_coro()):
        code = frame.f_code
        if not _is_ours(code.co_filename):
            name = getattr(code, "co_qualname", code.co_name)
            return f"coroutine {name}() in {task.get_name()}"
    return repr(task)


def _suspended_at(task: asyncio.Task[Any] | None) -> str:
    """Where the call's coroutine waits now: its await chain, innermost last."""
    frames = await_frames(task.get_coro()) if task is not None else []
    if not frames:
        return ""
    return f"  the coroutine is at:\n{_format_frames(frames)}"
