"""Bridge benchmarks: sync_to_async, async_to_sync, ThreadSensitiveContext; asgiref vs asgibridge.

Each row's ``measure(impl)`` imports ``asgiref.sync`` or ``asgibridge.sync``
(same public API), runs one batch and returns the seconds one operation took.
Both implementations run the very same code below: same function bodies, same
loop (``asyncio.run`` with the default policy), same warm-up, same timer.

Rules that keep the two sides comparable:

- Only the timed loop is timed: building the loop, warming up (which starts
  whatever threads an implementation keeps) and ``gc.collect()`` happen before
  the clock starts, so a batch measures the steady state.
- A batch holds enough operations to last about 100 ms (20 ms with
  ``ASGIBRIDGE_BENCH_QUICK=1``). The count is calibrated once per row and
  implementation; whole-scenario rows (unit ms) run one scenario per batch.
- sync_to_async rows run inside one ``asyncio.run`` per batch; async_to_sync
  rows run from a fresh plain thread (no loop) per batch.
- Wrappers are built once per batch, except in the row that says it builds
  them per call (how Django calls ``sync_to_async``).

Run alone: ``python benchmarks/bench_bridge.py [run.py options]`` (pinned, as
``benchmarks/run.py --only bridge``).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import math
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, Row

__all__ = ("ROWS", "extra_lines")

QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"

_perf_counter = time.perf_counter

# Calibrated batch sizes by (row, side); seconds per op of the ungraded baselines.
_batch_sizes: dict[tuple[str, str], int] = {}
_to_thread_samples: list[float] = []
_floor_samples: list[float] = []

# 100 ContextVars the "many ContextVars" row sets in the caller before its calls.
_VARS: list[contextvars.ContextVar[int]] = [
    contextvars.ContextVar(f"bench_bridge_var_{i}") for i in range(100)
]


def _quick() -> bool:
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


def _batch_seconds() -> float:
    return 0.02 if _quick() else 0.1


def _warmup_ops() -> int:
    return 50 if _quick() else 200


def _bridge(impl: str) -> ModuleType:
    """``asgiref.sync`` or ``asgibridge.sync``."""
    return importlib.import_module(f"{impl}.sync")


# The function bodies both implementations run.


def f() -> int:
    return 1


async def g() -> int:
    return 2


def sleep_1ms() -> None:
    time.sleep(0.001)


# Batch runners: each takes (impl, n) and returns the seconds n operations took.

Timed = Callable[[str, int], float]


def _run_async(main: Callable[[], Coroutine[Any, Any, float]]) -> float:
    """One batch inside its own ``asyncio.run`` (default policy, fresh loop)."""
    return asyncio.run(main())


def _run_in_plain_thread(body: Callable[[], float]) -> float:
    """One batch in a fresh thread that runs no event loop."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(body())
        except BaseException as exc:  # handed back to the caller below
            outcome.append(exc)

    thread = threading.Thread(target=target, name="bench-plain-thread")
    thread.start()
    thread.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return float(outcome[0])


async def _time_awaits(call: Callable[[], Coroutine[Any, Any, Any]], n: int) -> float:
    for _ in range(_warmup_ops()):
        await call()
    gc.collect()
    start = _perf_counter()
    for _ in range(n):
        await call()
    return _perf_counter() - start


def _time_calls(call: Callable[[], Any], n: int) -> float:
    for _ in range(_warmup_ops()):
        call()
    gc.collect()
    start = _perf_counter()
    for _ in range(n):
        call()
    return _perf_counter() - start


def _s2a_once(thread_sensitive: bool, *, many_vars: bool = False, churn: bool = False) -> Timed:
    """``await sync_to_async(f)()`` with the wrapper built once per batch.

    ``churn``: the caller sets a ContextVar before each call, so the call's
    context must take a change in (asgibridge: its task's shared hop context
    is brought up to date, one pass over the caller's variables).
    """

    def timed(impl: str, n: int) -> float:
        sync = _bridge(impl)

        async def main() -> float:
            if many_vars:
                for i, var in enumerate(_VARS):
                    var.set(i)
            call = sync.sync_to_async(f, thread_sensitive=thread_sensitive)
            if churn:
                plain, first = call, _VARS[0]

                async def call() -> Any:
                    first.set(object())
                    return await plain()

            assert await call() == 1
            return await _time_awaits(call, n)

        return _run_async(main)

    return timed


