"""Django in process: WSGIHandler, Django's ASGIHandler on asgiref and on asgibridge, one-hop.

Rows (issue 18, sections 2 and 5), per view and loop: the graded ratio is
``asgibridge.django``'s one-hop handler (on asgibridge) against Django's own
``ASGIHandler`` on the real asgiref; the lines under each row give Django's
``WSGIHandler`` and Django's ``ASGIHandler`` on asgibridge from the same
rounds, every handler's ratio to WSGI (the one-hop handler's goal: ORM +
template <= 1.07x WSGI, "hello" <= 1.75x WSGI; stock Django's ASGIHandler on
asgibridge: <= 1.15x and <= 3.0x), context switches per request and per hop
(sync_to_async calls per request, counted once, untimed). Two reference lines
bound what any bridge can reach under Django's ASGIHandler: the handler with
its sync_to_async calls made inline on the loop's thread ("bridge made free",
the worker's ``asgi-inline``: Django's async path alone), and that plus one
OS thread round trip per hop (`bench_bridge`'s eventfd ping-pong).

Views (``django_site/``, startproject's seven middleware, sqlite on disk):
``items`` reads 20 rows with the ORM and renders a template; ``hello``
returns a constant. Both are sync views.

Measuring: Django binds the asgiref it imports, so each bridge has its own
worker process (``_django_worker.py``): real asgiref in one, asgibridge
installed as asgiref in the other. A batch is N sequential requests made in
process (no server), timed by the worker's process CPU time (every thread:
the loop's and the workers'), so the figure is CPU microseconds per
request; under ``run.py`` the workers inherit the pinning to one CPU. The
harness alternates the two sides per repeat; the WSGI and asgibridge-ASGI
batches are taken right after each one-hop batch (interleaved rounds).

After the rounds, for each ASGI handler a fresh worker serves 64 concurrent
"hello" requests and reports its thread count and RSS (lines under the last
row of each loop).

Run alone: ``python benchmarks/bench_django.py`` (``ASGIBRIDGE_BENCH_QUICK=1``
for a smoke run).
"""

from __future__ import annotations

import atexit
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, Row

__all__ = ("ROWS", "extra_lines")

HERE = Path(__file__).resolve().parent
QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"
WSGI_GOALS = {"items": 1.07, "hello": 1.75}  # one-hop handler / WSGIHandler
STOCK_GOALS = {"items": 1.15, "hello": 3.0}  # Django's ASGIHandler on asgibridge / WSGIHandler
VIEWS = {"items": "ORM query + template, sync view", "hello": '"hello", sync view'}
LOOPS = ("asyncio", "uvloop")
BURST = 64


def _quick() -> bool:
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


class Worker:
    """A ``_django_worker.py`` process on one bridge, driven line by line."""

    def __init__(self, bridge: str) -> None:
        env = dict(os.environ)
        src = str(HERE.parent / "src")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_django_worker.py"), bridge],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        atexit.register(self.stop)

    def ask(self, **command: Any) -> Any:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the Django worker ended (exit {self.process.wait()})")
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


_workers: dict[str, Worker] = {}
# (row name, handler) -> per-batch samples {"cpu": s/request, "switches": per request}
_samples: dict[tuple[str, str], list[dict[str, float]]] = {}
_hops: dict[tuple[str, str], float] = {}
_bursts: dict[tuple[str, str], dict[str, float]] = {}


def _worker(bridge: str) -> Worker:
    if bridge not in _workers:
        _workers[bridge] = Worker(bridge)
    return _workers[bridge]


def _batch_size(view: str) -> int:
    if _quick():
        return 20
    return 300 if view == "items" else 2000


def _take(row: str, bridge: str, handler: str, view: str, loop: str) -> float:
    sample = _worker(bridge).ask(
        op="batch", handler=handler, view=view, loop=loop, n=_batch_size(view)
    )
    _samples.setdefault((row, handler if bridge == "asgibridge" else "asgiref"), []).append(sample)
    return float(sample["cpu"])


def _measure(view: str, loop: str, row: str) -> Any:
    def measure(impl: str) -> float:
        if impl == "asgiref":
            return _take(row, "asgiref", "asgi", view, loop)
        cost = _take(row, "asgibridge", "one-hop", view, loop)
        _take(row, "asgibridge", "wsgi", view, loop)
        _take(row, "asgibridge", "asgi", view, loop)
        _take(row, "asgibridge", "asgi-inline", view, loop)
        return cost

    return measure


def _row_name(view: str, loop: str) -> str:
    return f"Django {VIEWS[view]}, {loop}: one-hop handler vs ASGIHandler on asgiref"


