"""Worker threads that run sync calls for sync_to_async: one per role, fed directly.

Three roles, one thread class:

- the process-wide *sync worker*: thread-sensitive work outside any
  ThreadSensitiveContext and any blocked sync caller (lives until shutdown);
- *pool workers*: thread_sensitive=False work, at most ``max_workers`` threads,
  reused most-recently-idle first (warm caches), retired after idling;
- *sticky workers*: each lent to one ThreadSensitiveContext for its lifetime
  and given back at its exit, without blocking the loop and without a joiner
  thread (the release is a marker queued behind the context's last work).

Theory of operation: every worker owns an `Inbox` (a queue whose wake-up is a
socket write made with the GIL released: one context switch per hand-off); a
submitter hands a work item straight to a chosen worker's inbox (no
concurrent.futures, no shared queue on the hot path). The pool's bookkeeping
(idle stack, backlog, thread count) changes only under the pool lock, on both
the submit side and the worker side, so an item can never sit in the backlog
while a worker idles (the lost-wakeup hazard of unlocked check-then-sleep).

A worker is *open* until its thread leaves its loop, for whatever reason (a
stop marker from `shutdown()`, idle retirement, a pool that closed, a crash).
Items are queued only under the worker's lock while it is open, and the
leaving thread closes it under that lock and then hands on everything still
queued (`_redirect`): so an item queued behind a stop marker, or submitted by
a caller that chose this worker just before `shutdown()` (hazard: a call
stranded on a thread that has exited), runs on a live worker instead.

Rules: nothing here starts a thread until the first submit; a thread is
registered only after it started (a failed start leaves nothing behind and
raises RuntimeError); every lookup (`get_sync_worker`) checks that its
worker is still open and replaces it otherwise; all instances are reachable
from `_state` so `shutdown()` and fork handling can find them.
"""

from __future__ import annotations

import threading
from collections import deque
from queue import Empty
from typing import Any

from ..._errors import BridgeDeadlockError
from .. import _state
from ..observe._stats import count, unhandled
from ._executor import WorkItem
from ._inbox import Inbox
from ._supervise import new_thread, start_thread, thread_name

__all__ = ("StickyPool", "Worker", "WorkerPool", "get_pool", "get_sticky_pool", "get_sync_worker")

_STOP = object()  # ends a worker's loop
_RELEASE = object()  # a sticky worker goes back to its pool


class Worker:
    """One daemon thread serving its own queue of work items."""

    __slots__ = (
        "_lock",
        "_open",
        "_pool",
        "current",
        "ident",
        "name",
        "queue",
        "role",
        "thread",
    )

    def __init__(self, role: str, pool: WorkerPool | StickyPool | None) -> None:
        # Hazard (deadlock): under gevent/eventlet patching this "thread" would
        # be a greenlet sharing the caller's OS thread; fail before registering.
        # Imported here: the check runs once per thread start, and a Django
        # process that never starts a thread need not load it (import footprint).
        from ..host._greenlets import require_real_threads

        require_real_threads(f"a {role} worker thread")
        self.role = role
        self.name = thread_name(role)
        self.queue: Inbox[object] = Inbox()
        self._pool = pool
        self._lock = threading.Lock()
        self._open = True
        self.thread = new_thread(self._main, self.name)
        self.ident: int | None = None
        # The item this thread is running (None between items): `StickyPool.release`
        # reads it to tell a finished call from one that may never end.
        self.current: object = None

    def start(self) -> None:
        """Start the thread (raises RuntimeError, leaving the worker unused)."""
        start_thread(self.thread)
        self.ident = self.thread.ident

    @property
    def open(self) -> bool:
        """True until the thread leaves its loop (then submits go elsewhere)."""
        return self._open

    def submit(self, item: WorkItem) -> None:
        """Hand ``item`` to this worker (raises if this very thread would wait on itself)."""
        if self.ident == threading.get_ident():
            raise BridgeDeadlockError(
                "Single thread executor already being used, would deadlock",
                f"(thread {self.name!r} is running the sync code that is now waiting for "
                "thread-sensitive work it must run itself: a new event loop started inside "
                "sync code?). Call the sync function directly, or await from the outer loop.",
            )
        with self._lock:
            if self._open:
                self.queue.put(item)
                return
        _redirect(item)

    _put = submit

    def _main(self) -> None:
        try:
            self._serve()
        finally:
            self._leave()

    def _serve(self) -> None:
        pool = self._pool
        get = self.queue.get
        where = f"a work item on {self.name}"
        item: object = None
        while True:
            if item is None:
                # Beyond the pool's idle cap an idle thread waits only the grace.
                idle, capped = pool.idle_wait() if pool is not None else (None, False)
                try:
                    item = get(timeout=idle)
                except Empty:
                    assert pool is not None
                    if pool.retire(self, capped):
                        return
                    continue
            if item is _STOP:
                return
            if item is _RELEASE:
                assert isinstance(pool, StickyPool)
                if not pool.give_back(self):
                    return
                item = None
                continue
            self.current = item
            try:  # the guard of `_supervise.guarded`, inlined: this is the hot path
                item.run()  # type: ignore[attr-defined]
            except BaseException as exc:  # the thread must survive whatever an item does
                unhandled(exc, where)
            self.current = None
            # Drop the reference before sleeping: the item holds the call's
            # arguments and result (leak hazard while idle).
            item = pool.next_item(self) if isinstance(pool, WorkerPool) else None
            if item is _STOP:
                return

    def _leave(self) -> None:
        """Close this worker and pass on what is still queued (its thread is leaving)."""
        with self._lock:
            self._open = False
        if self._pool is not None:
            self._pool.forget(self)
        elif _state.sync_worker is self:
            with _state.lock:
                if _state.sync_worker is self:
                    _state.sync_worker = None
        while True:
            try:
                item = self.queue.get_nowait()
            except Empty:
                break
            if item is not _STOP and item is not _RELEASE:
                _redirect(item)  # type: ignore[arg-type]
        # Closed under the lock above: nothing is queued here any more.
        self.queue.close()