def _s2a_per_call(impl: str, n: int) -> float:
    """``await sync_to_async(f)()`` building the wrapper on every call."""
    sync = _bridge(impl)

    async def main() -> float:
        def call() -> Coroutine[Any, Any, int]:
            return sync.sync_to_async(f)()  # type: ignore[no-any-return]

        assert await call() == 1
        return await _time_awaits(call, n)

    return _run_async(main)


class _Middleware:
    """Django's ``MiddlewareMixin`` shape: a per-request method wrapped per call."""

    def process_request(self, request: object) -> None:
        return None


def _build_wrapper(impl: str, n: int) -> float:
    """``sync_to_async(bound_method, thread_sensitive=True)``: building only, no call."""
    sync = _bridge(impl)
    method = _Middleware().process_request

    def build() -> None:
        sync.sync_to_async(method, thread_sensitive=True)

    return _time_calls(build, n)


def _switches_per_hop(impl: str, hops: int = 2000, loop: str = "asyncio") -> float:
    """Context switches of the whole process (every thread) per thread-sensitive hop.

    ``resource.getrusage`` counts voluntary and involuntary switches; a hand-off
    needs at least one each way. Pinned to one CPU (run.py pins), every
    wake-up of a thread that cannot run yet (it needs the GIL the waker still
    holds) shows up as extra switches.
    """
    import resource

    sync = _bridge(impl)

    def switches() -> int:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_nvcsw + usage.ru_nivcsw

    async def main() -> float:
        call = sync.sync_to_async(f, thread_sensitive=True)
        for _ in range(_warmup_ops()):
            await call()
        before = switches()
        for _ in range(hops):
            await call()
        return (switches() - before) / hops

    if loop == "uvloop":
        import uvloop

        event_loop = uvloop.new_event_loop()
        try:
            return event_loop.run_until_complete(main())
        finally:
            event_loop.close()
    return _run_async(main)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def _to_thread(n: int) -> float:
    """The stdlib baseline: ``await asyncio.to_thread(f)``."""

    async def main() -> float:
        def call() -> Coroutine[Any, Any, int]:
            return asyncio.to_thread(f)

        assert await call() == 1
        return await _time_awaits(call, n)

    return _run_async(main)


def _raw_hop(n: int) -> float:
    """The floor any thread hop pays here: one thread fed by a SimpleQueue, one wake-up back.

    No bridge at all: the awaiting task puts a future on the queue, the thread
    runs ``f`` and resolves the future with ``call_soon_threadsafe``. What a
    side spends above this is its own overhead; the rest is the OS switching
    threads (which a busy machine inflates for both sides alike).
    """

    async def main() -> float:
        loop = asyncio.get_running_loop()
        requests: queue.SimpleQueue[asyncio.Future[int] | None] = queue.SimpleQueue()

        def serve() -> None:
            while (future := requests.get()) is not None:
                loop.call_soon_threadsafe(future.set_result, f())

        async def call() -> int:
            future: asyncio.Future[int] = loop.create_future()
            requests.put(future)
            return await future

        thread = threading.Thread(target=serve, name="bench-raw-hop")
        thread.start()
        try:
            assert await call() == 1
            return await _time_awaits(call, n)
        finally:
            requests.put(None)
            thread.join()

    return _run_async(main)


def _os_round_trip(n: int = 20000) -> float:
    """The operating system's floor under any hop: two threads ping-pong over two channels.

    No event loop, no Python work between the reads and writes: two context
    switches and four system calls per round trip (pinned to one CPU). A hop
    cannot cost less than this; Django's ASGI handler makes 16 of them per
    sync-view request. eventfds on Linux, pipes elsewhere.
    """
    if hasattr(os, "eventfd"):
        there, back = os.eventfd(0), os.eventfd(0)
        pairs = {there: (there, there), back: (back, back)}
        opened = [there, back]

        def ping(fd: int) -> None:
            os.eventfd_write(pairs[fd][1], 1)

        def wait(fd: int) -> None:
            os.eventfd_read(pairs[fd][0])

    else:  # pragma: no cover - no eventfd (not Linux)
        first, second = os.pipe(), os.pipe()
        there, back = 0, 1
        pipes = {there: first, back: second}
        opened = [*first, *second]

        def ping(fd: int) -> None:
            os.write(pipes[fd][1], b"x")

        def wait(fd: int) -> None:
            os.read(pipes[fd][0], 1)

    def echo() -> None:
        for _ in range(n + 1):
            wait(there)
            ping(back)

    thread = threading.Thread(target=echo, name="bench-os-round-trip")
    thread.start()
    ping(there)
    wait(back)
    start = time.process_time()
    for _ in range(n):
        ping(there)
        wait(back)
    elapsed = time.process_time() - start
    thread.join()
    for fd in opened:
        os.close(fd)
    return elapsed / n


