"""One process serving the benchmark's Django project in process, on asgiref or on asgibridge.

Started by ``bench_django.py`` (``python _django_worker.py asgiref|asgibridge``).
With ``asgibridge`` it calls ``install_as_asgiref()`` before Django is
imported; with ``asgiref`` Django runs on the real asgiref (one process per
bridge: Django binds the asgiref it imports).

Protocol: one JSON command per stdin line, one JSON answer per stdout line.

- ``{"op": "batch", "handler": H, "view": V, "loop": L, "n": N}``: N requests
  one after the other through handler H (``wsgi``: Django's WSGIHandler;
  ``asgi``: Django's ASGIHandler; ``one-hop``: asgibridge.django's;
  ``asgi-inline``: Django's ASGIHandler with sync_to_async made inline, a
  reference only), view V
  (``hello`` or ``items``), ASGI requests on loop L (``asyncio`` or ``uvloop``).
  Answer: CPU seconds of the whole process per request (``time.process_time``:
  every thread), voluntary + involuntary context switches per request
  (``getrusage``), and ``loop_cpu``: CPU seconds per request of this thread
  alone (``time.thread_time``: the event loop's share of an ASGI request; all
  of a WSGI request), so ``cpu - loop_cpu`` is what the request's thread and
  the bridge's other threads spent (where a hop's cost goes: issue 18 §2).
- ``{"op": "hops", "handler": H, "view": V}``: sync_to_async calls per request
  (asgibridge's hop listener; on asgiref, counted by wrapping SyncToAsync).
- ``{"op": "burst", "handler": H, "loop": L, "n": 64}``: N concurrent requests
  to the hello view, then the thread count and RSS (``VmRSS``), at once and
  again ``SETTLE_SECONDS`` later (after asgibridge's idle grace).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BRIDGE = sys.argv[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

if BRIDGE == "asgibridge":
    import asgibridge

    asgibridge.install_as_asgiref()

_db = Path(tempfile.mkdtemp(prefix="bench-django-")) / "site.sqlite3"
os.environ["BENCH_DJANGO_DB"] = str(_db)
os.environ["DJANGO_SETTINGS_MODULE"] = "django_site.settings"

import django  # noqa: E402

django.setup()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402

from django_site.models import Item  # noqa: E402

with connection.schema_editor() as editor:
    editor.create_model(Item)
Item.objects.bulk_create(Item(name=f"item number {i}", price=i * 7) for i in range(20))
connection.close()

PATHS = {"hello": "/hello", "items": "/items"}
_handlers: dict[str, Any] = {}


def handler(name: str) -> Any:
    if name not in _handlers:
        if name == "wsgi":
            _handlers[name] = WSGIHandler()
        elif name == "asgi":
            _handlers[name] = ASGIHandler()
        else:
            import asgibridge.django

            _handlers[name] = asgibridge.django.get_asgi_application()
    return _handlers[name]


def _environ(path: str) -> dict[str, Any]:
    import io

    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _wsgi_request(app: Any, path: str) -> None:
    status: list[str] = []
    body = app(_environ(path), lambda s, h, exc_info=None: status.append(s))
    try:
        data = b"".join(body)
    finally:
        body.close()
    if not status[0].startswith("200") or not data:
        raise RuntimeError(f"{path}: {status[0]}")


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def _asgi_request(app: Any, path: str) -> None:
    sent: list[dict[str, Any]] = []
    request_sent = False
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never  # the client never leaves: the handler cancels this wait
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(path), receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{path}: {sent[0]['status']}")


def _loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


_loops: dict[str, asyncio.AbstractEventLoop] = {}


def run_on(loop_name: str, coroutine: Any) -> Any:
    loop = _loops.get(loop_name)
    if loop is None:
        loop = _loops[loop_name] = _loop(loop_name)
    return loop.run_until_complete(coroutine)


def _switches() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


@contextlib.contextmanager
def _inline_bridge() -> Iterator[None]:
    """Every ``sync_to_async`` call runs inline on the loop's thread (a reference only).

    The issue's "bridge made free" column: Django's ASGIHandler with no thread
    hop at all, the running loop hidden from the sync code so that Django's
    async-safety checks pass. What is left is the cost of Django's async path
    itself; no bridge can go below it. Never a way to serve requests.
    """
    from asgiref import sync

    original = sync.SyncToAsync.__call__

    async def inline(self: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(None)
        try:
            return self.func(*args, **kwargs)
        finally:
            asyncio.events._set_running_loop(loop)

    sync.SyncToAsync.__call__ = inline  # type: ignore[method-assign]
    try:
        yield
    finally:
        sync.SyncToAsync.__call__ = original  # type: ignore[method-assign]


def batch(handler_name: str, view: str, loop_name: str, n: int) -> dict[str, float]:
    if handler_name == "asgi-inline":
        with _inline_bridge():
            return batch("asgi", view, loop_name, n)
    app, path = handler(handler_name), PATHS[view]
    if handler_name == "wsgi":
        _wsgi_request(app, path)  # warm
        cpu, switches, own = time.process_time(), _switches(), time.thread_time()
        for _ in range(n):
            _wsgi_request(app, path)
    else:

        async def many(count: int) -> None:
            for _ in range(count):
                await _asgi_request(app, path)

        run_on(loop_name, many(1))  # warm
        cpu, switches, own = time.process_time(), _switches(), time.thread_time()
        run_on(loop_name, many(n))
    return {
        "cpu": (time.process_time() - cpu) / n,
        "switches": (_switches() - switches) / n,
        "loop_cpu": (time.thread_time() - own) / n,
    }


def hops(handler_name: str, view: str) -> float:
    if handler_name == "asgi-inline":
        return 0.0
    app, path = handler(handler_name), PATHS[view]
    count = 0
    if BRIDGE == "asgibridge":
        from asgibridge.instrumentation import add_hop_listener

        def started(info: Any) -> None:
            nonlocal count
            count += 1

        with add_hop_listener(on_start=started, on_end=lambda info, state: None):
            run_on("asyncio", _asgi_request(app, path))
        return float(count)
    from asgiref import sync

    original = sync.SyncToAsync.__call__

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return await original(self, *args, **kwargs)

    sync.SyncToAsync.__call__ = counted  # type: ignore[method-assign]
    try:
        run_on("asyncio", _asgi_request(app, path))
    finally:
        sync.SyncToAsync.__call__ = original  # type: ignore[method-assign]
    return float(count)


SETTLE_SECONDS = 2.0


def _rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024.0
    return float("nan")


def burst(handler_name: str, loop_name: str, n: int) -> dict[str, float]:
    app, path = handler(handler_name), PATHS["hello"]

    async def together() -> None:
        await asyncio.gather(*(_asgi_request(app, path) for _ in range(n)))

    run_on(loop_name, together())
    right_after = {"threads": float(threading.active_count()), "rss": _rss()}
    # asgibridge lets idle threads beyond its cap go after ``idle_grace`` (1 s): the
    # count a process settles at is what stays in memory between bursts.
    time.sleep(SETTLE_SECONDS)
    return {
        **right_after,
        "threads_settled": float(threading.active_count()),
        "rss_settled": _rss(),
    }


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "batch":
            answer: Any = batch(command["handler"], command["view"], command["loop"], command["n"])
        elif op == "hops":
            answer = hops(command["handler"], command["view"])
        elif op == "burst":
            answer = burst(command["handler"], command["loop"], command["n"])
        else:
            raise SystemExit(f"unknown op {op!r}")
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
