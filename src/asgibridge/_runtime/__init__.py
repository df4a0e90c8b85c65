"""The runtime: bridges, executors, threads, loops and their state (never imports `_asgi`).

This ``__init__`` is the runtime's API for the rest of the package: `_asgi`
imports the runtime through these names only (an import-linter contract
checks it), so the runtime's modules can change shape without `_asgi`
noticing. The public facades (``asgibridge.sync``, ``asgibridge.local``, ...)
import their own names from the modules that define them.

The names load lazily, on first use: every ``import asgibridge...`` runs this
file, and ``import asgibridge`` must stay as light as it was (hazard: an
eager API would load the bridges, loops and portal into every process that
only reads ``asgibridge.exceptions``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._lifecycle import stats
    from .bridge._hop import Hop
    from .bridge._sync_to_async import sync_to_async
    from .host._coroutines import iscoroutinefunction
    from .host._process import fork_generation, fork_lock, health_interval
    from .threads._adapter_pools import AdapterPool, stop_adapter_pools
    from .threads._loops import LoopThread
    from .threads._portal import Portal
    from .threads._tasks import STOP_GRACE, Expired, get_within, stop_task

__all__ = (
    # bridging and coroutine detection
    "sync_to_async",
    "iscoroutinefunction",
    # threads and loops: a unit of sync work, pools for it, a loop thread, a loop to call into
    "Hop",
    "AdapterPool",
    "stop_adapter_pools",
    "LoopThread",
    "Portal",
    # deadlines for tasks the caller drives
    "STOP_GRACE",
    "Expired",
    "get_within",
    "stop_task",
    # the process: fork generation and its lock, the health interval, statistics
    "fork_generation",
    "fork_lock",
    "health_interval",
    "stats",
)

# Where each name of __all__ is defined (tests/test_architecture.py checks both agree).
_EXPORTS = {
    "sync_to_async": ".bridge._sync_to_async",
    "iscoroutinefunction": ".host._coroutines",
    "Hop": ".bridge._hop",
    "AdapterPool": ".threads._adapter_pools",
    "stop_adapter_pools": ".threads._adapter_pools",
    "LoopThread": ".threads._loops",
    "Portal": ".threads._portal",
    "STOP_GRACE": ".threads._tasks",
    "Expired": ".threads._tasks",
    "get_within": ".threads._tasks",
    "stop_task": ".threads._tasks",
    "fork_generation": ".host._process",
    "fork_lock": ".host._process",
    "health_interval": ".host._process",
    "stats": "._lifecycle",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups do not come back here
    return value
