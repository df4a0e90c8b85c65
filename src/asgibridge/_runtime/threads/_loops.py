"""Persistent event loops for async_to_sync calls made from plain threads.

asgiref starts a new thread and a new loop (``asyncio.run``) for every such
call; most of its cost is that. Here each calling thread gets one loop, run by
one daemon *loop thread*, reused by all its calls.

Theory of operation:

- A calling thread finds its loop through ``_state.tls.loop_owner``, an owner
  object that only that thread-local references. When the calling thread dies,
  Python drops its thread-local values, the owner is freed, and a
  ``weakref.finalize`` on it stops the loop: no leak per dead thread.
- A loop thread idle for ``loop_idle_timeout`` seconds stops itself, unless
  it was made with ``reap_when_idle=False`` (an AsyncSingleThreadContext's
  loop lives exactly as long as its context). Callers take a lease
  (`acquire`) under the loop's lock before scheduling work, so a loop never
  stops between a caller's check and its call: the caller then builds a
  fresh one.
- `stop` ends the loop now; `request_stop` (what `shutdown()` uses) ends it
  now if no bridge call holds it, else when that call releases it: an
  async_to_sync call in flight is never cancelled by a shutdown.
- After a fork the child has no loop threads; the owner carries the fork
  generation and a stale one is ignored (hazard: scheduling onto a loop whose
  thread does not exist would hang forever).
- Supervision: ``run_forever`` is restarted if a callback lets a
  BaseException escape it (asyncio re-raises KeyboardInterrupt and
  SystemExit from tasks out of the loop); the exception is logged and
  counted, and the task that raised it already carries it as its outcome.
- With ``loop_per_call`` (asgiref's behaviour, opt-in) a top-level call
  from a plain thread gets a `temporary_loop` instead, and the call returns
  only once that loop is closed (`wait_closed`, with a deadline).
- On stop the loop cancels what is left (waiting at most ``leftover_timeout``
  for tasks that ignore cancellation), finalizes async generators, shuts
  down its default executor and closes, as ``asyncio.run`` does at its end.

Rules: loops are created in an empty `contextvars.Context` (the loop's
self-pipe handle would otherwise keep the first caller's context alive for
the loop's life); a loop thread whose start fails is removed from
``_state.loop_threads`` at once and its loop closed.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import sys
import threading
import time
import weakref
from typing import Any

from .. import _state
from ..observe._stats import count, logger, unhandled
from ._doorbell import forget_loop, poster_for, refuse
from ._supervise import new_thread, start_thread, thread_name

__all__ = ("LoopThread", "loop_for_this_thread", "new_loop", "temporary_loop", "wait_closed")

# The clock of idle bookkeeping (a module attribute so tests can drive it).
_clock = time.monotonic


class LoopThread:
    """An event loop running forever on its own daemon thread.

    Args:
        purpose: shown in the thread's name.
        temporary: the loop stops when its one call releases it.
        reap_when_idle: stop after ``loop_idle_timeout`` seconds with no call.
        leased: start leased to the caller's bridge call (release it after).

    Raises:
        RuntimeError: the thread could not be started (nothing is kept).
    """

    def __init__(
        self,
        purpose: str,
        *,
        temporary: bool = False,
        reap_when_idle: bool = True,
        leased: bool = False,
    ) -> None:
        # Hazard (deadlock): a loop "thread" that is a greenlet shares the
        # caller's OS thread (gevent/eventlet patching): fail before building.
        # Imported here: the check runs once per thread start, and a Django
        # process that never starts a thread need not load it (import footprint).
        from ..host._greenlets import require_real_threads

        require_real_threads(f"an event loop thread ({purpose})")
        self.temporary = temporary
        self.reap_when_idle = reap_when_idle and not temporary
        self.loop: asyncio.AbstractEventLoop = contextvars.Context().run(new_loop)
        # How callers hand work to the loop (its doorbell: one context switch on
        # any loop); made here, before the loop's thread starts.
        self.post = poster_for(self.loop, owner=True)
        self.thread = new_thread(self._main, thread_name("loop", purpose))
        self._lock = threading.Lock()
        # ``leased``: born leased to the caller's bridge call. Hazard (race): a loop
        # leased only after its thread started could be reaped for idling in
        # between (a busy machine, a short loop_idle_timeout) and handed out closed.
        self._calls = 1 if leased else 0
        self._defer_stop = leased  # the lease is a bridge call: a shutdown waits for it
        self._stop_after_call = False
        # Holders that need the loop to outlive idle periods (an unfinished
        # async_iter_to_sync: its async generator is bound to this loop).
        self._pins = 0
        self.last_used = _clock()
        self.stopping = False
        # Tasks left by earlier calls that ignored cancellation past the
        # leftover deadline: reported once, not waited for again.
        self.stubborn: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        with _state.lock:
            _state.loop_threads.add(self)
        try:
            start_thread(self.thread)
        except BaseException:
            with _state.lock:
                _state.loop_threads.discard(self)
            self.loop.close()
            forget_loop(self.loop)
            raise

    def acquire(self, *, call: bool = False) -> bool:
        """Lease the loop for one call; False if it is stopping or already busy.

        A busy loop is running an outer call of the same thread (a nested
        ``force_new_loop`` call): the caller must not share it, because the
        end of its call cancels what is left running on the loop. With
        ``call=True`` the lease is an async_to_sync call: `request_stop`
        waits for its release.
        """
        with self._lock:
            if self.stopping or self._calls:
                return False
            self._calls = 1
            self._defer_stop = call
            return True

    def release(self) -> None:
        with self._lock:
            self._calls = 0
            self._defer_stop = False
            self.last_used = _clock()
            stop = self.temporary or self._stop_after_call
        if stop:
            self.stop()

    def pin(self) -> None:
        """Keep the loop up through idle periods until the matching `unpin`."""
        with self._lock:
            self._pins += 1

    def unpin(self) -> None:
        with self._lock:
            self._pins -= 1
            self.last_used = _clock()

    def stop(self) -> None:
        """Ask the loop to finish now (non-blocking; safe from any thread, idempotent)."""
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            pass

    def request_stop(self) -> bool:
        """Stop now, or after the bridge call holding the loop; True if it stops now."""
        with self._lock:
            if self._calls and self._defer_stop:
                self._stop_after_call = True
                return False
        self.stop()
        return True

    def alive(self) -> bool:
        return self.thread.is_alive() and not self.loop.is_closed()

    def _check_idle(self) -> None:
        idle = _state.config["loop_idle_timeout"]
        with self._lock:
            expired = self._calls == 0 and self._pins == 0 and _clock() - self.last_used >= idle
            if expired:
                self.stopping = True
        if expired:
            self.loop.stop()
        else:
            self.loop.call_later(idle, self._check_idle)

    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        if self.reap_when_idle:
            loop.call_later(_state.config["loop_idle_timeout"], self._check_idle)
        try:
            self._run()
        finally:
            with self._lock:
                self.stopping = True  # no lease from now on, whatever ended the loop
            try:
                _finalize_loop(loop, self.stubborn)
            except BaseException as exc:
                unhandled(exc, f"closing the loop of {self.thread.name}")
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                forget_loop(loop)
                # Let the bell (and its descriptor) go with the loop, though this
                # object may be kept: later posts fail as on any closed loop.
                self.post = refuse
                with _state.lock:
                    _state.loop_threads.discard(self)

    def _run(self) -> None:
        # Supervision: a BaseException escaping run_forever (KeyboardInterrupt
        # raised in a task, a crashing callback) must not end the thread while
        # calls still wait on it.
        # A loop stopped by anyone but this class (user code calling
        # ``loop.stop()`` in a task) keeps serving: callers still lease it.
        while True:
            try:
                self.loop.run_forever()
            except BaseException as exc:
                unhandled(exc, f"the event loop of {self.thread.name}")
                count("replaced_threads")
            with self._lock:
                if self.stopping:
                    return


def _finalize_loop(loop: asyncio.AbstractEventLoop, stubborn: Any) -> None:
    """Cancel leftover tasks and close async generators, like asyncio.run's end."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        limit = _state.config["leftover_timeout"]
        _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=limit))
        fresh = [task for task in pending if task not in stubborn]
        if fresh:
            count("leftover_tasks", len(fresh))
            logger.warning(
                "asgibridge: closing an event loop with %d task(s) that ignored "
                "cancellation for %gs: %s",
                len(fresh),
                limit,
                ", ".join(describe_task(task) for task in fresh),
            )
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


