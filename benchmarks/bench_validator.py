"""Cost of the sans-I/O ASGI validator per message (asgiref has no validator).

Two ways to run it:

- Standalone: ``python benchmarks/bench_validator.py`` (pin it for stable
  numbers: ``taskset -c 0 python benchmarks/bench_validator.py``). Prints, for
  each exchange below, the nanoseconds one connection costs (scope check
  included) and that cost divided by the messages it carries. Messages are
  prebuilt; only the validator runs inside the timed loop.
- In the suite: ``python benchmarks/run.py --only validator``. asgiref has no
  validator, so the graded row puts it where a user meets it: one HTTP
  request/response through ``ApplicationCommunicator``, asgiref's (which checks
  nothing) against asgibridge's with ``validate=True`` (every message and the
  scope checked). Goal 2.5x: checking everything may cost at most one and a
  half times asgiref's whole unchecked exchange (asgibridge's communicator
  alone is on par with asgiref's). Ungraded lines under the row give
  asgibridge's communicator without validation (so the difference is what
  validating costs there) and the validator alone, per message, from the
  exchanges below.

Exchanges:

- ``http``: a realistic scope (8 request headers, client, server, state,
  extensions), ``http.request``, ``http.response.start`` with 4 headers,
  ``http.response.body``, ``http.disconnect``: 4 messages.
- ``websocket``: scope, ``websocket.connect``, ``websocket.accept``, 10 x
  (``websocket.receive`` + ``websocket.send``), ``websocket.disconnect``: 23
  messages.
- ``websocket-steady``: the per-message cost of ``receive``/``send`` on an
  open socket alone (the scope and handshake are outside the timed loop).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Result, Row
from asgibridge.validation import validator_for

__all__ = ("ROWS", "extra_lines")

QUICK_ENV = "ASGIBRIDGE_BENCH_QUICK"

_ASGI = {"version": "3.0", "spec_version": "2.5"}
_REQUEST_HEADERS = [
    (b"host", b"example.com"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b"en"),
    (b"connection", b"keep-alive"),
    (b"cookie", b"session=abc"),
    (b"x-request-id", b"1234"),
]
HTTP_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": _ASGI,
    "http_version": "1.1",
    "method": "GET",
    "scheme": "https",
    "path": "/items/42",
    "raw_path": b"/items/42",
    "query_string": b"a=1",
    "root_path": "",
    "headers": _REQUEST_HEADERS,
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 443),
    "state": {},
    "extensions": {"http.response.trailers": {}},
}
HTTP_MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("receive", {"type": "http.request", "body": b"", "more_body": False}),
    (
        "send",
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"13"),
                (b"cache-control", b"no-store"),
                (b"x-request-id", b"1234"),
            ],
        },
    ),
    ("send", {"type": "http.response.body", "body": b'{"id": 42}', "more_body": False}),
    ("receive", {"type": "http.disconnect"}),
]
WS_SCOPE: dict[str, Any] = {
    "type": "websocket",
    "asgi": _ASGI,
    "http_version": "1.1",
    "scheme": "wss",
    "path": "/ws",
    "query_string": b"",
    "headers": _REQUEST_HEADERS,
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 443),
    "subprotocols": ["chat"],
}
_WS_PAIR: list[tuple[str, dict[str, Any]]] = [
    ("receive", {"type": "websocket.receive", "text": "hello"}),
    ("send", {"type": "websocket.send", "text": "hello"}),
]
WS_MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("receive", {"type": "websocket.connect"}),
    ("send", {"type": "websocket.accept", "subprotocol": "chat"}),
    *(_WS_PAIR * 10),
    ("receive", {"type": "websocket.disconnect", "code": 1000}),
]


def _exchange(
    scope: dict[str, Any], messages: list[tuple[str, dict[str, Any]]]
) -> Callable[[], None]:
    def run() -> None:
        validator = validator_for(scope)
        assert validator is not None
        for direction, message in messages:
            if direction == "send":
                validator.send(message)
            else:
                validator.receive(message)
        validator.app_returned()

    return run


def _steady(pairs: int) -> Callable[[], None]:
    validator = validator_for(WS_SCOPE)
    assert validator is not None
    validator.receive({"type": "websocket.connect"})
    validator.send({"type": "websocket.accept", "subprotocol": "chat"})
    receive_msg, send_msg = _WS_PAIR[0][1], _WS_PAIR[1][1]

    def run() -> None:
        for _ in range(pairs):
            validator.receive(receive_msg)
            validator.send(send_msg)

    return run


def _time(run: Callable[[], None], loops: int, repeats: int) -> float:
    """Median seconds per ``run()`` over ``repeats`` batches of ``loops`` calls."""
    run()  # warm up (first-call caches)
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(loops):
            run()
        samples.append((time.perf_counter_ns() - start) / loops)
    return statistics.median(samples)


def _exchanges() -> list[tuple[str, Callable[[], None], int]]:
    """(name, one connection's run, messages it carries) for each measured exchange."""
    return [
        ("http", _exchange(HTTP_SCOPE, HTTP_MESSAGES), len(HTTP_MESSAGES)),
        ("websocket", _exchange(WS_SCOPE, WS_MESSAGES), len(WS_MESSAGES)),
        ("websocket-steady", _steady(10), 20),
    ]


# --- the run.py suite ------------------------------------------------------------


def _quick() -> bool:
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


async def _http_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(HTTP_MESSAGES[1][1])
    await send(HTTP_MESSAGES[2][1])


def _communicator_batch(impl: str, validate: bool) -> float:
    """Seconds per request/response through one side's ``ApplicationCommunicator``."""
    if impl == "asgiref":
        from asgiref.testing import ApplicationCommunicator as Communicator

        options: dict[str, Any] = {}
    else:
        from asgibridge.testing import ApplicationCommunicator as Communicator  # type: ignore[assignment]

        options = {"validate": validate}
    request = HTTP_MESSAGES[0][1]
    count = 100 if _quick() else 600

    async def batch() -> float:
        start = time.perf_counter()
        for _ in range(count):
            communicator = Communicator(_http_app, HTTP_SCOPE, **options)
            await communicator.send_input(request)
            await communicator.receive_output(1)
            await communicator.receive_output(1)
            await communicator.wait(1)
        return (time.perf_counter() - start) / count

    return asyncio.run(batch())


_COMMUNICATOR_ROW = (
    "HTTP request through `ApplicationCommunicator` (asgibridge: validate=True, "
    "scope + 3 messages checked)"
)
_unvalidated: list[float] = []


def _measure_communicator(impl: str) -> float:
    if impl == "asgiref":  # an ungraded baseline batch next to every asgiref batch
        _unvalidated.append(_communicator_batch("asgibridge", validate=False))
    return _communicator_batch(impl, validate=True)


ROWS: list[Row] = [Row(_COMMUNICATOR_ROW, 2.5, _measure_communicator)]


def extra_lines(results: Sequence[Result]) -> dict[str, list[str]]:
    """Ungraded lines under the row: the communicator unvalidated, the validator alone."""
    lines: list[str] = []
    for result in results:
        if result.row.name != _COMMUNICATOR_ROW or not _unvalidated:
            continue
        asgiref, validated = result.times["asgiref"], result.times["asgibridge"]
        plain = statistics.median(_unvalidated)
        lines.append(
            f"| baseline (not graded): asgibridge's communicator, validate=False "
            f"| {asgiref * 1e6:.1f} us | {plain * 1e6:.1f} us | {plain / asgiref:.2f}x | "
            f"| validating adds {(validated - plain) * 1e6:.1f} us per request |"
        )
        loops, repeats = (200, 3) if _quick() else (2000, 7)
        for name, run, count in _exchanges():
            per_run = _time(run, loops, repeats)
            lines.append(
                f"| validator alone (not graded): {name}, {count} messages"
                f"{'' if name.endswith('steady') else ' + scope'} | - "
                f"| {per_run / 1e3:.1f} us | | | {per_run / count:,.0f} ns per message |"
            )
    return {_COMMUNICATOR_ROW: lines} if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=2000, help="calls per batch")
    parser.add_argument("--repeats", type=int, default=7, help="batches (median kept)")
    args = parser.parse_args()
    print(f"{'exchange':<18} {'messages':>8} {'ns/connection':>14} {'ns/message':>11}")
    for name, run, count in _exchanges():
        per_run = _time(run, args.loops, args.repeats)
        per_connection = "-" if name.endswith("steady") else f"{per_run:,.0f}"
        print(f"{name:<18} {count:>8} {per_connection:>14} {per_run / count:>11,.0f}")


if __name__ == "__main__":
    main()
