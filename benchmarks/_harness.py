"""Shared benchmark harness: asgiref and asgibridge measured in one process, interleaved.

A benchmark module defines ``ROWS``, a list of `Row`. Each row's ``measure``
takes the implementation name (``"asgiref"`` or ``"asgibridge"``) and returns
the seconds one operation took, averaged over one batch. The harness runs
batches of both implementations alternately (so drift and noise hit both),
keeps the median per implementation, and prints a table with the ratio
(asgibridge / asgiref) against the row's goal.

Pin per-call rows to one CPU (``taskset -c 0``), as `benchmarks/run.py` does.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

IMPLEMENTATIONS = ("asgiref", "asgibridge")


@dataclass(frozen=True)
class Row:
    """One benchmark line: a name, the goal ratio, and how to measure one batch."""

    name: str
    goal: float  # asgibridge / asgiref must be <= this
    measure: Callable[[str], float]  # implementation name -> seconds per operation
    unit: str = "us"  # how to print per-operation times: "us" or "ms"


@dataclass(frozen=True)
class Result:
    row: Row
    times: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.times["asgibridge"] / self.times["asgiref"]

    @property
    def met(self) -> bool:
        return self.ratio <= self.row.goal


def run_rows(rows: Sequence[Row], repeats: int) -> list[Result]:
    results = []
    for row in rows:
        samples: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
        for i in range(repeats):
            order = IMPLEMENTATIONS if i % 2 == 0 else IMPLEMENTATIONS[::-1]
            for name in order:
                samples[name].append(row.measure(name))
        times = {name: statistics.median(values) for name, values in samples.items()}
        results.append(Result(row, times))
        print(_format(results[-1]), file=sys.stderr, flush=True)
    return results


def _scale(row: Row) -> float:
    return 1e3 if row.unit == "ms" else 1e6


def _number(value: float) -> str:
    """One decimal, or three below 1 (sub-microsecond rows: `Local` reads are ~0.1 us)."""
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def _format(result: Result) -> str:
    row, scale = result.row, _scale(result.row)
    return (
        f"| {row.name} | {_number(result.times['asgiref'] * scale)} {row.unit} "
        f"| {_number(result.times['asgibridge'] * scale)} {row.unit} "
        f"| {result.ratio:.2f}x | <= {row.goal:.2f}x | {'met' if result.met else 'MISSED'} |"
    )


def table(results: Sequence[Result]) -> str:
    lines = [
        "| measure | asgiref | asgibridge | ratio | goal | |",
        "|---|---|---|---|---|---|",
    ]
    lines.extend(_format(result) for result in results)
    return "\n".join(lines)
