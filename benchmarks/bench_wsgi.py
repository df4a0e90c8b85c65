"""WSGI <-> ASGI benchmarks: asgiref's WsgiToAsgi vs asgibridge's (a2wsgi printed beside them).

Rows (issue 5's speed table); ``measure(impl)`` returns seconds per operation:

- in-process GET through the adapter, hello-world app (per call, pinned);
- 50 concurrent requests to a view sleeping 5 ms (one scenario per batch);
- a 50 MB upload in 64 KiB chunks read by the app (one upload per batch);
- uvicorn serving the adapter, 16 keep-alive connections from an in-Python
  client (`_wsgi_load`: raw sockets, one thread per connection, a fixed
  request count): seconds per 2xx response, so the goal is the inverse of the
  req/s goal. asgiref's adapter answers about every other keep-alive request
  with a quick 500 and ``Connection: close`` (issue 5's keep-alive bug): the
  client reads those responses like any other, counts them as non-2xx and
  goes on with a new connection. The lines under the row give each side's
  2xx/s and all-responses/s, the non-2xx count, and the ratio both ways;
- the same with a view sleeping 10 ms;
- AsgiToWsgi in-process GET: asgiref has no ASGI->WSGI adapter, so this
  row's "asgiref" column is a2wsgi's ``ASGIMiddleware``.

a2wsgi (``WSGIMiddleware``) is measured right after each asgibridge batch of
the same row and printed under it as an ungraded line (`extra_lines`).

Servers (`_wsgi_load`): one uvicorn subprocess per implementation (default
settings, access log off), its log in a file; requests go to 127.0.0.1 only.

Run alone: ``python benchmarks/bench_wsgi.py`` (``ASGIBRIDGE_BENCH_QUICK=1``
for a smoke run).
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, Row
from _wsgi_load import load, load_lines

__all__ = ("ROWS", "extra_lines")

QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"
_perf_counter = time.perf_counter
_a2wsgi_samples: dict[str, list[float]] = {}
_notes: dict[str, list[str]] = {}


def _quick() -> bool:
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


# -- the applications both sides serve ----------------------------------------------------


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def sleepy(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    time.sleep(0.005)
    return hello(environ, start_response)


def reader(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    stream = environ["wsgi.input"]
    total = 0
    while data := stream.read(65536):
        total += len(data)
    start_response("200 OK", [("Content-Length", str(len(str(total))))])
    return [str(total).encode()]


async def asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("http only")
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": b"hello"})


def _wsgi_to_asgi(impl: str) -> Any:
    if impl == "asgiref":
        from asgiref.wsgi import WsgiToAsgi
    elif impl == "a2wsgi":
        from a2wsgi import WSGIMiddleware as WsgiToAsgi
    else:
        from asgibridge.wsgi import WsgiToAsgi
    return WsgiToAsgi


_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}
_EMPTY = {"type": "http.request", "body": b"", "more_body": False}


async def _receive_empty() -> dict[str, Any]:
    return _EMPTY


async def _send_nothing(message: dict[str, Any]) -> None:
    return None


_adapters: dict[tuple[str, Any], Any] = {}


def _adapter(impl: str, app: Any) -> Any:
    """One adapter per implementation and app, kept (a server builds it once)."""
    key = (impl, app)
    adapter = _adapters.get(key)
    if adapter is None:
        adapter = _adapters[key] = _wsgi_to_asgi(impl)(app)
    return adapter


def _with_a2wsgi(name: str, measure: Callable[[str], float]) -> Callable[[str], float]:
    """Measure a2wsgi after every asgibridge batch of the row (ungraded)."""

    def both(impl: str) -> float:
        result = measure(impl)
        if impl == "asgibridge":
            _a2wsgi_samples.setdefault(name, []).append(measure("a2wsgi"))
        return result

    return both


# -- in-process rows ------------------------------------------------------------------------


def _get_hello(impl: str) -> float:
    app = _adapter(impl, hello)
    n = 300 if _quick() else 2000

    async def main() -> float:
        for _ in range(100):
            await app(dict(_SCOPE), _receive_empty, _send_nothing)
        gc.collect()
        start = _perf_counter()
        for _ in range(n):
            await app(dict(_SCOPE), _receive_empty, _send_nothing)
        return (_perf_counter() - start) / n

    return asyncio.run(main())


def _concurrent_sleepy(impl: str) -> float:
    app = _adapter(impl, sleepy)

    async def main() -> float:
        await asyncio.gather(
            *(app(dict(_SCOPE), _receive_empty, _send_nothing) for _ in range(50))
        )
        gc.collect()
        start = _perf_counter()
        await asyncio.gather(
            *(app(dict(_SCOPE), _receive_empty, _send_nothing) for _ in range(50))
        )
        return _perf_counter() - start

    return asyncio.run(main())


_UPLOAD_CHUNK = b"u" * 65536
_UPLOAD_CHUNKS = (50 * 1024 * 1024) // len(_UPLOAD_CHUNK)


def _upload_once(impl: str, app: Any) -> tuple[float, float]:
    """(wall seconds, seconds until the app first read) for one 50 MB upload."""
    started = [0.0, 0.0]
    sent: list[dict[str, Any]] = []

    def timed_reader(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started[1] = _perf_counter()
        return reader(environ, start_response)

    adapter = _wsgi_to_asgi(impl)(timed_reader if app is None else app)
    headers = [(b"content-length", str(_UPLOAD_CHUNKS * len(_UPLOAD_CHUNK)).encode())]
    scope = dict(_SCOPE, method="POST", headers=headers)

    async def main() -> None:
        left = [_UPLOAD_CHUNKS]

        async def receive() -> dict[str, Any]:
            left[0] -= 1
            if left[0] < 0:  # like a server: nothing more until the client leaves
                await asyncio.get_running_loop().create_future()
            return {"type": "http.request", "body": _UPLOAD_CHUNK, "more_body": left[0] > 0}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        gc.collect()
        started[0] = _perf_counter()
        await adapter(scope, receive, send)

    asyncio.run(main())
    wall = _perf_counter() - started[0]
    assert sent[1]["body"] == str(_UPLOAD_CHUNKS * len(_UPLOAD_CHUNK)).encode()
    return wall, started[1] - started[0]


def _upload(impl: str) -> float:
    wall, first_read = _upload_once(impl, None)
    if impl != "a2wsgi":
        _notes.setdefault(_UPLOAD_ROW, []).append(f"{impl}:{first_read / wall:.2f}")
    return wall


def _upload_memory(impl: str) -> int:
    """Peak Python-allocated bytes during one upload (tracemalloc, untimed)."""
    tracemalloc.start()
    try:
        _upload_once(impl, reader)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _proc_status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    raise KeyError(key)


def _upload_rss_growth(impl: str) -> float | None:
    """Peak resident memory growth in MiB during one upload (Linux only; else None).

    Resets the process's high-water mark (``/proc/self/clear_refs``, "5"),
    uploads, and compares the new mark with the resident size before.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        before = _proc_status_kib("VmRSS:")
        _upload_once(impl, reader)
        return (_proc_status_kib("VmHWM:") - before) / 1024
    except (OSError, KeyError, ValueError):
        return None


