"""Starting and guarding the threads the runtime owns.

Every runtime thread (the sync worker, pool and sticky workers, loop threads)
is made by `new_thread` and started by `start_thread`:

- it starts in a fresh, empty `contextvars.Context` (Python 3.14+ may
  otherwise copy the creator's context into a new thread, under
  ``-X thread_inherit_context=1``, the default on free-threaded builds: a
  long-lived runtime thread would then pin the first caller's values);
- a failed start (the process hit its thread limit: ``RuntimeError: can't
  start new thread``) fails the call that needed the thread with a
  ``RuntimeError`` (the built-in asgiref's executors raise there, so code
  that catches it keeps working) whose message says how many runtime threads
  exist and which limit to lower, chained to the original; the caller
  registers the thread only after the start succeeded, so nothing
  half-started is left behind and the next call tries again.

The last line of defence of a thread's main loop is inline in each loop (a
``try`` around every work item in `_workers`, around ``run_forever`` in
`_loops`): whatever escapes is logged and counted by `_stats.unhandled`
instead of ending the thread.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable

from .. import _state

__all__ = ("new_thread", "runtime_thread_count", "start_thread", "thread_name")

_CONTEXT_PARAM = sys.version_info >= (3, 14)
PREFIX = "asgibridge-"


def new_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A daemon thread for the runtime, starting in an empty context."""
    if _CONTEXT_PARAM:
        return threading.Thread(
            target=target,
            name=name,
            daemon=True,
            context=contextvars.Context(),  # type: ignore[call-arg,unused-ignore]
        )
    # Before 3.14 a new thread always starts in an empty context.
    return threading.Thread(target=target, name=name, daemon=True)


def thread_name(role: str, purpose: str | None = None) -> str:
    """``asgibridge-<role>-<n>`` (and `` (<purpose>)``): every runtime thread's name."""
    name = f"{PREFIX}{role}-{next(_state.thread_serial)}"
    return name if purpose is None else f"{name} ({purpose})"


def runtime_thread_count() -> int:
    """How many of the process's threads belong to the runtime now."""
    return sum(1 for thread in threading.enumerate() if thread.name.startswith(PREFIX))


def start_thread(thread: threading.Thread) -> None:
    """Start ``thread``; a failure raises ``RuntimeError`` with advice (see the module docs)."""
    try:
        thread.start()
    except RuntimeError as exc:
        raise RuntimeError(
            f"{exc} (asgibridge could not start {thread.name!r}: the process has "
            f"{threading.active_count()} threads, {runtime_thread_count()} of them "
            "asgibridge's). Lower max_workers (ASGIBRIDGE_MAX_WORKERS) or the number of "
            "concurrent ThreadSensitiveContexts, or raise the process's thread limit "
            "(ulimit -u, the container's pids limit). The next call tries again."
        ) from exc
