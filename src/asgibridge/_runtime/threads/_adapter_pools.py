"""The bounded thread pool of one WsgiToAsgi adapter, rebuilt after fork and after shutdown.

Each adapter owns its pool (asgiref runs every WSGI request of a process on
one thread). A pool of its own, rather than the runtime's shared one, means
WSGI requests can never take all the threads that their own nested
``sync_to_async(thread_sensitive=False)`` calls need (a starvation deadlock).

Theory of operation: the runtime's `WorkerPool` is created lazily at the
adapter's first request and registered in ``_state.adapter_pools``. A pool
is usable while it is in that set and was made in this fork generation;
otherwise (stopped by `stop_adapter_pools` / ``shutdown()``, or inherited
across ``fork()``, whose threads do not exist in the child) a new one is made.
"""

from __future__ import annotations

import threading

from .. import _state
from ._workers import WorkerPool

__all__ = ("AdapterPool", "stop_adapter_pools")


class AdapterPool:
    """A lazily created, fork-aware `WorkerPool` of at most ``max_threads`` threads.

    Example:
        >>> pool = AdapterPool(4)
        >>> pool.get() is pool.get()
        True
        >>> _ = stop_adapter_pools()
    """

    __slots__ = ("_generation", "_pool", "max_threads")

    def __init__(self, max_threads: int) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, not {max_threads}")
        self.max_threads = max_threads
        self._pool: WorkerPool | None = None
        self._generation = -1

    def get(self) -> WorkerPool:
        """The pool to submit to (made now if there is none usable)."""
        pool = self._pool
        if (
            pool is not None
            and self._generation == _state.generation
            and pool in _state.adapter_pools
        ):
            return pool
        return self._renew()

    def _renew(self) -> WorkerPool:
        # Hazard (fork): our lock may have been held by a thread that does not
        # exist in a forked child; the runtime's lock is replaced at fork.
        with _state.lock:
            pool = self._pool
            if (
                pool is None
                or self._generation != _state.generation
                or pool not in _state.adapter_pools
            ):
                pool = WorkerPool(self.max_threads)
                _state.adapter_pools.add(pool)
                self._pool = pool
                self._generation = _state.generation
            return pool


def stop_adapter_pools() -> list[threading.Thread]:
    """Stop every adapter pool (idle threads now, busy ones when done); returns their threads.

    What ``asgibridge.shutdown()`` does for the runtime's own pools; adapters
    make new pools on their next request.
    """
    with _state.lock:
        pools = list(_state.adapter_pools)
        _state.adapter_pools.clear()
    threads: list[threading.Thread] = []
    for pool in pools:
        threads.extend(worker.thread for worker in pool.stop_idle())
    return threads