def _asgi_to_wsgi_get(impl: str) -> float:
    if impl == "asgibridge":
        from asgibridge.asgi_to_wsgi import AsgiToWsgi

        wsgi_app: Any = AsgiToWsgi(asgi_hello)
    else:  # asgiref has none: a2wsgi is the baseline of this row
        from a2wsgi import ASGIMiddleware

        wsgi_app = ASGIMiddleware(asgi_hello)
    n = 300 if _quick() else 2000
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    def one() -> None:
        body = wsgi_app(dict(environ, **{"wsgi.input": io.BytesIO()}), start_response)
        try:
            for _ in body:
                pass
        finally:
            body.close()

    for _ in range(100):
        one()
    gc.collect()
    start = _perf_counter()
    for _ in range(n):
        one()
    elapsed = (_perf_counter() - start) / n
    if impl == "asgibridge":
        wsgi_app.close()
    return elapsed


# -- uvicorn rows: see _wsgi_load ---------------------------------------------------------

_HELLO_ROW = "in-process GET through the adapter, hello-world app (pinned)"
_SLEEPY_ROW = "50 concurrent requests to a view sleeping 5 ms"
_UPLOAD_ROW = "50 MB upload in 64 KiB chunks: wall time"
_UVICORN_HELLO = "uvicorn, hello, 16 connections: s per 2xx response (goal >= 1.6x req/s)"
_UVICORN_SLOW = (
    "uvicorn, view sleeping 10 ms, 16 connections: s per 2xx response (goal >= 10x req/s)"
)
_A2W_ROW = "`AsgiToWsgi` in-process GET (the asgiref column is a2wsgi's ASGIMiddleware)"

