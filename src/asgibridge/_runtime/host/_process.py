"""Per-process facts that code outside the runtime reads: the fork generation, its lock.

Objects outside `_runtime` that hold threads, locks or counts (the WSGI
adapters) must rebuild them in a forked child, whose other threads do not
exist (hazard: a lock held by one of them at fork time stays held forever,
and counts of requests that run only in the parent never go down). They
compare `fork_generation` with the value they saw when they built their
state, and rebuild under `fork_lock`, which the runtime replaces in the child.
"""

from __future__ import annotations

import sys
import threading

from .. import _state

__all__ = ("GIL_ENABLED", "fork_generation", "fork_lock", "health_interval")

# Whether this interpreter runs with the GIL (``sys._is_gil_enabled`` exists from
# 3.13). Checked once at import: the GIL, once on, is never turned off again,
# so code that avoids stop-the-world work without it may decide once.
GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()


def fork_generation() -> int:
    """How many forks separate this process from the one that imported asgibridge.

    Example:
        >>> fork_generation() >= 0
        True
    """
    return _state.generation


def fork_lock() -> threading.Lock:
    """The runtime's process lock (a new one in a forked child).

    Hold it only to rebuild per-process state after a fork, and call nothing
    of the runtime while holding it (the runtime takes it too).

    Example:
        >>> with fork_lock():
        ...     pass
    """
    return _state.lock


def health_interval() -> float:
    """Seconds between two checks of what a blocking wait waits on (``configure()``).

    Example:
        >>> health_interval() > 0
        True
    """
    interval: float = _state.config["health_interval"]
    return interval
