"""Counting what the runtime could not hand to a caller: abandoned calls, lost errors.

Counters live in ``_state.counters`` and ``_state.abandoned_by_name``; this
module is their only writer, always under ``_state.stats_lock``, so counts
stay exact when several threads (loop threads, workers) record at once (a
``+= 1`` on a dict entry is a read-modify-write, not atomic).

`unhandled` is the last resort of the supervision rule "a BaseException never
disappears": an exception that has no caller to be delivered to (a listener
raising KeyboardInterrupt after its call was given up, a crash in the
runtime's own loop) is logged on the "asgibridge" logger and counted.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import _state
from ._names import function_name

__all__ = ("count", "logger", "record_abandoned", "snapshot", "unhandled")

logger = logging.getLogger("asgibridge")


def count(key: str, amount: int = 1) -> None:
    """Add ``amount`` to counter ``key``."""
    with _state.stats_lock:
        _state.counters[key] += amount


def record_abandoned(func: Any, label: str | None = None) -> None:
    """Count one sync call whose result nobody will read (by function name)."""
    name = label if label is not None else function_name(func)
    with _state.stats_lock:
        _state.counters["abandoned_calls"] += 1
        by_name = _state.abandoned_by_name
        by_name[name] = by_name.get(name, 0) + 1


def unhandled(exc: BaseException, where: str) -> None:
    """Log and count an exception nobody is left to receive."""
    count("unhandled_errors")
    try:
        logger.error(
            "asgibridge: %s raised %s with no caller left to receive it",
            where,
            type(exc).__name__,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
    except Exception:  # pragma: no cover - a broken logging handler must not kill a thread
        pass


def snapshot() -> tuple[dict[str, int], dict[str, int]]:
    """Copies of the counters and of abandoned calls by name, taken together."""
    with _state.stats_lock:
        return dict(_state.counters), dict(_state.abandoned_by_name)
