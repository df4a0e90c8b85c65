"""Instrumentation cost: the s2a row with no hook registered and with a no-op hook.

Same scenario as bench_bridge's first row (``await sync_to_async(f)()``,
thread_sensitive=True, wrapper built once, one ``asyncio.run`` per batch),
measured against asgiref twice:

- with nothing registered: the plain bridge path pays one flag check, so the
  goal is bench_bridge's (0.45x);
- with a registered no-op hop listener (asgibridge side only; asgiref has no
  hooks): the instrumented path builds a `HopInfo`, takes two timestamps and
  calls ``on_start`` / ``on_end``. Goal 0.55x: instrumentation may cost about
  a fifth of the plain hop, and must still beat asgiref by far.

Run alone: ``python benchmarks/bench_hooks.py`` or ``benchmarks/run.py --only hooks``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Row
from bench_bridge import Timed, _a2s_plain, _bridge, _per_op, _s2a_once

__all__ = ("ROWS",)


def _no_op_start(info: Any) -> None:
    return None


def _no_op_end(info: Any, state: Any) -> None:
    return None


def _with_listener(timed: Timed) -> Timed:
    """Run ``timed`` with a no-op hop listener registered (asgibridge only)."""

    def run(impl: str, n: int) -> float:
        if impl != "asgibridge":
            return timed(impl, n)
        from asgibridge.instrumentation import add_hop_listener

        with add_hop_listener(_no_op_start, _no_op_end):
            return timed(impl, n)

    return run


def _without_hooks(timed: Timed) -> Timed:
    def run(impl: str, n: int) -> float:
        if impl == "asgibridge":
            from asgibridge.instrumentation import stats

            current = stats()
            assert current["hop_listeners"] == 0, "a hop listener is registered"
            assert current["thread_handlers"] == 0, "a thread handler is registered"
            assert current["hang_timeout"] is None, "hang_timeout is set"
        return timed(impl, n)

    return run


def _patched(timed: Timed, cls_name: str, method: str) -> Timed:
    """Run ``timed`` with ``cls_name.method`` wrapped on the class (both sides), as APM agents do.

    The wrapper passes every argument through, as New Relic's does: what is
    measured is the patched path of the bridge, not an agent's own work.
    """

    def run(impl: str, n: int) -> float:
        cls = getattr(_bridge(impl), cls_name)
        original = cls.__dict__[method]

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            return original(self, *args, **kwargs)

        setattr(cls, method, wrapper)
        try:
            return timed(impl, n)
        finally:
            setattr(cls, method, original)

    return run


def _row(name: str, goal: float, timed: Timed) -> Row:
    measure: Callable[[str], float] = _per_op(f"hooks: {name}", timed)
    return Row(name, goal, measure)


ROWS: list[Row] = [
    _row(
        "`await sync_to_async(f)()`, thread_sensitive=True, no hook registered",
        0.45,
        _without_hooks(_s2a_once(True)),
    ),
    _row(
        "same, with a no-op hop listener registered (asgibridge side)",
        0.55,
        _with_listener(_s2a_once(True)),
    ),
    # The patch check (one attribute identity per call) is paid by the rows
    # above and bench_bridge's; the rows below take the patched path.
    _row(
        "same, `SyncToAsync.thread_handler` wrapped on the class (both sides)",
        0.55,
        _patched(_s2a_once(True), "SyncToAsync", "thread_handler"),
    ),
    _row(
        "`async_to_sync(g)()` from a plain thread, nothing patched",
        0.20,
        _without_hooks(_a2s_plain),
    ),
    _row(
        "same, `AsyncToSync.main_wrap` wrapped on the class (both sides)",
        0.25,
        _patched(_a2s_plain, "AsyncToSync", "main_wrap"),
    ),
]


if __name__ == "__main__":
    from run import main

    raise SystemExit(main(["--only", "hooks", *sys.argv[1:]]))
