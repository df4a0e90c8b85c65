"""Hang diagnostics: reporting a bridge wait that outlived ``hang_timeout``.

A report names the chain: which thread is blocked in which bridge call,
what it waits on (a loop or a thread), the user's call site (the first frame
outside asgibridge and asyncio), and what the target is doing now (its
current stack, from ``sys._current_frames()``).

Theory of operation: the async_to_sync side already wakes every
``health_interval`` (`AsyncCall.health_check`) and calls `a2s_deadline`. The
sync_to_async side has no thread of its own to wake: when a deadline is set,
the traced path arms a `Watchdog`, one ``loop.call_later`` timer per call,
re-armed every ``min(health_interval, hang_timeout)`` until the call ends.
A `sync_iter_to_async` batch gets a `StreamWatchdog`: a batch may run for the
whole stream while items flow, so what is timed is each wait of its consumer
for an item (or of ``aclose()`` for the batch), not the batch.

Rules: mode "raise" settles the waiting side with `BridgeDeadlockError`
(the sync function, which cannot be interrupted, is abandoned and counted);
mode "warn" logs once per stuck wait on the "asgibridge" logger (not
``warnings``: a test suite running with ``-W error`` must not turn a
diagnostic into a failure elsewhere). A target thread that died is reported
at the next tick whatever the deadline (`WorkerDiedError`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .._errors import BridgeDeadlockError, WorkerDiedError
from . import _state
from ._hooks import HopInfo, function_name

if TYPE_CHECKING:
    from ._call import AsyncCall
    from ._hop import Hop

__all__ = (
    "StreamWatchdog",
    "Watchdog",
    "a2s_deadline",
    "await_frames",
    "call_site",
    "record_abandoned",
    "thread_stack",
)

logger = logging.getLogger("asgibridge")

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


def record_abandoned(hop: Hop) -> None:
    """Count one sync call whose result nobody will read (by function name)."""
    _state.counters["abandoned_calls"] += 1
    info: HopInfo | None = getattr(hop, "info", None)
    name = info.name if info is not None else function_name(hop.func)
    by_name = _state.abandoned_by_name
    by_name[name] = by_name.get(name, 0) + 1


# -- async_to_sync ------------------------------------------------------------


def a2s_deadline(call: AsyncCall, loop_name: str) -> None:
    """Report ``call`` if it outlived the hang deadline (the waiting caller's thread)."""
    limit = _state.config["hang_timeout"]
    if limit is None or time.monotonic() - call.started_at < limit:
        return
    loop_thread = call.loop_thread
    ident = loop_thread.thread.ident if loop_thread else getattr(call.loop, "_thread_id", None)
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


# -- sync_to_async ------------------------------------------------------------


class Watchdog:
    """Watches one sync_to_async call from its loop (one timer at a time)."""

    __slots__ = ("handle", "hop", "info", "interval", "limit", "target", "task")

    call = "sync_to_async"  # how a report names the call
    waiter_role = "awaited by"  # and the task waiting on it

    def __init__(self, hop: Hop, info: HopInfo, target: Any, limit: float) -> None:
        self.hop = hop
        self.info = info
        self.target = target
        self.limit = limit
        self.task = asyncio.current_task(hop.loop)
        self.interval = min(_state.config["health_interval"], limit)
        self.handle: asyncio.TimerHandle | None = hop.loop.call_later(self.interval, self._tick)

    def cancel(self, *_done: object) -> None:
        """Stop watching (also usable as a future's done callback)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def waited(self) -> float:
        """Seconds the waiting side has waited so far."""
        return time.perf_counter() - self.info.submitted_at

    def _after_warning(self) -> None:
        """A wait was reported in hang_mode "warn": once per call, so stop here."""

    def _tick(self) -> None:
        hop, info = self.hop, self.info
        self.handle = None
        if hop.finished or hop.future.done():
            return
        if hop.started and info.thread_ident is not None and not _alive(info.thread_ident):
            self._give_up(
                WorkerDiedError(
                    f"{self.call}({info.name}) lost its thread {info.thread_name!r}, "
                    "which died while running it.",
                    "Something ended the thread from inside the call (os._exit in a "
                    "thread? a C extension?); the result can never arrive.",
                )
            )
            return
        elapsed = self.waited()
        if elapsed < self.limit:
            self.handle = hop.loop.call_later(self.interval, self._tick)
            return
        message, hint = self._report(elapsed)
        if _state.config["hang_mode"] == "warn":
            logger.warning("%s\n%s", message, hint)
            self._after_warning()
            return
        self._give_up(BridgeDeadlockError(message, hint))

    def _give_up(self, error: BaseException) -> None:
        hop = self.hop
        hop.cancelled = True  # a worker that has not started it skips it
        if hop.started and not hop.finished:
            record_abandoned(hop)
        hop.future.set_exception(error)

    def _report(self, elapsed: float) -> tuple[str, str]:
        info = self.info
        task = self.task
        site = call_site(await_frames(task.get_coro())) if task is not None else "<not in a task>"
        waiting_on = _target_name(self.target, info)
        state = "running" if self.hop.started else "queued, not started"
        message = (
            f"{self.call}({info.name}) {self.waiter_role} "
            f"{task.get_name() if task else 'a callback'} "
            f"in thread {threading.current_thread().name!r} has waited {elapsed:.3g}s "
            f"(more than {self.limit:g}s) on {waiting_on} ({state}).\n"
            f"  called from: {site}\n"
            f"  {waiting_on} is now at:\n{thread_stack(_target_ident(self.target, info))}"
        )
        hint = (
            "Raise hang_timeout (ASGIBRIDGE_HANG_TIMEOUT) if the function is legitimately "
            "slow. If it is still queued, the thread it must run on is busy: often the "
            "function ahead of it waits for this very task (a cycle); use "
            "thread_sensitive=False or await instead of blocking."
        )
        return message, hint


class StreamWatchdog(Watchdog):
    """Watches one `sync_iter_to_async` batch: each wait of the loop side on it.

    Args:
        waiting: returns what the loop side waits on now (the consumer's
            waiter for an item, or the batch while ``aclose()`` waits for it),
            or None; a wait is timed from when it is first seen.
        fail: hands a give-up error to the consumer (its next item raises it).

    Each stuck wait is reported once in hang_mode "warn", and the batch is
    watched on; in "raise" the consumer gets the report and the batch is
    abandoned (it runs on; the generator is closed on its thread after it).
    """

    __slots__ = ("fail", "reported", "since", "wait", "waiting")

    call = "sync_iter_to_async"
    waiter_role = "consumed by"

    def __init__(
        self,
        hop: Hop,
        info: HopInfo,
        target: Any,
        limit: float,
        *,
        waiting: Callable[[], object],
        fail: Callable[[BaseException], None],
    ) -> None:
        self.waiting = waiting
        self.fail = fail
        self.wait = waiting()  # the consumer that started the batch usually waits
        self.since = info.submitted_at
        self.reported: object = None
        super().__init__(hop, info, target, limit)

    def waited(self) -> float:
        wait = self.waiting()
        if wait is None or wait is self.reported:
            return 0.0
        now = time.perf_counter()
        if wait is not self.wait:
            self.wait, self.since = wait, now
        return now - self.since

    def _after_warning(self) -> None:
        self.reported = self.wait  # once per stuck wait; a later one is reported too
        self.handle = self.hop.loop.call_later(self.interval, self._tick)

    def _give_up(self, error: BaseException) -> None:
        self.fail(error)
        super()._give_up(error)


def _alive(ident: int) -> bool:
    return ident in sys._current_frames()


def _target_thread(target: Any) -> threading.Thread | None:
    for name in ("thread", "_work_thread"):
        thread = getattr(target, name, None)
        if isinstance(thread, threading.Thread):
            return thread
    return None


def _target_name(target: Any, info: HopInfo) -> str:
    if info.thread_name is not None:
        return f"thread {info.thread_name!r}"
    thread = _target_thread(target)
    if thread is not None:
        return f"thread {thread.name!r}"
    return f"a thread of {type(target).__name__}"


def _target_ident(target: Any, info: HopInfo) -> int | None:
    if info.thread_ident is not None:
        return info.thread_ident
    thread = _target_thread(target)
    return thread.ident if thread is not None else None