def _redirect(item: WorkItem) -> None:
    """Run ``item`` elsewhere: its worker closed before it could run it.

    Thread-sensitive items go to the process-wide sync worker (a fresh one if
    need be), which runs them one at a time as their own worker would have.
    Pool items go back to the pool. If no thread can be started, the item
    fails with the start error instead of waiting forever.
    """
    try:
        get_sync_worker().submit(item)
    except BaseException as exc:
        item.fail(exc)


class _IdleStack:
    """What both pools share: their workers, the idle ones (LIFO), retirement, shutdown.

    Every field changes only under ``_lock`` (see the module's theory of operation).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Worker] = []
        self._closed = False
        self.workers: set[Worker] = set()

    def _over_cap(self, adding: int = 0) -> bool:
        """More idle workers than ``max_idle_workers`` (after ``adding`` more)."""
        return len(self._idle) + adding > _state.config["max_idle_workers"]  # type: ignore[no-any-return]

    def idle_wait(self) -> tuple[float, bool]:
        """How long an idle worker waits for work before `retire`, and whether capped.

        Read without the lock: a stale count only picks the other wait, and
        `retire` decides under the lock.
        """
        config = _state.config
        if self._over_cap():
            return config["idle_grace"], True
        return config["worker_idle_timeout"], False

    def retire(self, worker: Worker, capped: bool = False) -> bool:
        """An idle worker timed out: exit unless a submitter just picked it.

        A worker that waited only the grace (``capped``) exits only while the
        pool still has more idle workers than its cap; else it keeps waiting.

        Hazard (lost item): between the worker's queue wait timing out and this
        check, a submitter may have popped it from the idle stack and queued
        an item; then it must stay (and serve that item), not exit.
        """
        with self._lock:
            if worker in self._idle and (not capped or self._over_cap()):
                self._idle.remove(worker)
                self.workers.discard(worker)
                return True
            return False

    def forget(self, worker: Worker) -> None:
        """A worker's thread left (for any reason): it is no longer this pool's."""
        with self._lock:
            self.workers.discard(worker)
            if worker in self._idle:
                self._idle.remove(worker)

    def stop_idle(self) -> list[Worker]:
        """Stop every idle worker now, busy or leased ones when they are done; returns all.

        A closed pool still runs what is submitted to it later (a caller may hold
        it): stopped workers leave ``workers`` at once, so a late submit starts a
        fresh worker instead of queueing behind threads that are exiting (hazard:
        a stranded request), and that worker exits when it is idle again.
        """
        with self._lock:
            self._closed = True
            stopped = list(self._idle)
            for worker in stopped:
                worker.queue.put(_STOP)
                self.workers.discard(worker)
            self._idle.clear()
            return stopped + list(self.workers)


class WorkerPool(_IdleStack):
    """Bounded pool for thread_sensitive=False calls (LIFO reuse, idle retirement)."""

    def __init__(self, max_workers: int) -> None:
        super().__init__()
        self.max_workers = max(1, max_workers)
        self._backlog: deque[WorkItem] = deque()

    def submit(self, item: WorkItem) -> None:
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
            elif len(self.workers) < self.max_workers:
                worker = Worker("pool", self)
                worker.queue.put(item)
                try:
                    worker.start()
                except BaseException:
                    if not self.workers:
                        raise  # no thread at all could run it: the caller gets the error
                    # Others will get to it: wait in the backlog like any overflow.
                    self._backlog.append(item)
                    return
                self.workers.add(worker)
                return
            else:
                self._backlog.append(item)
                return
        worker.submit(item)

    _put = submit

    @property
    def backlog(self) -> int:
        """Items waiting for a free worker."""
        return len(self._backlog)

    def next_item(self, worker: Worker) -> object:
        """Called by a worker after each item: more backlog, idle (None), or _STOP."""
        with self._lock:
            if self._backlog:
                return self._backlog.popleft()
            if self._closed:
                self.workers.discard(worker)
                return _STOP
            self._idle.append(worker)
            return None

    def forget(self, worker: Worker) -> None:
        super().forget(worker)
        # Hazard (stranded backlog): the last worker left with items waiting.
        with self._lock:
            if self.workers or not self._backlog:
                return
            waiting = list(self._backlog)
            self._backlog.clear()
        for item in waiting:
            try:
                self.submit(item)
            except BaseException as exc:
                item.fail(exc)


class StickyPool(_IdleStack):
    """Threads lent one at a time to ThreadSensitiveContexts.

    A thread goes back to the idle stack for the next context only while few
    contexts hold threads (at most ``max_idle_workers``: sequential requests
    keep one warm thread). Past that (a saturated server: every request in
    flight holds one) it leaves with its context, and the next context starts
    a thread of its own, as asgiref does. Measured (issue 18 §4, gunicorn, 32
    requests in flight per worker, sqlite): reusing released threads there
    made the time inside sqlite 20-50x asgiref's (its busy back-off took
    over) and RSS grow two to four times as fast per request; a thread per
    context matched asgiref on both (docs/design.md).
    """

    def __init__(self) -> None:
        super().__init__()
        self._leased = 0  # workers lent to a context now (under _lock)

    def lease(self) -> Worker:
        """An idle worker, or a new started one (raises RuntimeError)."""
        with self._lock:
            self._leased += 1
            if self._idle:
                return self._idle.pop()
        worker = Worker("sticky", self)
        try:
            worker.start()
        except BaseException:
            with self._lock:
                self._leased -= 1
            raise
        with self._lock:
            self.workers.add(worker)
        return worker

    def _crowded(self) -> bool:
        """More contexts hold threads than the pool keeps idle ones (under _lock)."""
        return self._leased > _state.config["max_idle_workers"]  # type: ignore[no-any-return]

    def release(self, worker: Worker) -> None:
        """Give ``worker`` back once it has run what was queued before (never blocks).

        If nothing is queued and what it runs (if anything) is a call that has
        finished (the usual end of a request: the context awaited its calls),
        it goes straight back to the idle stack: no wake-up of its thread, and
        the next context leases this same warm thread. Otherwise (an abandoned
        call still running, or the idle stack at its cap, where the thread
        must re-read its wait) a release marker follows the queued work: a new
        context never queues behind a call that may never end. An item taken
        from the queue but not yet ``current`` can only be a call its awaiting
        task gave up before the start, which the thread skips at once.
        """
        with self._lock:
            crowded = self._crowded()
            self._leased -= 1
        with worker._lock:
            if not worker._open:
                return
            if crowded:
                # Under load: this thread leaves after what is queued (see the class).
                worker.queue.put(_STOP)
                return
            current = worker.current
            if worker.queue.empty() and (
                current is None or getattr(current, "finished", False) is True
            ):
                with self._lock:
                    if not self._closed and not self._over_cap(adding=1):
                        self._idle.append(worker)
                        return
            worker.queue.put(_RELEASE)

    def give_back(self, worker: Worker) -> bool:
        """A released worker returns to the idle stack; False: exit (pool shut down)."""
        with self._lock:
            if self._closed:
                self.workers.discard(worker)
                return False
            self._idle.append(worker)
            return True


def get_sync_worker() -> Worker:
    """The process-wide thread-sensitive worker, started on first use (or replaced)."""
    worker = _state.sync_worker
    if worker is None or not worker._open:
        with _state.lock:
            worker = _state.sync_worker
            if worker is None or not worker._open:
                if worker is not None:
                    count("replaced_threads")
                _state.sync_worker = None
                fresh = Worker("sync", None)
                fresh.start()  # raises RuntimeError: nothing registered
                _state.sync_worker = worker = fresh
    return worker  # type: ignore[no-any-return]


def get_pool() -> WorkerPool:
    pool = _state.pool
    if pool is None:
        with _state.lock:
            pool = _state.pool
            if pool is None:
                pool = _state.pool = WorkerPool(_state.config["max_workers"])
    return pool  # type: ignore[no-any-return]


def get_sticky_pool() -> StickyPool:
    pool = _state.sticky_pool
    if pool is None:
        with _state.lock:
            pool = _state.sticky_pool
            if pool is None:
                pool = _state.sticky_pool = StickyPool()
    return pool  # type: ignore[no-any-return]


def stop_all_workers() -> list[threading.Thread]:
    """Ask every idle worker to exit (shutdown); returns the started threads to join."""
    threads: list[threading.Thread] = []
    with _state.lock:
        sync, pool, sticky = _state.sync_worker, _state.pool, _state.sticky_pool
        _state.sync_worker = _state.pool = _state.sticky_pool = None
        # WsgiToAsgi's per-adapter pools: an adapter rebuilds its pool lazily.
        adapter_pools: list[Any] = list(_state.adapter_pools)
        _state.adapter_pools.clear()
    if sync is not None:
        sync.queue.put(_STOP)
        threads.append(sync.thread)
    for group in (pool, sticky, *adapter_pools):
        if group is not None:
            threads.extend(w.thread for w in group.stop_idle())
    # Hazard: a thread that never started cannot be joined (RuntimeError).
    return [thread for thread in threads if thread.ident is not None]
