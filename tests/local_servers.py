"""Real servers on 127.0.0.1 for tests and benchmarks: listeners, redis-server, stopping, GETs.

Shared by the tests that start uvicorn, gunicorn or redis-server and by
``benchmarks/bench_gunicorn.py`` (which puts this folder on ``sys.path``).
Every wait here has a deadline: a server that never starts or never stops
fails the caller, it never hangs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

WAIT = 30.0  # seconds a start, a stop or a single response may take


def free_listener(backlog: int = 1024) -> socket.socket:
    """A listening socket on a free port of 127.0.0.1 (hand its descriptor to a server)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    return listener


def stop_process(process: subprocess.Popen[bytes], wait: float = WAIT) -> None:
    """SIGTERM, then SIGKILL after ``wait`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(wait)


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port (no persistence); yields its URL.

    Raises:
        RuntimeError: it did not answer PING within ``WAIT`` seconds (its log says why).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = workdir / "redis.log"
    log = log_path.open("wb")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + WAIT
        while True:  # redis cannot hand over a ready socket: poll, bounded
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=WAIT) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start: " + log_path.read_text())
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process(process)
        log.close()


async def get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One keep-alive ``GET path`` on an open connection: its status (the body is read)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await asyncio.wait_for(reader.readexactly(length), WAIT)
    return int(head.split(b" ", 2)[1])
