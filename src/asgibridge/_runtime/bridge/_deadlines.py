"""Hang deadlines of sync_to_async calls: one loop timer per call, and what it gives up.

The sync_to_async side has no thread of its own to wake: when a hang
deadline is set, the traced path (`submit_traced`) arms a `Watchdog`, one
``loop.call_later`` timer per call, re-armed every
``min(health_interval, hang_timeout)`` until the call ends. A
`sync_iter_to_async` batch gets a `StreamWatchdog`: a batch may run for the
whole stream while items flow, so what is timed is each wait of its consumer
for an item (or of ``aclose()`` for the batch), not the batch.

Rules: mode "raise" settles the waiting side with `BridgeDeadlockError`
(the sync function, which cannot be interrupted, is abandoned and counted
through `Hop.give_up`); mode "warn" logs once per stuck wait. A target
thread that died is reported at the next tick whatever the deadline
(`WorkerDiedError`). The watchdog reads the hop's state; only `Hop.give_up`
changes it.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..._errors import BridgeDeadlockError, WorkerDiedError
from .. import _state
from ..observe._hang_report import await_frames, call_site, logger, thread_stack
from ..observe._hooks import HopInfo, emit_end, emit_start
from ._hop import Hop

__all__ = ("StreamWatchdog", "Watchdog", "submit_traced")

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
        hop.give_up()  # a worker that has not started it skips it; a running one is abandoned
        if not hop.future.done():
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


def submit_traced(
    hop: Hop,
    target: Any,
    watch: Callable[..., Watchdog] = Watchdog,
) -> Watchdog | None:
    """Put a traced hop on ``target``: listeners see it start; a deadline arms ``watch``.

    Called on the loop, in the submitting task (``on_start`` sees its context).

    Returns:
        The watchdog (cancel it when the call ends), or None without a hang deadline.
    """
    info = hop.info
    assert info is not None
    emit_start(info)
    try:
        target._put(hop)
    except BaseException as exc:
        info.exception = exc
        emit_end(info)
        raise
    limit = _state.config["hang_timeout"]
    return watch(hop, info, target, limit) if limit is not None else None
