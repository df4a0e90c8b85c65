"""Pre-fork server benchmark: gunicorn + 2 UvicornWorkers (--preload) on asgiref and asgibridge.

Standalone (no ``ROWS``): it starts real servers, so run.py does not run it.
For each round and implementation (alternating which goes first) it starts a
fresh gunicorn serving the Django + Channels site of
``tests/django_channels_site`` (one redis-server for the whole run), drives it
at saturation with a bounded number of keep-alive connections cycling over the
sync, ORM, and async views while websocket clients in the Channels group read
every ``group_send``, and samples each worker's RSS and thread count from
/proc. The asgiref side is the same interpreter without ``install_as_asgiref()``
(``CHSITE_IMPL=asgiref``), so both run the same Django, Channels and uvicorn.

Reported per implementation: requests/s, per-view p50 and p99 (p99 of each
window, the worst window kept), RSS growth of the workers per 1,000 requests
and per minute (least-squares slope over the measured phase), and the most
threads a worker had. Linux only (/proc); needs gunicorn, uvicorn, Django,
channels, channels_redis and redis-server on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "tests" / "django_channels_site"
sys.path.insert(0, str(ROOT / "tests"))

from local_servers import WAIT, free_listener, get, redis_server, stop_process  # noqa: E402

IMPLS = ("asgiref", "asgibridge")
VIEWS = ("/sync", "/plain", "/async")


@contextlib.contextmanager
def gunicorn_server(
    workdir: Path,
    redis_url: str,
    impl: str,
    workers: int,
    src: Path,
    app: str,
    wal: bool,
    probe_dir: Path,
    trace: bool = False,
) -> Iterator[tuple[int, int]]:
    """gunicorn (--preload, UvicornWorkers) on a socket made here; yields (port, master pid)."""
    listener = free_listener(2048)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(SITE), str(src), str(ROOT / "benchmarks"), *sys.path]),
        CHSITE_DB=str(workdir / f"{impl}.sqlite3"),
        CHSITE_REDIS=redis_url,
        CHSITE_IMPL=impl,
        DJANGO_SETTINGS_MODULE="chsite.settings",
        GUNICORN_PROBE_DIR=str(probe_dir),
    )
    if wal:
        env["CHSITE_WAL"] = "1"
    if trace:
        env["GUNICORN_PROBE_TRACE"] = "1"
    command = [sys.executable, "-m", "gunicorn", app, "--preload",
               "-k", "uvicorn.workers.UvicornWorker", "-w", str(workers),
               "--bind", f"fd://{fd}", "--backlog", "2048", "--graceful-timeout", "5",
               "--log-level", "warning"]  # fmt: skip
    log = (workdir / f"gunicorn-{impl}.log").open("ab")
    process = subprocess.Popen(
        command, cwd=workdir, env=env, pass_fds=(fd,), stdout=log, stderr=log
    )
    listener.close()  # gunicorn has its own copy
    try:
        yield port, process.pid
    finally:
        stop_process(process)
        log.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _proc_status(pid: int) -> tuple[float, int] | None:
    """(RSS in MiB, thread count) of ``pid``, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


