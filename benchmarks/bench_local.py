"""Local benchmarks: attribute reads and writes, asgiref.local.Local vs asgibridge.local.Local.

Each row's ``measure(impl)`` imports ``asgiref.local`` or ``asgibridge.local``
(same public API), runs one batch of the very same code and returns the
seconds one attribute operation took.

The miss row (``getattr(local, "unset", None)``) has a goal of our own, not
issue 4's: Django reads Locals that are usually unset that way on hot paths
(the active translation on every gettext, ``get_urlconf()`` on every
``reverse()``), and a miss costs an AttributeError raised and caught. The
name was set and deleted before the clock starts, as Django's are
(``deactivate()`` deletes ``_active.value``): asgibridge reads a name no Local
ever had without running any Python code, which is not Django's case.

The ``getattr(local, "x", None)`` hit row is how Django reads a set Local
(``getattr(self._connections, alias)``, ``getattr(_active, "value", None)``):
a builtin call, which 3.12+ does not specialize, unlike ``local.x``.

Rules that keep the two sides comparable:

- Only the timed loop is timed; the Local is built and warmed up before the
  clock starts. Each loop iteration does 10 operations (unrolled), so loop
  overhead is a small, equal share on both sides.
- A batch lasts about 50 ms (10 ms with ``ASGIBRIDGE_BENCH_QUICK=1``); the
  operation count is calibrated once per row and implementation.
- Each batch runs in a new, empty `contextvars.Context` (so variables left by
  earlier batches do not pile up); async rows run in the main task of one
  ``asyncio.run`` per batch.

Two ungraded floor lines (measured next to each asgiref batch, same loops) say
what any pure-Python `Local` must pay at least, on the Python running them:

- under the sync read row, a class whose ``__getattribute__`` is a Python
  function returning a constant (the cost of entering any Python attribute hook);
- under the sync write row, a class whose ``__setattr__`` does one
  ``ContextVar.set`` and nothing else (a per-context write can do no less).

From Python 3.12 on, asgiref's read is ~3x cheaper than on 3.11 (a
``__getattr__`` fallback no longer builds and discards an AttributeError), so
the goals, set on 3.11, come close to these floors: compare the rows with them.

Run alone: ``python benchmarks/bench_local.py [repeats]``; it pins itself to
one CPU (as ``taskset -c 0`` would) and prints the harness table.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, Row, run_rows, table

__all__ = ("ROWS",)

QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"
_UNROLL = 10

_perf_counter = time.perf_counter
_batch_sizes: dict[tuple[str, str], int] = {}
_VALUES = tuple(object() for _ in range(_UNROLL))

Timed = Callable[[Any, int], float]  # (a Local, loop count) -> seconds for the loop


def _batch_seconds() -> float:
    return 0.01 if os.environ.get(QUICK_ENV, "") not in ("", "0") else 0.05


def _local_class(impl: str) -> Any:
    """``asgiref.local.Local`` or ``asgibridge.local.Local``."""
    return importlib.import_module(f"{impl}.local").Local


# The timed loops both implementations run (10 operations per iteration).


def _reads(local: Any, n: int) -> float:
    start = _perf_counter()
    for _ in range(n):
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
        v = local.x
    del v
    return _perf_counter() - start


def _writes(local: Any, n: int) -> float:
    # Ten distinct values: no write stores the value already there.
    a, b, c, d, e, f, g, h, i, j = _VALUES
    start = _perf_counter()
    for _ in range(n):
        local.x = a
        local.x = b
        local.x = c
        local.x = d
        local.x = e
        local.x = f
        local.x = g
        local.x = h
        local.x = i
        local.x = j
    return _perf_counter() - start


def _misses(local: Any, n: int) -> float:
    # Django's way of reading a Local that may be unset: getattr with a default
    # (translation's ``_active``, ``get_urlconf()``) on every gettext / reverse.
    g = getattr
    start = _perf_counter()
    for _ in range(n):
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
        v = g(local, "unset", None)
    del v
    return _perf_counter() - start


def _getattr_hits(local: Any, n: int) -> float:
    # Django's way of reading a Local that is set (see the module docs).
    g = getattr
    start = _perf_counter()
    for _ in range(n):
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
        v = g(local, "x", None)
    del v
    return _perf_counter() - start


def _prepare(local: Any) -> None:
    # A few attributes, as Django's Locals hold (asgiref copies them all on each write).
    local.x = 0
    local.y = "y"
    local.z = None
    # "unset" was set once, as Django's unset Locals were (the miss row).
    local.unset = 0
    del local.unset


def _in_sync(timed: Timed, *, thread_critical: bool = False) -> Callable[[str, int], float]:
    def run(impl: str, n: int) -> float:
        local = _local_class(impl)(thread_critical=thread_critical)
        _prepare(local)
        timed(local, 100)
        gc.collect()
        return timed(local, n)

    return run


def _in_task(timed: Timed) -> Callable[[str, int], float]:
    def run(impl: str, n: int) -> float:
        local = _local_class(impl)()

        async def main() -> float:
            _prepare(local)
            timed(local, 100)
            gc.collect()
            return timed(local, n)

        return asyncio.run(main())

    return run


def _per_op(key: str, batch: Callable[[str, int], float]) -> Callable[[str], float]:
    def measure(impl: str) -> float:
        n = _batch_sizes.get((key, impl))
        if n is None:
            n = 1000
            while (elapsed := contextvars.Context().run(batch, impl, n)) < _batch_seconds() / 4:
                n *= 4
            n = max(1, int(n * _batch_seconds() / max(elapsed, 1e-9)))
            _batch_sizes[key, impl] = n
        # A fresh, empty context per batch: the variables of earlier batches'
        # Locals would otherwise pile up in this thread's context (for both
        # implementations) and slow every ContextVar.set down as it grows.
        return contextvars.Context().run(batch, impl, n) / (n * _UNROLL)

    return measure


class _HookFloor:
    """The cheapest pure-Python attribute hook: reads return a constant, writes set one var."""

    __slots__ = ()

    def __init__(self, thread_critical: bool = False) -> None:
        pass

    def __getattribute__(self, name: str) -> Any:
        return 0

    def __setattr__(self, name: str, value: Any) -> None:
        _FLOOR_VAR.set(value)

    def __delattr__(self, name: str) -> None:
        pass


_FLOOR_VAR: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_local.floor")
_floor_samples: dict[str, list[float]] = {"read": [], "write": []}


def _with_floor(key: str, timed: Timed) -> Callable[[str], float]:
    """The row's measure; next to each asgiref batch, one batch of `_HookFloor` (ungraded)."""
    measure = _per_op(key, _in_sync(timed))

    def floor_batch(_impl: str, n: int) -> float:
        local = _HookFloor()
        _prepare(local)
        timed(local, 100)
        gc.collect()
        return timed(local, n)

    floor = _per_op(f"{key} [floor]", floor_batch)

    def both(impl: str) -> float:
        if impl == "asgiref":
            _floor_samples[key].append(floor("floor"))
        return measure(impl)

    return both


