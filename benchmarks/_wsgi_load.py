"""HTTP load for bench_wsgi's uvicorn rows: one server per adapter, a keep-alive client, tallies.

Servers: one uvicorn subprocess per implementation (asgiref's, asgibridge's
and a2wsgi's WSGI adapter around the same app), on a listening socket made
here and passed down, started at first use and stopped at exit. A server may
use every CPU even when this process is pinned. Its stdout and stderr go to
``server.log`` in its temporary folder (asgiref's keep-alive failures log
one traceback each; they would otherwise flood the report).

Client: ``connections`` threads, each sending its share of GETs one at a
time over keep-alive connections to 127.0.0.1, with a per-request timeout and
a deadline for the whole batch, so a batch always ends. It behaves like a
normal HTTP client:

- every response is read whole, whatever its status (Content-Length,
  chunked, or until the server closes), and tallied by status code: a 500
  is a valid response, counted as non-2xx, and the next request goes on;
- ``Connection: close`` (asgiref's 500s carry it) or a closed socket ends
  the connection; the next request opens a new one;
- a request that got no byte back on a *reused* connection is sent again on
  a new connection (the server had closed the idle connection and never saw
  it): the retry is counted, the request is not. On a new connection the
  same is a failed attempt, as are resets and timeouts mid-response.

The graded figure is seconds per 2xx response (the row's goal is the inverse
of a req/s goal); the lines under each row give, per implementation, 2xx/s,
all responses/s, the non-2xx count by status, failures, retries and
connections, and the server log's count of "Exception in ASGI application".
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from tempfile import mkdtemp

__all__ = ("Tally", "keep_alive_client", "load", "load_lines")

TIMEOUT = 10.0  # seconds one request may take before it counts as failed
BATCH_DEADLINE = 180.0  # seconds one batch may take: later requests are not sent
CONNECTIONS = 16
IMPLEMENTATIONS = ("asgiref", "asgibridge", "a2wsgi")

_SERVER_APP = """
import time
from {module} import {name} as Adapter

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]

def slow(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.01)
    return hello(environ, start_response)

app = Adapter(slow)
"""
_ADAPTERS = {
    "asgiref": ("asgiref.wsgi", "WsgiToAsgi"),
    "asgibridge": ("asgibridge.wsgi", "WsgiToAsgi"),
    "a2wsgi": ("a2wsgi", "WSGIMiddleware"),
}
# Not ``--fd``: uvicorn wraps that socket as AF_UNIX and asyncio then never
# sets TCP_NODELAY (Nagle + delayed ACK: 40 ms per response).
_RUNNER = (
    "import socket, sys, uvicorn; sock = socket.socket(fileno=int(sys.argv[1])); "
    "uvicorn.Server(uvicorn.Config('app:app', log_level='warning', access_log=False))"
    ".run(sockets=[sock])"
)
_servers: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}


def server(impl: str) -> int:
    """The port of this implementation's uvicorn (started at first use)."""
    known = _servers.get(impl)
    if known is not None and known[0].poll() is None:
        return known[1]
    folder = Path(mkdtemp(prefix=f"bench-wsgi-{impl}-"))
    module, name = _ADAPTERS[impl]
    (folder / "app.py").write_text(textwrap.dedent(_SERVER_APP.format(module=module, name=name)))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    port = listener.getsockname()[1]
    command = [sys.executable, "-c", _RUNNER, str(listener.fileno())]
    with (folder / "server.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=folder, pass_fds=(listener.fileno(),), stdout=log, stderr=log
        )
    listener.close()
    if hasattr(os, "sched_setaffinity"):  # the server may use every CPU
        os.sched_setaffinity(process.pid, range(os.cpu_count() or 1))
    _servers[impl] = (process, port, folder)
    return port


def _server_errors(impl: str) -> int:
    """How many "Exception in ASGI application" this implementation's server logged so far."""
    known = _servers.get(impl)
    if known is None:
        return 0
    try:
        text = (known[2] / "server.log").read_bytes()
    except OSError:
        return 0
    return text.count(b"Exception in ASGI application")


@atexit.register
def _stop_servers() -> None:
    for process, _, _ in _servers.values():
        process.terminate()
    for process, _, _ in _servers.values():
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# -- the client -------------------------------------------------------------------------------


class Tally:
    """What one batch saw: responses by status, failed attempts, retries, connections."""

    __slots__ = ("connections", "failures", "lock", "retries", "statuses")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: Counter[str] = Counter()
        self.retries = 0
        self.connections = 0

    def status(self, code: int) -> None:
        with self.lock:
            self.statuses[code] += 1

    def failure(self, kind: str) -> None:
        with self.lock:
            self.failures[kind] += 1

    def count(self, what: str) -> None:
        with self.lock:
            setattr(self, what, getattr(self, what) + 1)

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)

    @property
    def responses(self) -> int:
        return sum(self.statuses.values())


class _Stale(Exception):
    """The connection ended before any byte of the response came back."""


