"""Local under concurrency: many threads and tasks at once, no lost writes, no errors.

Every thread (and every task) counts its own writes in the Locals it shares
with the others; at the end each must read back exactly its own count. The
interpreter's switch interval is shortened so threads interleave inside the
Local's methods (with the GIL), not just between them.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge.local import Local
from asgibridge.sync import async_to_sync, sync_to_async

JOIN = 30.0
THREADS = 8
ROUNDS = 5000


@pytest.fixture(autouse=True)
def _switch_often() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_threads(target: Any, count: int) -> list[Any]:
    """Start ``count`` threads on ``target(n, barrier)`` at once; return their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def main(n: int) -> None:
        try:
            results[n] = target(n, barrier)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=main, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


def test_threads_hammering_shared_locals() -> None:
    plain, critical = Local(), Local(thread_critical=True)

    def hammer(n: int, barrier: threading.Barrier) -> tuple[int, int, str]:
        barrier.wait(JOIN)
        plain.count = 0
        critical.count = 0
        for i in range(ROUNDS):
            plain.count += 1
            critical.count += 1
            plain.owner = f"thread {n}"
            if i % 7 == 0:
                plain.scratch = i
                del plain.scratch
            assert getattr(plain, "scratch", None) is None
        return plain.count, critical.count, plain.owner

    results = run_threads(hammer, THREADS)
    assert results == [(ROUNDS, ROUNDS, f"thread {n}") for n in range(THREADS)]


def test_threads_racing_to_create_the_same_names() -> None:
    local = Local()
    names = [f"name_{i}" for i in range(200)]

    def create(n: int, barrier: threading.Barrier) -> list[int]:
        barrier.wait(JOIN)
        for name in names:
            setattr(local, name, n)
        return [getattr(local, name) for name in names]

    results = run_threads(create, THREADS)
    assert results == [[n] * len(names) for n in range(THREADS)]
    assert set(dir(local)).isdisjoint(names)  # none of them is this thread's


def test_tasks_and_bridge_calls_alongside_threads() -> None:
    local = Local()
    critical = Local(thread_critical=True)

    def increment() -> None:
        local.count += 1

    async def task(n: int) -> tuple[int, str]:
        local.count = 0
        local.owner = f"task {n}"
        for i in range(50):
            if i % 5 == 0:
                await sync_to_async(increment, thread_sensitive=False)()
            else:
                local.count += 1
            critical.count = i
            await asyncio.sleep(0)
        return local.count, local.owner

    async def tasks() -> list[tuple[int, str]]:
        return await asyncio.gather(*(task(n) for n in range(40)))

    def hammer(n: int, barrier: threading.Barrier) -> Any:
        barrier.wait(JOIN)
        if n == 0:
            return asyncio.run(tasks())
        local.count = 0
        for _ in range(ROUNDS):
            local.count += 1
            critical.count = n
        return local.count, critical.count

    results = run_threads(hammer, 4)
    assert results[0] == [(50, f"task {n}") for n in range(40)]
    assert results[1:] == [(ROUNDS, n) for n in range(1, 4)]


def test_threads_making_bridge_round_trips_at_once() -> None:
    # Each thread's async callees write for it (values owned by the blocked
    # caller) and its thread-sensitive sync work comes back to it, all while
    # the other threads do the same: no write is lost or seen elsewhere.
    local = Local()
    critical = Local(thread_critical=True)
    calls = 300

    def on_caller_thread() -> None:
        critical.count += 1  # the caller thread's own thread-local value
        local.count += 1

    async def increment(n: int) -> None:
        local.count += 1
        local.owner = f"thread {n}"
        critical.in_async = n
        await sync_to_async(on_caller_thread)()

    def hammer(n: int, barrier: threading.Barrier) -> tuple[int, int, str, bool]:
        local.count = 0
        critical.count = 0
        barrier.wait(JOIN)
        for _ in range(calls):
            async_to_sync(increment)(n)
        return local.count, critical.count, local.owner, hasattr(critical, "in_async")

    results = run_threads(hammer, THREADS)
    assert results == [(2 * calls, calls, f"thread {n}", False) for n in range(THREADS)]
