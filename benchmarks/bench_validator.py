"""Cost of the sans-I/O ASGI validator per message (asgiref has none to compare with).

Standalone: ``python benchmarks/bench_validator.py`` (pin it for stable numbers:
``taskset -c 0 python benchmarks/bench_validator.py``). Prints, for each
exchange, the nanoseconds one connection costs (scope check included) and
that cost divided by the messages it carries. Messages are prebuilt; only the
validator runs inside the timed loop.

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
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from asgibridge.validation import validator_for

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loops", type=int, default=2000, help="calls per batch")
    parser.add_argument("--repeats", type=int, default=7, help="batches (median kept)")
    args = parser.parse_args()
    rows = [
        ("http", _exchange(HTTP_SCOPE, HTTP_MESSAGES), len(HTTP_MESSAGES)),
        ("websocket", _exchange(WS_SCOPE, WS_MESSAGES), len(WS_MESSAGES)),
        ("websocket-steady", _steady(10), 20),
    ]
    print(f"{'exchange':<18} {'messages':>8} {'ns/connection':>14} {'ns/message':>11}")
    for name, run, count in rows:
        per_run = _time(run, args.loops, args.repeats)
        per_connection = "-" if name.endswith("steady") else f"{per_run:,.0f}"
        print(f"{name:<18} {count:>8} {per_connection:>14} {per_run / count:>11,.0f}")


if __name__ == "__main__":
    main()
