"""Django + Channels (channels_redis layer) under uvicorn: thousands of requests, no error line.

Issue 17, section 7: under load, about one request in 10,000 logged
``Exception in ASGI application ... ExecutorGoneError`` from Django's
``request_finished``. The trigger is a client leaving while a sync view waits
in ``async_to_sync(channel_layer.group_send)`` (every load generator does it
to the requests in flight when it stops): the cancelled request task took
over the view's context, finished CurrentThreadExecutor included (see
tests/test_race_request_finished.py for the interleaving, step by step).

The site (tests/django_channels_site) has sync views doing ORM work on sqlite
and ``async_to_sync(group_send)``, and an async view awaiting ``group_send``
and the ORM through ``sync_to_async``. The test starts its own redis-server
on a free 127.0.0.1 port and uvicorn on a listening socket it made (so there
is no start-up race on the HTTP side), then:

1. keep-alive load: CONNECTIONS connections send REQUESTS GETs in all,
   cycling over the views; every answer must be a 200;
2. departures: clients send a sync-view request and leave without reading
   the answer, in rounds, as a load generator does when it stops;
3. keep-alive load again (the server must still answer everything).

Then the server log must hold no ``Exception in ASGI application`` and no
``ExecutorGoneError``. Every wait is bounded and both servers are stopped in
``finally`` blocks. Needs redis-server on PATH (apt-get install redis-server)
and Django, channels, channels_redis and uvicorn importable; uvloop is tried
too when installed.
"""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_servers import WAIT, free_listener, get, redis_server, stop_process

SITE = Path(__file__).parent / "django_channels_site"
CONNECTIONS = 32
REQUESTS = 1536  # per load phase (a multiple of CONNECTIONS)
DEPARTURE_ROUNDS = 8
DEPARTURES = 32  # clients leaving per round
PATHS = ("/sync", "/async", "/plain")

_MISSING = [
    m
    for m in ("django", "channels", "channels_redis", "uvicorn")
    if not importlib.util.find_spec(m)
]

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None,
        reason="redis-server is not installed (apt-get install redis-server)",
    ),
    pytest.mark.skipif(bool(_MISSING), reason=f"not importable: {', '.join(_MISSING)}"),
]


@contextmanager
def uvicorn_server(tmp_path: Path, redis_url: str, loop: str) -> Iterator[int]:
    """uvicorn (1 worker) serving the site on a listening socket made here; yields its port."""
    listener = free_listener()
    port = int(listener.getsockname()[1])
    fd = listener.fileno()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(SITE), *sys.path]),
        CHSITE_DB=str(tmp_path / "db.sqlite3"),
        CHSITE_REDIS=redis_url,
        DJANGO_SETTINGS_MODULE="chsite.settings",
    )
    env.pop("ASGIBRIDGE_HANG_TIMEOUT", None)
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "uvicorn", "chsite.asgi:application", "--fd", str(fd),
               "--loop", loop, "--http", "httptools" if _have("httptools") else "h11",
               "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=env, pass_fds=(fd,), stdout=log,
                               stderr=log)  # fmt: skip
    listener.close()  # the server has its own copy
    try:
        yield port
    finally:
        stop_process(process)
        log.close()


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


async def _load(port: int, connections: int, requests: int) -> collections.Counter[int]:
    """``connections`` keep-alive connections sending ``requests`` GETs in all."""
    statuses: collections.Counter[int] = collections.Counter()

    async def one_connection(index: int) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
        try:
            for n in range(requests // connections):
                statuses[await get(reader, writer, PATHS[(index + n) % len(PATHS)])] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(one_connection(i) for i in range(connections)))
    return statuses


async def _departures(port: int, clients: int) -> None:
    """``clients`` connections each send a sync-view request and close without reading."""

    async def leave() -> None:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
        writer.write(b"GET /sync HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(leave() for _ in range(clients)))


async def _scenario(port: int) -> list[collections.Counter[int]]:
    """Load, rounds of departures among requests in flight, load; returns each phase's statuses."""
    # The server answers its first request only once the site is imported.
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), WAIT)
    try:
        assert await get(reader, writer, "/plain") == 200
    finally:
        writer.close()
        await writer.wait_closed()
    phases = [await _load(port, CONNECTIONS, REQUESTS)]
    during: collections.Counter[int] = collections.Counter()
    for _ in range(DEPARTURE_ROUNDS):
        _, statuses = await asyncio.gather(
            _departures(port, DEPARTURES), _load(port, CONNECTIONS // 2, CONNECTIONS * 2)
        )
        during.update(statuses)
    phases.append(during)
    phases.append(await _load(port, CONNECTIONS, REQUESTS))
    return phases


@pytest.mark.parametrize(
    "loop",
    [
        "asyncio",
        pytest.param(
            "uvloop",
            marks=pytest.mark.skipif(not _have("uvloop"), reason="uvloop is not installed"),
        ),
    ],
)
@pytest.mark.timeout(120)
def test_django_channels_under_load_logs_no_error(tmp_path: Path, loop: str) -> None:
    """Thousands of keep-alive requests and client departures: all 200s, no error in the log.

    Without the fix, the departures (a client leaving while its sync view
    waits in async_to_sync for group_send) logged ExecutorGoneError from
    Django's request_finished.
    """
    with redis_server(tmp_path) as redis_url, uvicorn_server(tmp_path, redis_url, loop) as port:
        phases = asyncio.run(_scenario(port))
    # Read after the server stopped: uvicorn's graceful stop waits for the
    # requests whose clients left, so whatever they logged is in the file.
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert phases == [
        {200: REQUESTS},
        {200: DEPARTURE_ROUNDS * CONNECTIONS * 2},
        {200: REQUESTS},
    ], phases
    errors = log.count("Exception in ASGI application")
    assert errors == 0, f"{errors} requests failed; the last ones:\n{log[-6000:]}"
    assert "ExecutorGoneError" not in log, log[-6000:]
    assert "Traceback" not in log, log[-6000:]
