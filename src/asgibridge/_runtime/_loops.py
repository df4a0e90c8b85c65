"""Persistent event loops for async_to_sync calls made from plain threads.

asgiref starts a new thread and a new loop (``asyncio.run``) for every such
call; most of its cost is that. Here each calling thread gets one loop, run by
one daemon *loop thread*, reused by all its calls.

Theory of operation:

- A calling thread finds its loop through ``_state.tls.loop_owner``, an owner
  object that only that thread-local references. When the calling thread dies,
  Python drops its thread-local values, the owner is freed, and a
  ``weakref.finalize`` on it stops the loop: no leak per dead thread.
- A loop thread idle for ``loop_idle_timeout`` seconds stops itself. Callers
  take a lease (`acquire`) under the loop's lock before scheduling work, so a
  loop never stops between a caller's check and its call: the caller then
  builds a fresh one.
- After a fork the child has no loop threads; the owner carries the fork
  generation and a stale one is ignored (hazard: scheduling onto a loop whose
  thread does not exist would hang forever).
- On stop the loop cancels what is left, finalizes async generators, shuts
  down its default executor and closes, as ``asyncio.run`` does at its end.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import weakref

from . import _state
from ._greenlets import require_real_threads

__all__ = ("LoopThread", "loop_for_this_thread", "temporary_loop")

_names = itertools.count(1)


class LoopThread:
    """An event loop running forever on its own daemon thread."""

    def __init__(self, purpose: str, *, temporary: bool = False) -> None:
        # Hazard (deadlock): a loop "thread" that is a greenlet shares the
        # caller's OS thread (gevent/eventlet patching): fail before building.
        require_real_threads(f"an event loop thread ({purpose})")
        self.temporary = temporary
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._main, name=f"asgibridge-loop-{next(_names)} ({purpose})", daemon=True
        )
        self._lock = threading.Lock()
        self._calls = 0
        # Holders that need the loop to outlive idle periods (an unfinished
        # async_iter_to_sync: its async generator is bound to this loop).
        self._pins = 0
        self._last_used = time.monotonic()
        self.stopping = False
        with _state.lock:
            _state.loop_threads.add(self)
        self.thread.start()

    def acquire(self) -> bool:
        """Lease the loop for one call; False if it is stopping or already busy.

        A busy loop is running an outer call of the same thread (a nested
        ``force_new_loop`` call): the caller must not share it, because the
        end of its call cancels what is left running on the loop.
        """
        with self._lock:
            if self.stopping or self._calls:
                return False
            self._calls = 1
            return True

    def release(self) -> None:
        with self._lock:
            self._calls = 0
            self._last_used = time.monotonic()
        if self.temporary:
            self.stop()

    def pin(self) -> None:
        """Keep the loop up through idle periods until the matching `unpin`."""
        with self._lock:
            self._pins += 1

    def unpin(self) -> None:
        with self._lock:
            self._pins -= 1
            self._last_used = time.monotonic()

    def stop(self) -> None:
        """Ask the loop to finish (non-blocking; safe from any thread, idempotent)."""
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            pass

    def alive(self) -> bool:
        return self.thread.is_alive() and not self.loop.is_closed()

    def _check_idle(self) -> None:
        idle = _state.config["loop_idle_timeout"]
        with self._lock:
            expired = (
                self._calls == 0 and self._pins == 0 and time.monotonic() - self._last_used >= idle
            )
            if expired:
                self.stopping = True
        if expired:
            self.loop.stop()
        else:
            self.loop.call_later(idle, self._check_idle)

    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        loop.call_later(_state.config["loop_idle_timeout"], self._check_idle)
        try:
            loop.run_forever()
        finally:
            try:
                _finalize_loop(loop)
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                with _state.lock:
                    _state.loop_threads.discard(self)


def _finalize_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel leftover tasks and close async generators, like asyncio.run's end."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())


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
    loop_thread = LoopThread(purpose, temporary=True)
    loop_thread.acquire()
    return loop_thread


def loop_for_this_thread() -> LoopThread:
    """This thread's persistent loop thread, leased for one call (`release` after)."""
    owner: _Owner | None = _state.tls.loop_owner
    if owner is not None and owner.generation == _state.generation:
        loop_thread = owner.loop_thread
        if loop_thread.acquire():
            return loop_thread
        if not loop_thread.stopping:
            return temporary_loop("nested async_to_sync")
    loop_thread = LoopThread(f"async_to_sync for {threading.current_thread().name}")
    owner = _Owner(loop_thread)
    weakref.finalize(owner, _stop_unless_forked, loop_thread, _state.generation)
    _state.tls.loop_owner = owner
    loop_thread.acquire()
    return loop_thread
