"""ASGI wrapper for bench_gunicorn.py: per request, its time in the app and inside sqlite.

Why: on the Django + Channels site both servers share one sqlite file, whose
rollback journal makes writers and readers of the two worker processes take
turns; a statement that finds the file locked sleeps in sqlite's busy handler
(1 ms, 2 ms, ... up to 100 ms per retry). A latency tail can therefore be the
database's, not the bridge's: this wrapper tells them apart. It times every
``SQLiteCursorWrapper.execute`` (and new connections) made on behalf of a
request, through a ContextVar holding a list (the bridge copies contexts, and
the list object travels with the copy), and appends one line per request to
``$GUNICORN_PROBE_DIR/<pid>.txt``: path, total ms, sqlite ms. The file's first
line names the module Django's ``sync_to_async`` comes from, so the benchmark
can check that each side runs the library it claims. Lines starting with ``!``
are exceptions Django turned into a 500 (with DEBUG off Django logs them
nowhere the benchmark can read).
"""

from __future__ import annotations

import contextvars
import os
import sys
import time
from pathlib import Path
from typing import Any

from chsite.asgi import application as _site  # sets Django up (and installs asgibridge)
from django.core.signals import got_request_exception
from django.db.backends.sqlite3 import base

_spent: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("spent", default=None)
_execute = base.SQLiteCursorWrapper.execute
_connect = base.DatabaseWrapper.get_new_connection


def _timed(method: Any) -> Any:
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        spent = _spent.get()
        start = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            if spent is not None:
                spent[0] += time.perf_counter() - start

    return timed


base.SQLiteCursorWrapper.execute = _timed(_execute)  # type: ignore[method-assign]
base.DatabaseWrapper.get_new_connection = _timed(_connect)  # type: ignore[method-assign]
_out: Any = None


def _output() -> Any:
    global _out
    if _out is None:  # opened in the worker, after gunicorn forked it
        path = Path(os.environ["GUNICORN_PROBE_DIR"]) / f"{os.getpid()}.txt"
        _out = path.open("a", buffering=1)
        import asgiref.sync  # after the site: it decides what asgiref is

        _out.write(f"# {asgiref.sync.sync_to_async.__module__}\n")
    return _out


def _record_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    error = sys.exc_info()[1]
    message = " ".join(str(error).split())[:200]  # one line
    _output().write(f"! {type(error).__name__}: {message}\n")


got_request_exception.connect(_record_exception, weak=False)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        await _site(scope, receive, send)
        return
    spent = [0.0]
    _spent.set(spent)
    start = time.perf_counter()
    await _site(scope, receive, send)
    total = time.perf_counter() - start
    _output().write(f"{scope['path']} {total * 1000:.2f} {spent[0] * 1000:.2f}\n")
