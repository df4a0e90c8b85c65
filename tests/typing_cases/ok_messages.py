"""Valid ASGI messages and scopes: mypy --strict must accept every line."""

from __future__ import annotations

import io
from typing import Any

from typing_extensions import assert_type

from asgibridge.asgi_types import TLSExtension
from asgibridge.typing import (
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPRequestEvent,
    HTTPScope,
    LifespanScope,
    WebSocketCloseEvent,
    WebSocketReceiveEvent,
    WebSocketScope,
)

# Optional keys may be left out (asgiref marks them Optional[...] but required).
request: HTTPRequestEvent = {"type": "http.request"}
start: ASGISendEvent = {"type": "http.response.start", "status": 200}
body: ASGISendEvent = {"type": "http.response.body"}
close: WebSocketCloseEvent = {"type": "websocket.close"}
accept: ASGISendEvent = {"type": "websocket.accept"}
failed: ASGISendEvent = {"type": "lifespan.startup.failed"}

# Extension events are in the send union (asgiref leaves pathsend out).
pathsend: ASGISendEvent = {"type": "http.response.pathsend", "path": "/srv/file.txt"}
zerocopy: ASGISendEvent = {"type": "http.response.zerocopysend", "file": io.BytesIO()}
hint: ASGISendEvent = {"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]}
trailers: ASGISendEvent = {"type": "http.response.trailers", "headers": []}
push: ASGISendEvent = {"type": "http.response.push", "path": "/a.css", "headers": []}
debug: ASGISendEvent = {"type": "http.response.debug", "info": {"template": "x.html"}}
denial: ASGISendEvent = {"type": "websocket.http.response.start", "status": 403}

# WebSocket data: exactly one of bytes / text.
text_out: ASGISendEvent = {"type": "websocket.send", "text": "hi"}
bytes_out: ASGISendEvent = {"type": "websocket.send", "bytes": b"hi", "text": None}
text_in: ASGIReceiveEvent = {"type": "websocket.receive", "text": "hi"}
general: WebSocketReceiveEvent = {"type": "websocket.receive", "bytes": None, "text": "x"}

scope: HTTPScope = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "path": "/",
    "query_string": b"",
    "headers": [(b"host", b"example.com")],
}
ws_scope: WebSocketScope = {"type": "websocket", "asgi": {}, "path": "/", "headers": []}
lifespan_scope: LifespanScope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
tls: TLSExtension = {"server_cert": None, "tls_version": 0x0304, "cipher_suite": None}
https_scope: HTTPScope = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.5"},
    "http_version": "2",
    "method": "GET",
    "scheme": "https",
    "path": "/",
    "query_string": b"",
    "headers": [],
    "server": ("/run/app.sock", None),
    "extensions": {"tls": {"server_cert": None, "tls_version": 0x0304, "cipher_suite": None}},
}


def narrow(event: ASGIReceiveEvent) -> None:
    if event["type"] == "http.request":
        assert_type(event, HTTPRequestEvent)
        assert_type(event.get("body", b""), bytes)
    elif event["type"] == "websocket.receive":
        assert_type(event.get("text"), str | None)
    elif event["type"] == "websocket.disconnect":
        assert_type(event["code"], int)


async def respond(send: ASGISendCallable, extra: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": [], "trailers": False})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