ROWS = [
    Row(_row_name(view, loop), 1.0, _measure(view, loop, _row_name(view, loop)))
    for loop in LOOPS
    for view in VIEWS
]


def _median(row: str, handler: str, key: str) -> float:
    values = [sample[key] for sample in _samples.get((row, handler), [])]
    return statistics.median(values) if values else float("nan")


def _hops_per_request(bridge: str, handler: str, view: str) -> float:
    key = (f"{bridge}:{handler}", view)
    if key not in _hops:
        _hops[key] = float(_worker(bridge).ask(op="hops", handler=handler, view=view))
    return _hops[key]


def _burst(bridge: str, handler: str, loop: str) -> dict[str, float]:
    key = (f"{bridge}:{handler}", loop)
    if key not in _bursts:
        fresh = Worker(bridge)  # a process that served nothing else
        try:
            _bursts[key] = fresh.ask(op="burst", handler=handler, loop=loop, n=BURST)
        finally:
            fresh.stop()
    return _bursts[key]


# (label, bridge, handler) of every column the lines report.
SIDES = (
    ("WSGIHandler", "asgibridge", "wsgi"),
    ("ASGIHandler on asgiref", "asgiref", "asgi"),
    ("ASGIHandler on asgibridge", "asgibridge", "asgi"),
    ("one-hop handler (asgibridge.django)", "asgibridge", "one-hop"),
    (
        "ASGIHandler, bridge made free (calls inline: a reference, not a server)",
        "asgibridge",
        "asgi-inline",
    ),
)
_os_trip: list[float] = []


def _os_round_trip() -> float:
    """The OS's thread round trip (bench_bridge's eventfd ping-pong), measured once."""
    if not _os_trip:
        from bench_bridge import _os_round_trip as measure

        _os_trip.append(measure())
    return _os_trip[0]


def extra_lines(results: Sequence[Result]) -> dict[str, list[str]]:
    """Under each row: every handler's CPU, ratio to WSGI and to asgiref, switches per hop."""
    lines: dict[str, list[str]] = {}
    for result in results:
        row = result.row.name
        view = next(v for v in VIEWS if VIEWS[v] in row)
        loop = next(loop for loop in LOOPS if f", {loop}:" in row)
        wsgi = _median(row, "wsgi", "cpu")
        asgiref = _median(row, "asgiref", "cpu")
        out = []
        for label, bridge, handler in SIDES:
            key = "asgiref" if bridge == "asgiref" else handler
            cpu = _median(row, key, "cpu")
            switches = _median(row, key, "switches")
            text = f"| {label} (not graded) | | {cpu * 1e6:.1f} us | {cpu / wsgi:.2f}x WSGI"
            if handler == "asgi-inline":
                text += " | no hop |"
            elif handler != "wsgi":
                hops = _hops_per_request(bridge, handler, view)
                per_hop = f"{switches / hops:.1f}" if hops else "-"
                text += (
                    f", {cpu / asgiref:.2f}x asgiref | {hops:.0f} hops, "
                    f"{switches:.1f} switches/request ({per_hop}/hop) |"
                )
            else:
                text += f" | {switches:.1f} switches/request |"
            goals = {"one-hop": WSGI_GOALS, "asgi": STOCK_GOALS}.get(handler)
            if goals is not None and bridge == "asgibridge":
                goal = goals[view]
                text += f" <= {goal:.2f}x WSGI: {'met' if cpu / wsgi <= goal else 'MISSED'} |"
            else:
                text += " |"
            out.append(text)
        # The floor of any bridge under Django's ASGIHandler: its own async path
        # (bridge made free) plus one OS thread round trip per hop.
        inline = _median(row, "asgi-inline", "cpu")
        hops = _hops_per_request("asgibridge", "asgi", view)
        floor = inline + hops * _os_round_trip()
        trip = _os_round_trip()
        out.append(
            f"| floor (not graded): bridge made free + {hops:.0f} x the OS's thread round trip "
            f"({trip * 1e6:.1f} us) | | {floor * 1e6:.1f} us | {floor / wsgi:.2f}x WSGI "
            "| a real hop cannot cost less | |"
        )
        if view == "hello":
            for label, bridge, handler in SIDES[1:4]:  # the servers (not the reference)
                burst = _burst(bridge, handler, loop)
                out.append(
                    f"| after {BURST} concurrent requests, {label} | | "
                    f"{burst['threads']:.0f} threads, {burst['threads_settled']:.0f} 2 s later "
                    f"| {burst['rss'] / 2**20:.1f} MiB RSS, "
                    f"{burst['rss_settled'] / 2**20:.1f} MiB 2 s later | | |"
                )
        lines[row] = out
    return lines


if __name__ == "__main__":
    import run

    sys.exit(run.main(["--only", "django", *sys.argv[1:]]))