class _Connection:
    """One HTTP/1.1 client connection: send a request, read its response whole."""

    __slots__ = ("buffer", "got", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.got = False  # a byte of the current response arrived

    def _more(self) -> bool:
        """Receive more bytes; False at the end of the stream."""
        try:
            chunk = self.sock.recv(65536)
        except OSError as exc:
            if not self.got:
                raise _Stale from exc
            raise
        if not chunk:
            if not self.got:
                raise _Stale
            return False
        self.got = True
        self.buffer += chunk
        return True

    def _until(self, separator: bytes, start: int) -> int:
        while (found := self.buffer.find(separator, start)) < 0:
            if not self._more():
                raise ConnectionError("the server closed the connection mid-response")
        return found

    def _need(self, size: int) -> None:
        while len(self.buffer) < size:
            if not self._more():
                raise ConnectionError("the server closed the connection mid-body")

    def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send ``request``; returns (status, keep-alive) once its response is read."""
        self.got = bool(self.buffer)
        try:
            self.sock.sendall(request)
        except OSError as exc:
            raise _Stale from exc
        head_end = self._until(b"\r\n\r\n", 0)
        lines = self.buffer[:head_end].split(b"\r\n")
        version, code = lines[0].split(b" ", 2)[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        status = int(code)
        keep = headers.get(b"connection") != b"close" and version == b"HTTP/1.1"
        end = head_end + 4
        if 100 <= status < 200 or status in (204, 304):
            pass
        elif b"content-length" in headers:
            end += int(headers[b"content-length"])
            self._need(end)
        elif b"chunked" in headers.get(b"transfer-encoding", b""):
            end = self._chunked_end(end)
        else:  # the body ends when the server closes the connection
            while self._more():
                pass
            end, keep = len(self.buffer), False
        self.buffer = self.buffer[end:]
        return status, keep

    def _chunked_end(self, position: int) -> int:
        while True:
            line_end = self._until(b"\r\n", position)
            size = int(self.buffer[position:line_end].split(b";", 1)[0], 16)
            position = line_end + 2
            if size == 0:
                while (line_end := self._until(b"\r\n", position)) != position:
                    position = line_end + 2  # a trailer line
                return position + 2
            self._need(position + size + 2)
            position += size + 2


def keep_alive_client(
    port: int, path: str, count: int, tally: Tally, deadline: float | None = None
) -> None:
    """Send ``count`` GETs for ``path``, one at a time, over keep-alive connections."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    left = count
    while left > 0 and (deadline is None or time.monotonic() < deadline):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except OSError as exc:
            tally.failure(f"connect: {type(exc).__name__}")
            left -= 1
            continue
        tally.count("connections")
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            left = _requests_on(_Connection(sock), request, left, tally, deadline)


def _requests_on(
    connection: _Connection, request: bytes, left: int, tally: Tally, deadline: float | None
) -> int:
    """Requests on one connection until it ends; returns how many are left to send."""
    reused = False
    while left > 0 and (deadline is None or time.monotonic() < deadline):
        try:
            status, keep = connection.exchange(request)
        except _Stale:
            if reused:  # the server had closed this idle connection: send it again
                tally.count("retries")
            else:
                tally.failure("closed before answering")
                left -= 1
            return left
        except (OSError, ValueError) as exc:  # reset, timeout or garbage mid-response
            tally.failure(type(exc).__name__)
            return left - 1
        tally.status(status)
        left -= 1
        if not keep:
            return left
        reused = True
    return left


# -- the rows ---------------------------------------------------------------------------------

_stats: dict[tuple[str, str], list[tuple[Tally, float, int]]] = {}


def load(row: str, path: str, total: int) -> Callable[[str], float]:
    """A row's ``measure``: seconds per 2xx response with ``total`` requests per batch."""

    def measure(impl: str) -> float:
        port = server(impl)
        # The listening socket exists before the server: this waits in its
        # backlog until the server accepts (no start-up polling), and warms it.
        keep_alive_client(port, path, 2, Tally())
        logged = _server_errors(impl)
        tally = Tally()
        quick = os.environ.get("ASGIBRIDGE_BENCH_QUICK", "") not in ("", "0")
        per_client = max(1, (total // 4 if quick else total) // CONNECTIONS)
        deadline = time.monotonic() + BATCH_DEADLINE
        threads = [
            threading.Thread(
                target=keep_alive_client, args=(port, path, per_client, tally, deadline)
            )
            for _ in range(CONNECTIONS)
        ]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        logged = _server_errors(impl) - logged
        _stats.setdefault((row, impl), []).append((tally, elapsed, logged))
        return elapsed / max(1, tally.ok)

    return measure


def load_lines(row: str) -> list[str]:
    """Ungraded lines under a load row: req/s of each implementation and what went wrong."""
    lines = []
    rates: dict[str, tuple[float, float]] = {}
    for impl in IMPLEMENTATIONS:
        stats = _stats.get((row, impl))
        if not stats:
            continue
        seconds = sum(elapsed for _, elapsed, _ in stats)
        logged = sum(count for _, _, count in stats)
        total = Tally()
        for tally, _, _ in stats:
            total.statuses.update(tally.statuses)
            total.failures.update(tally.failures)
            total.retries += tally.retries
            total.connections += tally.connections
        rates[impl] = (total.ok / seconds, total.responses / seconds)
        non_ok = {code: n for code, n in sorted(total.statuses.items()) if not 200 <= code < 300}
        by_code = ", ".join(f"{code} x{n}" for code, n in non_ok.items()) or "none"
        failed = ", ".join(f"{kind} x{n}" for kind, n in total.failures.items()) or "none"
        lines.append(
            f"| {impl}: req/s (not graded) | {rates[impl][0]:,.0f} 2xx/s "
            f"| {rates[impl][1]:,.0f} responses/s "
            f"| non-2xx: {total.responses - total.ok} of {total.responses} ({by_code}) "
            f"| failed attempts: {failed}; resent on a new connection: {total.retries}; "
            f"connections: {total.connections} "
            f"| server log: {logged} app exceptions |"
        )
    if "asgiref" in rates and "asgibridge" in rates and min(rates["asgiref"]) > 0:
        ours, (ok, everything) = rates["asgibridge"][0], rates["asgiref"]
        lines.append(
            f"| asgibridge 2xx/s vs asgiref (not graded) | {ours / ok:.2f}x of its 2xx/s "
            f"| {ours / everything:.2f}x of all its responses/s, 500s included | | | |"
        )
    return lines