def _a2s_plain(impl: str, n: int) -> float:
    """``async_to_sync(g)()`` from a plain thread, wrapper built once."""
    sync = _bridge(impl)

    def body() -> float:
        call = sync.async_to_sync(g)
        assert call() == 2
        return _time_calls(call, n)

    return _run_in_plain_thread(body)


def _a2s_round_trip(impl: str, n: int) -> float:
    """``async_to_sync(h)()`` where h awaits ``sync_to_async(f)()`` (back to the caller)."""
    sync = _bridge(impl)

    def body() -> float:
        inner = sync.sync_to_async(f)

        async def h() -> int:
            return await inner()  # type: ignore[no-any-return]

        call = sync.async_to_sync(h)
        assert call() == 1
        return _time_calls(call, n)

    return _run_in_plain_thread(body)


def _a2s_nested(impl: str, n: int) -> float:
    """``async_to_sync(g)()`` looped inside one ``sync_to_async`` worker call."""
    sync = _bridge(impl)

    def worker() -> float:
        call = sync.async_to_sync(g)
        assert call() == 2
        return _time_calls(call, n)

    async def main() -> float:
        return await sync.sync_to_async(worker)()  # type: ignore[no-any-return]

    return _run_async(main)


def _thread_sensitive_contexts(impl: str, n: int) -> float:
    """n scenarios: 100 tasks, each in its own ThreadSensitiveContext, 20 calls each."""
    sync = _bridge(impl)

    async def main() -> float:
        call = sync.sync_to_async(f)

        async def request() -> None:
            async with sync.ThreadSensitiveContext():
                for _ in range(20):
                    await call()

        async def scenario() -> None:
            await asyncio.gather(*(request() for _ in range(100)))

        await scenario()  # warm-up: sizes whatever thread pool the side keeps
        gc.collect()
        start = _perf_counter()
        for _ in range(n):
            await scenario()
        return _perf_counter() - start

    return _run_async(main)


def _concurrent_sleeps(impl: str, n: int) -> float:
    """n scenarios: 1000 concurrent thread_sensitive=False calls that sleep 1 ms."""
    sync = _bridge(impl)

    async def main() -> float:
        call = sync.sync_to_async(sleep_1ms, thread_sensitive=False)

        async def scenario() -> None:
            await asyncio.gather(*(call() for _ in range(1000)))

        await scenario()  # warm-up: starts the pool's threads
        gc.collect()
        start = _perf_counter()
        for _ in range(n):
            await scenario()
        return _perf_counter() - start

    return _run_async(main)


# Batch sizing and the measure functions the harness calls.


def _calibrate(timed: Timed, impl: str) -> int:
    """How many operations make one batch last about `_batch_seconds()`."""
    target = _batch_seconds()
    n = 1
    while True:
        took = timed(impl, n)
        if took >= target / 4 or n >= 1 << 22:
            return max(1, round(n * target / max(took, 1e-9)))
        n = min(n * 100, max(n * 2, math.ceil(n * (target / 2) / max(took, 1e-9))))


def _per_op(name: str, timed: Timed) -> Callable[[str], float]:
    def measure(impl: str) -> float:
        n = _batch_sizes.get((name, impl))
        if n is None:
            n = _batch_sizes[name, impl] = _calibrate(timed, impl)
        return timed(impl, n) / n

    return measure


def _with_baseline(
    name: str, samples: list[float], timed: Callable[[int], float], measure: Callable[[str], float]
) -> Callable[[str], float]:
    """Also take one baseline batch next to every asgiref batch of a row (ungraded)."""
    baseline = _per_op(f"{name} [baseline]", lambda _impl, n: timed(n))

    def both(impl: str) -> float:
        if impl == "asgiref":
            samples.append(baseline("baseline"))
        return measure(impl)

    return both


_S2A_TRUE = "`await sync_to_async(f)()`, thread_sensitive=True, wrapper built once"
_S2A_FALSE = "`await sync_to_async(f)()`, thread_sensitive=False"
_BUILD = "`sync_to_async(bound_method, thread_sensitive=True)`: building the wrapper, no call"