def describe_task(task: asyncio.Task[Any]) -> str:
    """``name (coroutine qualname)`` of a task, without calling user reprs."""
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None) or type(coro).__qualname__
    return f"{task.get_name()} ({qualname})"


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop as ``loop_factory`` says (default: the event loop policy's)."""
    factory = _state.config["loop_factory"]
    if factory is None:
        return asyncio.new_event_loop()
    if factory == "asyncio":
        return asyncio.SelectorEventLoop() if sys.platform != "win32" else asyncio.new_event_loop()
    if factory == "uvloop":
        # An optional dependency, named by the user (imported by name: no hard dependency).
        uvloop: Any = importlib.import_module("uvloop")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    loop = factory()
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"loop_factory returned {type(loop).__name__}, not an event loop")
    return loop


class _Owner:
    """Held only by a thread-local: its death marks the calling thread's death."""

    __slots__ = ("__weakref__", "generation", "loop_thread")

    def __init__(self, loop_thread: LoopThread) -> None:
        self.loop_thread = loop_thread
        self.generation = _state.generation


def _stop_unless_forked(loop_thread: LoopThread, generation: int) -> None:
    # Hazard (fork): in a child, the loop's self-pipe is shared with the parent;
    # waking it from here would poke the parent's loop. The child just drops it.
    if generation == _state.generation:
        loop_thread.stop()


