"""The test client's machinery: back-pressure of the exchange, and the portal's deadlines.

These pin the "never hang silently" and "bounded memory" rules that the
HTTP-level tests cannot observe directly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import asgibridge
from asgibridge._asgi.testing.exchange import HIGH_WATER, Body, HttpExchange
from asgibridge._runtime import Portal
from asgibridge.exceptions import (
    ApplicationTimeoutError,
    BridgeDeadlockError,
    ClientDisconnected,
    LoopUnavailableError,
)
from asgibridge.testclient import TestClient

Scope = dict[str, Any]


async def no_body() -> tuple[bytes, bool]:
    return b"", False


@pytest.mark.asyncio
async def test_send_waits_when_the_client_does_not_read() -> None:
    events: list[object] = []

    async def firehose(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})

    exchange = HttpExchange(firehose, {"type": "http"}, no_body, events.append)
    exchange.start()
    assert exchange.task is not None
    # Nothing reads: the app must stop at the high-water mark instead of growing.
    done, _ = await asyncio.wait({exchange.task}, timeout=0.1)
    assert not done
    assert sum(isinstance(e, Body) for e in events) == HIGH_WATER
    exchange.consumed()  # the client reads one chunk: the app may send one more
    await asyncio.wait({exchange.task}, timeout=0.1)
    assert sum(isinstance(e, Body) for e in events) == HIGH_WATER + 1
    exchange.disconnect()  # a blocked send() learns the client is gone
    await asyncio.wait({exchange.task}, timeout=5)
    assert isinstance(exchange.task.exception(), ClientDisconnected)


def test_portal_run_has_a_deadline() -> None:
    portal = Portal("deadline test")
    try:
        with pytest.raises(ApplicationTimeoutError, match="did not finish within"):
            portal.run(asyncio.Event().wait(), timeout=0.05, what="waiting forever")
        assert portal.alive()  # the stuck coroutine was cancelled, the loop lives on
    finally:
        portal.close()


def test_portal_refuses_to_wait_on_itself() -> None:
    portal = Portal("self-wait test")

    async def nested() -> None:
        portal.run(asyncio.sleep(0), timeout=1, what="nested")

    try:
        with pytest.raises(BridgeDeadlockError, match="its own loop thread"):
            portal.run(nested(), timeout=5, what="outer")
    finally:
        portal.close()


def test_closed_portal_raises_instead_of_hanging() -> None:
    portal = Portal("closed test")
    portal.close()
    with pytest.raises(LoopUnavailableError, match="closed or its thread died"):
        portal.run(asyncio.sleep(0), timeout=1, what="late call")


async def hello(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hi"})


def test_client_survives_a_runtime_shutdown_between_requests() -> None:
    client = TestClient(hello)
    try:
        assert client.get("/").text == "hi"
        asgibridge.shutdown()  # stops every loop thread, the client's included
        assert client.get("/").text == "hi"  # a new loop thread is started
    finally:
        client.close()


def test_httpx_is_imported_only_when_a_client_is_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, asgibridge.testclient as t\n"
        "assert 'httpx' not in sys.modules\n"
        "t.TestClient\n"
        "assert 'httpx' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
