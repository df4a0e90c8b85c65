"""Invalid ASGI messages: mypy --strict must report an error on every line marked ``# E``."""

from __future__ import annotations

from asgibridge.typing import (
    ASGIReceiveEvent,
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