def temporary_loop(purpose: str) -> LoopThread:
    """A loop thread for one call, stopped when that call releases it."""
    return LoopThread(purpose, temporary=True, leased=True)


def wait_closed(loop_thread: LoopThread) -> bool:
    """Wait until a stopping loop thread has closed its loop; False if the deadline passed.

    The deadline covers the loop's end (`_finalize_loop`): twice
    ``leftover_timeout`` (the call's leftovers, then the loop's) plus
    ``health_interval`` for async generators and the default executor. Past
    it the loop is named in a warning and left to finish on its own.
    """
    config = _state.config
    deadline = 2 * config["leftover_timeout"] + config["health_interval"]
    thread = loop_thread.thread
    if thread is threading.current_thread():
        return False
    thread.join(deadline)
    if not thread.is_alive():
        return True
    logger.warning(
        "asgibridge: the event loop of %s (loop_per_call) was still closing %gs after its "
        "call returned: an async generator's cleanup or a default-executor thread does not "
        "finish. The call returns; the loop closes when they do.",
        thread.name,
        deadline,
    )
    return False


def loop_for_this_thread() -> LoopThread:
    """This thread's persistent loop thread, leased for one call (`release` after)."""
    owner: _Owner | None = _state.tls.loop_owner
    if owner is not None and owner.generation == _state.generation:
        loop_thread = owner.loop_thread
        if loop_thread.acquire(call=True):
            return loop_thread
        if not loop_thread.stopping:
            return temporary_loop("nested async_to_sync")
    loop_thread = LoopThread(f"async_to_sync for {threading.current_thread().name}", leased=True)
    owner = _Owner(loop_thread)
    weakref.finalize(owner, _stop_unless_forked, loop_thread, _state.generation)
    _state.tls.loop_owner = owner
    return loop_thread
