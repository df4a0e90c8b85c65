"""Streaming bridge benchmarks: cost per item of iterating across the bridge.

- sync iterator consumed by async code: "asgiref" is Starlette's way
  (``iterate_in_threadpool``), one ``asgiref.sync.sync_to_async`` hop per item
  calling ``next``; "asgibridge" is ``sync_iter_to_async`` (default buffer),
  which produces items in batches on the same thread a hop would use.
- async iterator consumed by sync code: "asgiref" is one
  ``asgiref.sync.async_to_sync`` call per item calling ``__anext__``;
  "asgibridge" is ``async_iter_to_sync`` (also one async_to_sync call per item:
  thread-sensitive work must come back to the consuming thread, so there is no
  read-ahead; the gain is the cheaper call).

The async iterator is a class, not an async generator: with asgiref each
``async_to_sync`` call from a plain thread runs a new event loop, whose end
finalizes every async generator it saw (an async generator would stop after
its first item there).

Each batch times only the iteration (the loop or consuming thread is built and
warmed up first). Run alone: ``python benchmarks/bench_iterators.py``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Row

__all__ = ("ROWS",)

_QUICK = os.environ.get("ASGIBRIDGE_BENCH_QUICK") == "1"
_ITEMS = 200 if _QUICK else 2000
_perf_counter = time.perf_counter
_END = object()


def _items(count: int) -> Iterator[int]:
    yield from range(count)


def _next_or_end(iterator: Iterator[int]) -> Any:
    return next(iterator, _END)


class _Counter:
    """An async iterator of ``count`` ints (a class: see the module docstring)."""

    def __init__(self, count: int) -> None:
        self.left = count

    def __aiter__(self) -> _Counter:
        return self

    async def __anext__(self) -> int:
        if self.left == 0:
            raise StopAsyncIteration
        self.left -= 1
        return self.left


async def _anext_or_end(iterator: _Counter) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


async def _sync_to_async_batch(impl: str, thread_sensitive: bool) -> float:
    sync = importlib.import_module(f"{impl}.sync")
    for _ in range(2):  # warm up: start the threads each side keeps
        await _consume_sync(impl, sync, 10, thread_sensitive)
    start = _perf_counter()
    await _consume_sync(impl, sync, _ITEMS, thread_sensitive)
    return (_perf_counter() - start) / _ITEMS


async def _consume_sync(impl: str, sync: Any, count: int, thread_sensitive: bool) -> None:
    seen = 0
    if impl == "asgiref":
        step = sync.sync_to_async(_next_or_end, thread_sensitive=thread_sensitive)
        iterator = _items(count)
        while (await step(iterator)) is not _END:
            seen += 1
    else:
        async for _ in sync.sync_iter_to_async(_items(count), thread_sensitive=thread_sensitive):
            seen += 1
    assert seen == count


def _measure_sync_to_async(thread_sensitive: bool) -> Any:
    def measure(impl: str) -> float:
        return asyncio.run(_sync_to_async_batch(impl, thread_sensitive))

    return measure


def _consume_async(impl: str, sync: Any, count: int) -> None:
    seen = 0
    if impl == "asgiref":
        step = sync.async_to_sync(_anext_or_end)
        iterator = _Counter(count)
        while step(iterator) is not _END:
            seen += 1
    else:
        for _ in sync.async_iter_to_sync(_Counter(count)):
            seen += 1
    assert seen == count


def _measure_async_to_sync(impl: str) -> float:
    sync = importlib.import_module(f"{impl}.sync")
    result: list[float] = []

    def batch() -> None:
        _consume_async(impl, sync, 10)  # warm up (persistent loop, if any)
        count = _ITEMS // 4  # asgiref starts a loop per call: keep batches short
        start = _perf_counter()
        _consume_async(impl, sync, count)
        result.append((_perf_counter() - start) / count)

    thread = threading.Thread(target=batch, name=f"bench-iterators-{impl}")
    thread.start()
    thread.join(120)
    if not result:
        raise RuntimeError(f"the {impl} async-iterator batch did not finish")
    return result[0]


ROWS: list[Row] = [
    # Batching amortizes one hop over up to `buffer` items and wakes the loop
    # only when the consumer waits: a tenth of a hop per item is a fair bar
    # (smoke test, unpinned and busy machine: ~2 us against ~54 us).
    Row(
        "sync iterator -> async, per item (thread_sensitive=True)",
        0.1,
        _measure_sync_to_async(True),
    ),
    Row(
        "sync iterator -> async, per item (thread_sensitive=False, Starlette)",
        0.1,
        _measure_sync_to_async(False),
    ),
    # One async_to_sync call per item on both sides (no read-ahead, to keep
    # thread affinity); asgiref runs a new loop per call from a plain thread
    # (smoke test: ~42 us against ~250 us).
    Row("async iterator -> sync, per item", 0.3, _measure_async_to_sync),
]


if __name__ == "__main__":
    from _harness import run_rows

    run_rows(ROWS, 3 if _QUICK else 7)
