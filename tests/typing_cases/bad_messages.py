"""Invalid ASGI messages: mypy --strict must report an error on every line marked ``# E``."""

from __future__ import annotations

from asgibridge.asgi_types import TLSExtension
from asgibridge.typing import (
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    WebSocketDisconnectEvent,
)

no_status: HTTPResponseStartEvent = {"type": "http.response.start"}  # E
str_status: ASGISendEvent = {"type": "http.response.start", "status": "200"}  # E
str_body: ASGISendEvent = {"type": "http.response.body", "body": "text"}  # E
str_headers: ASGISendEvent = {
    "type": "http.response.start",
    "status": 200,
    "headers": [("a", "b")],
}  # E
neither: ASGISendEvent = {"type": "websocket.send"}  # E
both: ASGISendEvent = {"type": "websocket.send", "bytes": b"x", "text": "x"}  # E
none_text: ASGIReceiveEvent = {"type": "websocket.receive", "text": None}  # E
unknown_type: ASGISendEvent = {"type": "http.response.begin", "status": 200}  # E
disconnect_sent: ASGISendEvent = {"type": "http.disconnect"}  # E
no_code: WebSocketDisconnectEvent = {"type": "websocket.disconnect"}  # E
pathsend_bytes: ASGISendEvent = {"type": "http.response.pathsend", "path": b"/x"}  # E
no_method: HTTPScope = {
    "type": "http",
    "asgi": {},
    "http_version": "1.1",
    "path": "/",
    "query_string": b"",
    "headers": [],
}  # E
bad_version: HTTPScope = {
    "type": "http",
    "asgi": {"version": "4.0"},
    "http_version": "1.1",
    "method": "GET",
    "path": "/",
    "query_string": b"",
    "headers": [],
}  # E
str_close_code: ASGISendEvent = {"type": "websocket.close", "code": "1000"}  # E
no_file: ASGISendEvent = {"type": "http.response.zerocopysend"}  # E
links_bytes: ASGISendEvent = {"type": "http.response.early_hint", "links": b"</a.css>"}  # E
no_trailer_headers: ASGISendEvent = {"type": "http.response.trailers"}  # E
bytes_message: ASGISendEvent = {"type": "lifespan.startup.failed", "message": b"db"}  # E
str_denial_body: ASGISendEvent = {"type": "websocket.http.response.body", "body": "no"}  # E
tls_partial: TLSExtension = {"server_cert": None}  # E


async def send_str_body(send: ASGISendCallable) -> None:
    await send({"type": "http.response.body", "body": "text"})  # E