ROWS = [
    Row(_HELLO_ROW, 0.50, _with_a2wsgi(_HELLO_ROW, _get_hello)),
    Row(_SLEEPY_ROW, 0.13, _with_a2wsgi(_SLEEPY_ROW, _concurrent_sleepy), unit="ms"),
    Row(_UPLOAD_ROW, 1.5, _with_a2wsgi(_UPLOAD_ROW, _upload), unit="ms"),
    Row(_UVICORN_HELLO, 1 / 1.6, _with_a2wsgi(_UVICORN_HELLO, load(_UVICORN_HELLO, "/", 3200))),
    Row(
        _UVICORN_SLOW,
        1 / 10,
        _with_a2wsgi(_UVICORN_SLOW, load(_UVICORN_SLOW, "/slow", 480)),
        unit="ms",
    ),
    Row(_A2W_ROW, 0.70, _asgi_to_wsgi_get),
]


def extra_lines(results: Sequence[Result]) -> dict[str, list[str]]:
    """Ungraded lines under rows: a2wsgi beside asgiref, req/s, upload start and memory."""
    lines: dict[str, list[str]] = {}
    for result in results:
        name = result.row.name
        scale = 1e3 if result.row.unit == "ms" else 1e6
        samples = _a2wsgi_samples.get(name)
        row_lines = []
        if samples:
            a2wsgi = statistics.median(samples)
            row_lines.append(
                f"| a2wsgi (not graded) | | {a2wsgi * scale:.1f} {result.row.unit} "
                f"| {a2wsgi / result.times['asgiref']:.2f}x of asgiref | | |"
            )
        if name in (_UVICORN_HELLO, _UVICORN_SLOW):
            row_lines += load_lines(name)
        if name == _UPLOAD_ROW:
            starts = ", ".join(_notes.get(_UPLOAD_ROW, [])[-2:])
            memory = ", ".join(
                f"{impl} {_upload_memory(impl) / 2**20:.1f} MiB"
                for impl in ("asgiref", "asgibridge")
            )
            row_lines.append(
                f"| app's first read, as a share of the wall time | {starts} | | | | |"
            )
            row_lines.append(f"| peak Python memory during one upload | {memory} | | | | |")
            growth = {impl: _upload_rss_growth(impl) for impl in ("asgiref", "asgibridge")}
            if None not in growth.values():
                rss = ", ".join(f"{impl} +{mib:.1f} MiB" for impl, mib in growth.items())
                row_lines.append(f"| peak RSS growth during one upload | {rss} | | | | |")
        if row_lines:
            lines[name] = row_lines
    return lines


def main(argv: Sequence[str]) -> int:
    """Run the rows alone (prefer benchmarks/run.py, which pins and repeats)."""
    from _harness import run_rows, table

    repeats = 3 if _quick() else 7
    results = run_rows(ROWS, repeats)
    print(table(results))
    for name, extra in extra_lines(results).items():
        print(f"\n{name}:")
        print("\n".join(extra))
    return 0


if __name__ == "__main__":
    try:
        from run import main as run_main
    except ImportError:
        raise SystemExit(main(sys.argv[1:])) from None
    raise SystemExit(run_main(["--only", "wsgi", *sys.argv[1:]]))
