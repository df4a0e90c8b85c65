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
from ._hooks import refresh
from ._workers import stop_all_workers

__all__ = ("configure", "runtime_stats", "shutdown", "stats")

_KNOWN = frozenset(_state.config)


def configure(**options: Any) -> dict[str, Any]:
    """Change runtime settings; returns the previous values of those given.

    Settings apply to bridge calls, threads and loops started afterwards.

    Args:
        **options: any of ``hang_timeout`` (seconds a bridge wait may last
            before it is reported, or None for never; env
            ``ASGIBRIDGE_HANG_TIMEOUT``; default None), ``hang_mode`` ("raise":
            `BridgeDeadlockError` in the waiting caller, or "warn": one log
            record on the "asgibridge" logger; env ``ASGIBRIDGE_HANG_MODE``),
            ``health_interval`` (seconds between liveness checks of a blocked
            wait; 1.0), ``max_workers`` (size of the thread_sensitive=False
            pool; env ``ASGIBRIDGE_MAX_WORKERS``; 40), ``worker_idle_timeout``
            and ``loop_idle_timeout`` (seconds an idle pool thread or
            persistent loop lingers; 30.0).

    Returns:
        The previous value of each option given, so that
        ``configure(**previous)`` restores them.

    Raises:
        TypeError: an unknown option.
        ValueError: a ``hang_mode`` other than "raise"/"warn", or a
            ``hang_timeout`` that is not positive.

    Example:
        >>> old = configure(hang_timeout=30.0)
        >>> _ = configure(**old)
    """
    unknown = set(options) - _KNOWN
    if unknown:
        raise TypeError(
            f"unknown asgibridge option(s): {sorted(unknown)}; known: {sorted(_KNOWN)}"
        )
    _validate(options)
    previous = {name: _state.config[name] for name in options}
    with _state.lock:
        _state.config.update(options)
        refresh()  # a hang deadline turns the instrumented bridge path on
    return previous


def _validate(options: dict[str, Any]) -> None:
    mode = options.get("hang_mode", "raise")
    if mode not in ("raise", "warn"):
        raise ValueError(f"hang_mode must be 'raise' or 'warn', not {mode!r}")
    limit = options.get("hang_timeout")
    if limit is not None and not limit > 0:
        raise ValueError(
            f"hang_timeout must be a positive number of seconds or None, not {limit!r}"
        )


def runtime_stats() -> dict[str, int]:
    """Counters and sizes describing the runtime now (for logs and tests).

    Returns:
        A new dict: ``abandoned_calls`` (sync calls whose awaiting task was
        cancelled while they ran on), ``loop_threads`` (persistent
        async_to_sync loops alive), ``pool_threads`` (thread_sensitive=False
        pool threads alive), ``sticky_threads`` (threads kept for
        ThreadSensitiveContext).

    Example:
        >>> sorted(runtime_stats())
        ['abandoned_calls', 'loop_threads', 'pool_threads', 'sticky_threads']
    """
    pool, sticky = _state.pool, _state.sticky_pool
    return {
        "abandoned_calls": _state.counters["abandoned_calls"],
        "loop_threads": len(_state.loop_threads),
        "pool_threads": len(pool.workers) if pool is not None else 0,
        "sticky_threads": len(sticky.workers) if sticky is not None else 0,
    }


def stats() -> dict[str, Any]:
    """`runtime_stats` plus what instrumentation knows (see `asgibridge.instrumentation`).

    Returns:
        A new dict with the keys of `runtime_stats` and:
        ``abandoned_by_function`` (``module.qualname`` of each abandoned sync
        function -> how many of its calls were abandoned), ``hop_listeners``
        and ``thread_handlers`` (how many are registered), ``hang_timeout``
        and ``hang_mode`` (the current settings).

    Example:
        >>> sorted(stats())[:3]
        ['abandoned_by_function', 'abandoned_calls', 'hang_mode']
    """
    result: dict[str, Any] = dict(runtime_stats())
    result["abandoned_by_function"] = dict(_state.abandoned_by_name)
    result["hop_listeners"] = len(_state.hop_listeners)
    result["thread_handlers"] = len(_state.thread_handlers)
    result["hang_timeout"] = _state.config["hang_timeout"]
    result["hang_mode"] = _state.config["hang_mode"]
    return result


def shutdown(timeout: float = 5.0) -> list[str]:
    """Stop idle workers and persistent loops; returns names of threads still running.

    Work submitted afterwards starts new threads lazily, so this is safe to
    call at any time (tests call it between tests). Busy threads are not
    interrupted (Python cannot): they are named in the result instead.

    Args:
        timeout: seconds to wait, in all, for the threads to finish.

    Returns:
        The names of the threads still running when the deadline passed
        (empty when everything stopped).

    Example:
        >>> import asyncio
        >>> from asgibridge.sync import sync_to_async
        >>> asyncio.run(sync_to_async(abs)(-3))  # starts a worker thread
        3
        >>> shutdown()  # stops it: no thread is left running
        []
        >>> runtime_stats()["pool_threads"]
        0
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