@dataclass
class Sampler:
    """Samples every worker's RSS and threads once a second on a thread of its own."""

    workers: list[int]
    samples: dict[int, list[tuple[float, float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            for pid in self.workers:
                status = _proc_status(pid)
                if status is not None:
                    self.samples.setdefault(pid, []).append((now, *status))
            if self._stop.wait(1.0):
                return

    def stop(self) -> None:
        self._stop.set()


# -- load generator ---------------------------------------------------------


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + WAIT * 2
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                if await get(reader, writer, "/plain") == 200:
                    return
            finally:
                writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not answer")
        await asyncio.sleep(0.1)  # polling a server start, not interleaving


async def _websocket_reader(port: int, stop: asyncio.Event, received: list[int]) -> None:
    """Join the Channels group through /ws/news and read (and count) every frame until ``stop``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ws/news HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"websocket refused: {head[:80]!r}")

    async def frames() -> None:
        while True:
            first = await reader.readexactly(2)
            length = first[1] & 0x7F
            if length == 126:
                length = int.from_bytes(await reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await reader.readexactly(8), "big")
            await reader.readexactly(length)
            received[0] += 1

    task = asyncio.ensure_future(frames())
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, asyncio.IncompleteReadError, OSError):
        await task
    writer.close()


@dataclass
class Phase:
    """What one measured phase recorded (latencies by view: (monotonic end, seconds))."""

    latencies: dict[str, list[tuple[float, float]]]
    errors: collections.Counter[str]
    per_connection: list[int]  # requests measured on each connection
    started: float
    ended: float
    ws_frames: int


async def _drive(
    port: int, connections: int, warmup: float, duration: float, sockets: int
) -> Phase:
    latencies: dict[str, list[tuple[float, float]]] = {v: [] for v in VIEWS}
    errors: collections.Counter[str] = collections.Counter()
    stop_ws = asyncio.Event()
    received = [0]
    per_connection = [0] * connections
    ws = [
        asyncio.ensure_future(_websocket_reader(port, stop_ws, received)) for _ in range(sockets)
    ]
    measure_from = time.monotonic() + warmup
    end = measure_from + duration

    async def client(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = index
        try:
            while (now := time.monotonic()) < end:
                path = VIEWS[n % len(VIEWS)]
                n += 1
                try:
                    status = await get(reader, writer, path)
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                    errors[type(exc).__name__] += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                done = time.monotonic()
                if status != 200:
                    errors[f"HTTP {status}"] += 1
                elif now >= measure_from:
                    latencies[path].append((done, done - now))
                    per_connection[index] += 1
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(connections)))
    stop_ws.set()
    for outcome in await asyncio.gather(*ws, return_exceptions=True):
        if isinstance(outcome, BaseException):
            errors[f"websocket {type(outcome).__name__}"] += 1
    return Phase(latencies, errors, per_connection, measure_from, end, received[0])


# -- one run ------------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points (0 with fewer than 2)."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def run_one(  # noqa: PLR0912 (one run, measured and read back in order)
    impl: str, workdir: Path, redis_url: str, args: argparse.Namespace
) -> dict[str, object]:
    app = "chsite.asgi:application" if args.no_probe else "_gunicorn_probe:application"
    probe_dir = Path(tempfile.mkdtemp(prefix=f"probe-{impl}-", dir=workdir))
    server = gunicorn_server(
        workdir, redis_url, impl, args.workers, args.src, app, args.wal, probe_dir,
        trace=args.trace is not None,
    )  # fmt: skip
    with server as (port, master):
        runner = asyncio.new_event_loop()
        try:
            runner.run_until_complete(_wait_ready(port))
            deadline = time.monotonic() + WAIT
            while len(workers := _children(master)) < args.workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not fork its workers")
                time.sleep(0.1)  # polling process start-up, not interleaving
            sampler = Sampler(workers)
            sampler.start()
            phase = runner.run_until_complete(
                _drive(port, args.connections, args.warmup, args.duration, args.websockets)
            )
            sampler.stop()
        finally:
            runner.close()
    total = sum(len(v) for v in phase.latencies.values())
    views: dict[str, dict[str, float]] = {}
    for view, points in phase.latencies.items():
        worst = 0.0
        start = phase.started
        while start < phase.ended:
            window = [s for t, s in points if start <= t < start + args.window]
            if len(window) >= 20:  # a tail needs enough points to be one
                worst = max(worst, _quantile(window, 0.99))
            start += args.window
        views[view] = {
            "count": len(points),
            "p50_ms": _quantile([s for _, s in points], 0.50) * 1000,
            "p99_ms": _quantile([s for _, s in points], 0.99) * 1000,
            "worst_window_p99_ms": worst * 1000,
        }
    rss_slope = 0.0  # MiB per second, all workers together
    threads_max = 0
    rss_end = 0.0
    for samples in sampler.samples.values():
        measured = [(t, rss) for t, rss, _ in samples if t >= phase.started]
        rss_slope += _slope(measured)
        threads_max = max([threads_max, *(n for _, _, n in samples)])
        rss_end += samples[-1][1] if samples else 0.0
    seconds = phase.ended - phase.started
    in_app: list[tuple[float, float]] = []  # (total ms, sqlite ms) per request, warm-up included
    for probe in probe_dir.glob("*.txt"):
        for line in probe.read_text().splitlines():
            if line.startswith("! "):  # an exception Django answered with a 500
                phase.errors[line[2:]] += 1
                continue
            if line.startswith("# "):  # the library the worker runs: is it this side's?
                module = line[2:]
                if module.split(".")[0] != impl:
                    raise RuntimeError(f"the {impl} side ran {module}")
                continue
            _, total_ms, sqlite_ms = line.split()
            in_app.append((float(total_ms), float(sqlite_ms)))
    in_app.sort()
    if args.trace is not None:  # keep the statement timelines (they live in a temp dir)
        keep = args.trace / f"{impl}-{int(time.time())}"
        keep.mkdir(parents=True, exist_ok=True)
        for trace in probe_dir.glob("*.trace"):
            shutil.copy(trace, keep / trace.name)
    slowest = in_app[int(0.99 * len(in_app)) :]
    return {
        "impl": impl,
        "requests": total,
        "rps": total / seconds,
        "errors": dict(phase.errors),
        "ws_frames": phase.ws_frames,
        "views": views,
        "rss_mib_end": rss_end,
        "rss_mib_per_min": rss_slope * 60,
        "rss_mib_per_1000_requests": rss_slope * seconds / total * 1000 if total else 0.0,
        "threads_max": threads_max,
        # From the probe: time inside the app (Django, bridge, sqlite) and the sqlite part.
        "app_p99_ms": _quantile([t for t, _ in in_app], 0.99),
        "app_minus_sqlite_p99_ms": _quantile([t - q for t, q in in_app], 0.99),
        "sqlite_mean_ms": statistics.fmean(q for _, q in in_app) if in_app else float("nan"),
        "slowest_1pc_sqlite_share": (
            sum(q for _, q in slowest) / sum(t for t, _ in slowest) if slowest else float("nan")
        ),
    }


def _table(results: list[dict[str, object]]) -> str:
    lines = [
        "| round | impl | req/s | "
        + " | ".join(f"{v} p50 / p99 (worst window) ms" for v in VIEWS)
        + " | RSS MiB/1k req | RSS MiB/min | RSS end MiB | threads max"
        + " | in-app p99 ms (without sqlite) | sqlite mean ms | sqlite share of slowest 1 %"
        + " | errors |",
        "|---|---|---:|" + "---:|" * len(VIEWS) + "---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        views = r["views"]
        assert isinstance(views, dict)
        cells = [
            f"{views[v]['p50_ms']:.1f} / {views[v]['worst_window_p99_ms']:.0f}" for v in VIEWS
        ]
        lines.append(
            f"| {r['round']} | {r['impl']} | {r['rps']:.0f} | "
            + " | ".join(cells)
            + f" | {r['rss_mib_per_1000_requests']:+.3f} | {r['rss_mib_per_min']:+.2f}"
            f" | {r['rss_mib_end']:.1f} | {r['threads_max']}"
            f" | {r['app_p99_ms']:.0f} ({r['app_minus_sqlite_p99_ms']:.0f})"
            f" | {r['sqlite_mean_ms']:.1f} | {r['slowest_1pc_sqlite_share']:.0%}"
            f" | {r['errors'] or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first")
    parser.add_argument("--window", type=float, default=30.0, help="p99 window in seconds")
    parser.add_argument("--rounds", type=int, default=2, help="runs per implementation")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive HTTP clients")
    parser.add_argument("--websockets", type=int, default=4, help="clients in the Channels group")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--only", default=",".join(IMPLS), help="asgiref,asgibridge")
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="asgibridge's source tree (another checkout)",
    )
    parser.add_argument("--wal", action="store_true", help="sqlite in WAL mode (CHSITE_WAL=1)")
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="serve the site bare (no per-request sqlite timing)",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        help="write every statement's timeline (probe) under this folder",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 round of 3 s")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.window, args.rounds = 3.0, 1.0, 3.0, 1
        args.connections = min(args.connections, 16)
    impls = [i for i in args.only.split(",") if i]
    if shutil.which("redis-server") is None:
        print("redis-server is not on PATH", file=sys.stderr)
        return 1
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
        workdir = Path(tmp)
        with redis_server(workdir) as redis_url:
            for round_ in range(1, args.rounds + 1):
                order = impls if round_ % 2 else impls[::-1]
                for impl in order:
                    print(f"round {round_}: {impl} ...", file=sys.stderr, flush=True)
                    result = run_one(impl, workdir, redis_url, args)
                    result["round"] = round_
                    results.append(result)
                    print(_table([result]).splitlines()[-1], file=sys.stderr, flush=True)
        logs = {p.name: p.read_text(errors="replace") for p in workdir.glob("gunicorn-*.log")}
    failed = any(r["errors"] for r in results) or any(
        "Traceback" in text or "Exception in ASGI application" in text for text in logs.values()
    )
    print(
        f"# gunicorn --preload, {args.workers} UvicornWorkers, {args.connections} connections, "
        f"{args.websockets} websockets, {args.duration:.0f} s per run "
        f"({args.window:.0f} s windows), "
        f"sqlite {'WAL' if args.wal else 'rollback journal'}\n"
    )
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if failed:
        for name, text in logs.items():
            if "Traceback" in text:
                print(f"\n{name}:\n{text[-4000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