_READ = "read `local.x` from sync code"
_WRITE = "write `local.x = v` from sync code"
_FLOOR_TEXT = {
    "read": "floor (not graded): a Python `__getattribute__` returning a constant",
    "write": "floor (not graded): a Python `__setattr__` doing one `ContextVar.set`",
}


def extra_lines(results: Sequence[Result]) -> dict[str, list[str]]:
    """Under the sync read and write rows: the pure-Python floor and the goal's budget."""
    lines: dict[str, list[str]] = {}
    for result in results:
        key = {_READ: "read", _WRITE: "write"}.get(result.row.name)
        if key is None or not _floor_samples[key]:
            continue
        asgiref = result.times["asgiref"]
        floor = statistics.median(_floor_samples[key])
        budget = asgiref * result.row.goal
        lines[result.row.name] = [
            f"| {_FLOOR_TEXT[key]} | {asgiref * 1e6:.3f} us | floor {floor * 1e6:.3f} us "
            f"| {floor / asgiref:.2f}x | | the goal leaves {budget * 1e9:.0f} ns per "
            f"operation; asgibridge spends {(result.times['asgibridge'] - floor) * 1e9:.0f} ns "
            "above the floor |"
        ]
    return lines


ROWS: list[Row] = [
    Row(_READ, 0.10, _with_floor("read", _reads)),
    Row(_WRITE, 0.25, _with_floor("write", _writes)),
    Row("read `local.x` inside an asyncio task", 0.10, _per_op("aread", _in_task(_reads))),
    Row(
        "write `local.x = v` inside an asyncio task",
        0.25,
        _per_op("awrite", _in_task(_writes)),
    ),
    Row(
        "`getattr(local, 'x', None)` from sync code (how Django reads set Locals)",
        0.10,
        _per_op("getattr", _in_sync(_getattr_hits)),
    ),
    Row(
        "`getattr(local, 'unset', None)` from sync code (how Django reads unset Locals)",
        0.50,
        _per_op("miss", _in_sync(_misses)),
    ),
    Row(
        "read `local.x` with `thread_critical=True` (sync code)",
        0.15,
        _per_op("tc-read", _in_sync(_reads, thread_critical=True)),
    ),
    Row(
        "write `local.x = v` with `thread_critical=True` (sync code)",
        0.35,
        _per_op("tc-write", _in_sync(_writes, thread_critical=True)),
    ),
]


def _pin_to_one_cpu() -> None:
    # Per-call numbers are taken pinned, as `taskset -c 0` does.
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})


def main(argv: list[str]) -> int:
    """Run every row ``repeats`` times (default 7), print the table; 1 if a goal is missed."""
    repeats = int(argv[0]) if argv else 7
    _pin_to_one_cpu()
    results = run_rows(ROWS, repeats)
    print(table(results))
    for extra in extra_lines(results).values():
        print("\n".join(extra))
    return 0 if all(result.met for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
