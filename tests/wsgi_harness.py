"""The server side of a WsgiToAsgi request, shared by the adapter tests (not a test module).

Types, the wait limit, the pool-stopping fixture (import it to make it
autouse in a module), a full ``http`` scope, a scripted ``Client``, a call
helper and a hello-world WSGI app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from asgibridge._runtime import stop_adapter_pools

Message = dict[str, Any]
StartResponse = Callable[..., Any]
WAIT = 10.0  # seconds any cross-thread wait in these tests may last before failing


@pytest.fixture(autouse=True)
def _stop_adapter_pools() -> Iterator[None]:
    yield
    stop_adapter_pools()


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    scope.update(changes)
    return scope


class Client:
    """The server side of one request: scripted body messages, recorded sends."""

    def __init__(self, *body: bytes, disconnect_after: int | None = None) -> None:
        self.body: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(body) - 1}
            for i, chunk in enumerate(body or (b"",))
        ]
        self.sent: list[Message] = []
        self.disconnect_after = disconnect_after  # sends before a disconnect is reported
        self.gone = asyncio.Event()
        self.gates: dict[int, asyncio.Future[None]] = {}  # body index -> released by the test

    async def receive(self) -> Message:
        if self.body:
            index = len(self.body)
            gate = self.gates.get(index)
            if gate is not None:
                await gate
            return self.body.pop(0)
        if self.disconnect_after is None:
            await self.gone.wait()
        else:
            while len(self.sent) < self.disconnect_after:
                await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def content(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def _call(app: Any, client: Client, **scope: Any) -> Client:
    await asyncio.wait_for(app(_scope(**scope), client.receive, client.send), WAIT)
    return client


def _hello(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
