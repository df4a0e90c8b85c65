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

With ``GUNICORN_PROBE_TRACE=1`` (``bench_gunicorn.py --trace DIR``) it also
writes ``<pid>.trace``: one line per statement (S: pid, thread, start and end
on CLOCK_MONOTONIC, which both workers share, first word, statements of the
process already inside sqlite), per fetch or cursor close (F), per connection
close (C), per request signal (G), per request (R), per collection (Z) and a
GIL-return sample (L: how late a 2 ms sleep wakes), so timelines of both
processes can be laid side by side.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
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
_trace: Any = None
_inside = [0]  # statements of this process inside sqlite now (traced runs only)


_trace_lock = threading.Lock()


def _trace_write(line: str) -> None:
    # Hazard (garbled lines): a TextIOWrapper is not safe to write from threads.
    with _trace_lock:
        _trace_output().write(line)


def _trace_output() -> Any:
    global _trace
    if _trace is None:
        path = Path(os.environ["GUNICORN_PROBE_DIR"]) / f"{os.getpid()}.trace"
        _trace = path.open("a", buffering=1 << 16)
        bridge = sys.modules.get("asgibridge")
        _trace.write(f"M {getattr(bridge, '__file__', None)}\n")  # which checkout runs
    return _trace


def _traced(method: Any, kind: str) -> Any:
    # Why: the timeline of every statement (both processes share CLOCK_MONOTONIC)
    # shows who held the database while others waited, on which thread.
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        what = args[0].split(None, 1)[0] if kind == "x" and args else kind
        inside = _inside[0]
        _inside[0] = inside + 1
        start = time.monotonic_ns()
        try:
            return method(self, *args, **kwargs)
        finally:
            end = time.monotonic_ns()
            _inside[0] -= 1
            _trace_write(
                f"S {os.getpid()} {threading.get_ident()} {start} {end} {what} {inside}\n"
            )

    return traced


_trace_on = bool(os.environ.get("GUNICORN_PROBE_TRACE"))
if _trace_on:
    from django.core.signals import request_finished, request_started

    base.SQLiteCursorWrapper.execute = _traced(  # type: ignore[method-assign]
        base.SQLiteCursorWrapper.execute, "x"
    )
    base.DatabaseWrapper.get_new_connection = _traced(  # type: ignore[method-assign]
        base.DatabaseWrapper.get_new_connection, "CONNECT"
    )

    def _fetched(method: Any) -> Any:
        # When a read ends: its SHARED lock lasts from the execute to here.
        def fetched(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                _trace_write(
                    f"F {os.getpid()} {threading.get_ident()} {time.monotonic_ns()} "
                    f"{method.__name__}\n"
                )

        return fetched

    for _name in ("fetchone", "fetchmany", "fetchall", "close"):
        setattr(
            base.SQLiteCursorWrapper, _name, _fetched(getattr(base.SQLiteCursorWrapper, _name))
        )
    _close = base.DatabaseWrapper._close

    def _closing(self: Any) -> None:
        _trace_write(f"C {os.getpid()} {threading.get_ident()} {time.monotonic_ns()} {id(self)}\n")
        _close(self)

    base.DatabaseWrapper._close = _closing  # type: ignore[method-assign]

    def _signal(name: str) -> Any:
        def receiver(sender: Any, **kwargs: Any) -> None:
            _trace_write(f"G {os.getpid()} {threading.get_ident()} {time.monotonic_ns()} {name}\n")

        return receiver

    def _gil_sampler() -> None:
        # What a thread coming back from a blocking call (a sqlite step) waits
        # for the GIL: the overshoot of a short sleep, sampled all run long.
        while True:
            start = time.monotonic_ns()
            time.sleep(0.002)
            end = time.monotonic_ns()
            _trace_write(f"L {os.getpid()} {end} {(end - start) // 1000 - 2000}\n")

    _gc_start = [0]

    def _gc_watch(phase: str, info: dict[str, int]) -> None:
        # Collections stop every thread of the process: time each one.
        if phase == "start":
            _gc_start[0] = time.monotonic_ns()
            return
        objects = len(gc.get_objects(2)) if info["generation"] == 2 else -1
        _trace_write(
            f"Z {os.getpid()} {threading.get_ident()} {_gc_start[0]} {time.monotonic_ns()} "
            f"{info['generation']} {info['collected']} {objects}\n"
        )

    import gc

    gc.callbacks.append(_gc_watch)
    _sampler: list[threading.Thread] = []

    def _start_sampler() -> None:
        if not _sampler:  # in the worker, after gunicorn forked it
            _sampler.append(threading.Thread(target=_gil_sampler, daemon=True))
            _sampler[0].start()

    request_started.connect(_signal("started"), weak=False)
    request_finished.connect(_signal("finished"), weak=False)


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
    began = time.monotonic_ns()
    if _trace_on:
        _start_sampler()
    await _site(scope, receive, send)
    total = time.perf_counter() - start
    if _trace_on:
        _trace_write(
            f"R {os.getpid()} {threading.get_ident()} {began} {time.monotonic_ns()} "
            f"{scope['path']}\n"
        )
    _output().write(f"{scope['path']} {total * 1000:.2f} {spent[0] * 1000:.2f}\n")