ROWS: list[Row] = [
    Row(
        _S2A_TRUE,
        0.45,
        _with_baseline("s2a", _floor_samples, _raw_hop, _per_op("s2a", _s2a_once(True))),
    ),
    Row(
        _S2A_FALSE,
        0.50,
        _with_baseline(
            "s2a-ts0", _to_thread_samples, _to_thread, _per_op("s2a-ts0", _s2a_once(False))
        ),
    ),
    Row(
        "same (thread_sensitive=True) with 100 ContextVars set in the caller",
        0.40,
        _per_op("s2a-vars", _s2a_once(True, many_vars=True)),
    ),
    Row(
        "same (100 ContextVars) with the caller setting one of them before each call",
        0.45,
        _per_op("s2a-churn", _s2a_once(True, many_vars=True, churn=True)),
    ),
    Row(
        "`sync_to_async(f)()` building the wrapper each call (how Django calls it)",
        0.45,
        _per_op("s2a-build", _s2a_per_call),
    ),
    Row(
        _BUILD,
        0.25,
        _per_op("build", _build_wrapper),
    ),
    Row("`async_to_sync(g)()` from a plain thread", 0.20, _per_op("a2s", _a2s_plain)),
    Row(
        "`async_to_sync(h)()` where h awaits `sync_to_async(f)()`",
        0.25,
        _per_op("a2s-s2a", _a2s_round_trip),
    ),
    Row(
        "`async_to_sync(g)()` nested inside a `sync_to_async` worker",
        1.0,
        _per_op("a2s-nested", _a2s_nested),
    ),
    Row(
        "100 tasks, each in its own ThreadSensitiveContext, 20 sequential calls",
        0.40,
        _per_op("tsc", _thread_sensitive_contexts),
        unit="ms",
    ),
    Row(
        "1000 concurrent thread_sensitive=False calls sleeping 1 ms",
        0.55,
        _per_op("sleep", _concurrent_sleeps),
        unit="ms",
    ),
]


def extra_lines(results: Sequence[Result]) -> dict[str, list[str]]:
    """Ungraded table lines to print under a row, by row name (run.py splices them in).

    Under the thread_sensitive=True row: the raw thread-hop floor (`_raw_hop`),
    how much each side spends above it, and context switches per hop. Under the
    thread_sensitive=False row: ``asyncio.to_thread``, the stdlib baseline asgibridge has to beat.
    """
    lines: dict[str, list[str]] = {}
    for result in results:
        asgiref, asgibridge = result.times["asgiref"], result.times["asgibridge"]
        if result.row.name == _S2A_TRUE and _floor_samples:
            floor = statistics.median(_floor_samples)
            lines[_S2A_TRUE] = [
                f"| floor (not graded): bare hop, SimpleQueue + `call_soon_threadsafe` "
                f"| {asgiref * 1e6:.1f} us | floor {floor * 1e6:.1f} us "
                f"| {floor / asgiref:.2f}x | | above floor: asgiref "
                f"{(asgiref - floor) * 1e6:.1f} us, "
                f"asgibridge {(asgibridge - floor) * 1e6:.1f} us |",
                "| context switches per hop, asyncio (not graded; goal <= 2) "
                f"| {_switches_per_hop('asgiref'):.2f} | {_switches_per_hop('asgibridge'):.2f} "
                "| | | whole process, `resource.getrusage` |",
            ]
            lines[_S2A_TRUE].append(
                "| floor (not graded): the OS's thread round trip (eventfd ping-pong, "
                f"no loop, no Python work) | | {_os_round_trip() * 1e6:.1f} us | | | "
                "CPU time; 2 switches, 4 system calls |"
            )
            if _has_uvloop():
                lines[_S2A_TRUE].append(
                    "| context switches per hop, uvloop (not graded; goal <= 2) "
                    f"| {_switches_per_hop('asgiref', loop='uvloop'):.2f} "
                    f"| {_switches_per_hop('asgibridge', loop='uvloop'):.2f} "
                    "| | | whole process, `resource.getrusage` |"
                )
        if result.row.name == _S2A_FALSE and _to_thread_samples:
            to_thread = statistics.median(_to_thread_samples)
            lines[_S2A_FALSE] = [
                f"| baseline (not graded): `await asyncio.to_thread(f)` "
                f"| {asgiref * 1e6:.1f} us | to_thread {to_thread * 1e6:.1f} us "
                f"| {to_thread / asgiref:.2f}x | | asgibridge is "
                f"{asgibridge / to_thread:.2f}x of to_thread |"
            ]
    return lines


if __name__ == "__main__":
    from run import main

    raise SystemExit(main(["--only", "bridge", *sys.argv[1:]]))
