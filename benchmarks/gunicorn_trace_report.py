"""Summarise the timelines ``bench_gunicorn.py --trace DIR`` kept (one folder per run).

Usage: ``python benchmarks/gunicorn_trace_report.py DIR/asgibridge-* DIR/asgiref-*``

Per run: statement times inside sqlite by kind, how many statements of the
same process were already inside sqlite when one started (many: the busy
back-off has taken over; the probe counts without a lock, so approximately),
how long a read keeps its SHARED lock after its first step (the execute's end
to the first fetch's end: Python code and a GIL wait, nothing else) and a
connection close (both short GIL releases), the GIL-return samples, and
collections. Issue 18 §4 used these to find that
reusing sticky threads under load stretched exactly those short windows.
"""

from __future__ import annotations

import collections
import itertools
import statistics
import sys
from pathlib import Path


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _line(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:34s} -"
    return (
        f"  {name:34s} n={len(values):6d} mean={statistics.fmean(values):8.3f} "
        f"p50={_q(values, 0.5):8.3f} p90={_q(values, 0.9):8.3f} p99={_q(values, 0.99):8.2f} ms"
    )


def report(run: Path) -> None:  # noqa: PLR0912 (one pass over every line kind)
    by_kind: dict[str, list[float]] = collections.defaultdict(list)
    inside: collections.Counter[int] = collections.Counter()
    per_thread: dict[tuple[str, str], list[tuple[int, int, str]]] = collections.defaultdict(list)
    gil: list[float] = []
    collections_ms: dict[str, list[float]] = collections.defaultdict(list)
    for trace in run.glob("*.trace"):
        for text in trace.read_text().splitlines():
            f = text.split()
            if f[0] == "S":
                by_kind[f[5]].append((int(f[4]) - int(f[3])) / 1e6)
                inside[min(int(f[6]), 10)] += 1
                per_thread[f[1], f[2]].append((int(f[3]), int(f[4]), f[5]))
            elif f[0] in ("F", "C"):
                stamp = int(f[3])
                per_thread[f[1], f[2]].append((stamp, stamp, "F" + f[4] if f[0] == "F" else "C"))
            elif f[0] == "G" and f[4] == "finished":
                per_thread[f[1], f[2]].append((int(f[3]), int(f[3]), "finished"))
            elif f[0] == "L":
                gil.append(int(f[3]) / 1000)
            elif f[0] == "Z":
                collections_ms[f"gen{f[5]}"].append((int(f[4]) - int(f[3])) / 1e6)
    held: list[float] = []
    closing: list[float] = []
    for events in per_thread.values():
        events.sort()
        for here, after in itertools.pairwise(events):
            if here[2] == "SELECT" and after[2].startswith("Ffetch"):
                held.append((after[0] - here[1]) / 1e6)
            elif here[2] == "C" and after[2] == "finished":
                closing.append((after[0] - here[1]) / 1e6)
    print(run.name)
    for kind in sorted(by_kind):
        print(_line(f"statement {kind}", by_kind[kind]))
    total = sum(inside.values()) or 1
    shares = " ".join(f"{n}{'+' if n == 10 else ''}:{inside[n] / total:.0%}" for n in range(11))
    print(f"  already inside sqlite at a start     {shares}")
    print(_line("SELECT execute end -> fetch end", held))
    print(_line("connection close (+ next receiver)", closing))
    print(_line("GIL return after a 2 ms sleep", gil))
    for generation in sorted(collections_ms):
        print(_line(f"collection {generation}", collections_ms[generation]))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for run in argv:
        report(Path(run))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
