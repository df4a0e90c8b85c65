"""Configuring the runtime, reading its counters, and shutting its threads down.

`shutdown` is what the test suite calls between tests and what ``atexit``
calls at interpreter exit: it asks every idle worker and every persistent loop
to finish and joins them with a deadline. Busy threads are not interrupted
(Python cannot); they are reported by name instead of waited on forever.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

from . import _state
from ._workers import stop_all_workers

__all__ = ("configure", "runtime_stats", "shutdown")

_KNOWN = frozenset(_state.config)


def configure(**options: Any) -> dict[str, Any]:
    """Change runtime settings; returns the previous values of those given.

    Options: ``hang_timeout`` (seconds or None; env ``ASGIBRIDGE_HANG_TIMEOUT``),
    ``health_interval``, ``max_workers`` (env ``ASGIBRIDGE_MAX_WORKERS``),
    ``worker_idle_timeout``, ``loop_idle_timeout``. Settings apply to threads
    and loops created afterwards.

    Raises:
        TypeError: an unknown option.

    Example:
        >>> old = configure(hang_timeout=30.0)
        >>> _ = configure(**old)
    """
    unknown = set(options) - _KNOWN
    if unknown:
        raise TypeError(
            f"unknown asgibridge option(s): {sorted(unknown)}; known: {sorted(_KNOWN)}"
        )
    previous = {name: _state.config[name] for name in options}
    _state.config.update(options)
    return previous


def runtime_stats() -> dict[str, int]:
    """Counters and sizes describing the runtime now (for logs and tests).

    Keys: ``abandoned_calls`` (sync calls whose awaiting task was cancelled
    while they ran on), ``loop_threads``, ``pool_threads``, ``sticky_threads``.
    """
    pool, sticky = _state.pool, _state.sticky_pool
    return {
        "abandoned_calls": _state.counters["abandoned_calls"],
        "loop_threads": len(_state.loop_threads),
        "pool_threads": len(pool.workers) if pool is not None else 0,
        "sticky_threads": len(sticky.workers) if sticky is not None else 0,
    }


def shutdown(timeout: float = 5.0) -> list[str]:
    """Stop idle workers and persistent loops; returns names of threads still running.

    Work submitted afterwards starts new threads lazily, so this is safe to
    call at any time (tests call it between tests).
    """
    threads = stop_all_workers()
    with _state.lock:
        loop_threads = list(_state.loop_threads)
    for loop_thread in loop_threads:
        loop_thread.stop()
        threads.append(loop_thread.thread)
    deadline = time.monotonic() + timeout
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


atexit.register(shutdown, 1.0)
