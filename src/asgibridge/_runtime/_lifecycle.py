"""Configuring the runtime, reading its counters, and shutting its threads down.

`shutdown` is what the test suite calls between tests and what ``atexit``
calls at interpreter exit: it asks every idle worker and every persistent loop
to finish and joins them with a deadline. Busy threads are not interrupted
(Python cannot); they are reported by name instead of waited on forever.

Rules (shutdown is safe at any time, from any thread, any number of times):
calls already running finish; a call queued behind a worker's stop marker,
or submitted to a worker chosen just before the stop, runs on a fresh worker
(`_workers`); a loop running an async_to_sync call is stopped only when that
call returns (never cancelled mid-flight); shutdown itself starts no thread
and never joins one that never started; the runtime restarts lazily at the
next call.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

from . import _state
from ._config import validate
from .observe._hooks import refresh
from .observe._stats import snapshot
from .threads._workers import stop_all_workers

__all__ = ("configure", "runtime_stats", "shutdown", "stats")


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
            persistent loop lingers; 30.0), ``max_idle_workers`` (idle
            threads each pool keeps that long; 2 x CPUs, at least 2) and
            ``idle_grace`` (seconds after which idle threads beyond them
            exit; 1.0), ``leftover_timeout`` (seconds the
            end of an async_to_sync call waits for tasks it left running to
            honour their cancellation before it warns and returns; 2.0),
            ``loop_per_call`` (True: asgiref's new event loop for each
            top-level async_to_sync call from a plain thread, closed before
            the call returns, instead of the thread's persistent loop; env
            ``ASGIBRIDGE_LOOP_PER_CALL=1``; default False).
            Each has an environment variable ``ASGIBRIDGE_<NAME>`` (upper
            case) read at import, checked the same way.

    Returns:
        The previous value of each option given, so that
        ``configure(**previous)`` restores them.

    Raises:
        ConfigTypeError: an unknown option, or a value of the wrong type
            (a TypeError naming the option and what it accepts).
        ConfigValueError: a value out of range, e.g. ``health_interval=0``
            or ``max_workers=-3`` (a ValueError naming the option and range).

    Example:
        >>> old = configure(hang_timeout=30.0)
        >>> _ = configure(**old)
    """
    checked = validate(options)  # all or nothing: one bad value changes no setting
    with _state.lock:
        previous = {name: _state.config[name] for name in checked}
        _state.config.update(checked)
        refresh()  # a hang deadline turns the instrumented bridge path on
    return previous


def runtime_stats() -> dict[str, int]:
    """Counters and sizes describing the runtime now (for logs and tests).

    Returns:
        A new dict: ``abandoned_calls`` (sync calls whose awaiting side gave
        up while they ran on), ``cancelled_before_start`` (calls cancelled
        before any thread took them: they never ran), ``unhandled_errors``
        (exceptions with no caller left to receive them: logged),
        ``replaced_threads`` (runtime threads or loops that died and were
        replaced or restarted), ``leftover_tasks`` (tasks left by
        async_to_sync calls that ignored cancellation past
        ``leftover_timeout``), ``loop_threads`` (persistent async_to_sync
        loops alive), ``pool_threads`` (thread_sensitive=False pool threads
        alive), ``pool_backlog`` (calls waiting for a free pool thread),
        ``sticky_threads`` (threads kept for ThreadSensitiveContext).

    Example:
        >>> sorted(runtime_stats())[:3]
        ['abandoned_calls', 'cancelled_before_start', 'leftover_tasks']
    """
    counters, _ = snapshot()
    pool, sticky = _state.pool, _state.sticky_pool
    result = dict(counters)
    result["loop_threads"] = len(_state.loop_threads)
    result["pool_threads"] = len(pool.workers) if pool is not None else 0
    result["pool_backlog"] = pool.backlog if pool is not None else 0
    result["sticky_threads"] = len(sticky.workers) if sticky is not None else 0
    return result


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
        ['abandoned_by_function', 'abandoned_calls', 'cancelled_before_start']
    """
    result: dict[str, Any] = dict(runtime_stats())
    result["abandoned_by_function"] = snapshot()[1]
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
        # A loop running an async_to_sync call stops when that call returns.
        loop_thread.request_stop()
        threads.append(loop_thread.thread)
    deadline = time.monotonic() + timeout
    current = threading.current_thread()
    for thread in threads:
        if thread is not current and thread.ident is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


atexit.register(shutdown, 1.0)
