"""A server's side: reading the optional keys of scopes and sent events with ``.get``."""

from __future__ import annotations

from typing_extensions import assert_type

from asgibridge.typing import (
    ASGISendEvent,
    HTTPRequestEvent,
    HTTPScope,
    Scope,
    WebSocketCloseEvent,
    WebSocketScope,
)


def client_host(scope: HTTPScope) -> str | None:
    client = scope.get("client")
    return None if client is None else client[0]


def script_name(scope: Scope) -> str:
    if scope["type"] == "lifespan":
        return ""
    return scope.get("root_path", "")


def raw_path(scope: HTTPScope) -> bytes:
    raw = scope.get("raw_path")
    return raw if raw is not None else scope["path"].encode()


def server_port(scope: HTTPScope) -> int | None:
    server = scope.get("server")
    return None if server is None else server[1]


def wants_trailers(scope: HTTPScope) -> bool:
    extensions = scope.get("extensions") or {}
    return "http.response.trailers" in extensions


def subprotocols(scope: WebSocketScope) -> list[str]:
    return list(scope.get("subprotocols", []))


def query(scope: WebSocketScope) -> bytes:
    return scope.get("query_string") or b""


def body_done(event: HTTPRequestEvent) -> bool:
    more: bool = event.get("more_body", False)
    body: bytes = event.get("body", b"")
    return not more and not body


def response_bytes(send_event: ASGISendEvent) -> bytes:  # noqa: PLR0911 - one per event type
    """What a server writes for each event an app sends."""
    if send_event["type"] == "http.response.start":
        status = send_event["status"]
        headers = list(send_event.get("headers", []))
        lines = [b"HTTP/1.1 %d\r\n" % status]
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        return b"".join(lines)
    if send_event["type"] == "http.response.body":
        more = send_event.get("more_body", False)
        return send_event.get("body", b"") if not more else b""
    if send_event["type"] == "http.response.trailers":
        return b"".join(name for name, _ in send_event["headers"])
    if send_event["type"] == "websocket.send":
        text = send_event.get("text")
        if text is not None:
            return text.encode()
        return send_event.get("bytes") or b""
    if send_event["type"] == "websocket.accept":
        subprotocol = send_event.get("subprotocol")
        return (subprotocol or "").encode()
    if send_event["type"] == "lifespan.startup.failed":
        return send_event.get("message", "").encode()
    return b""


def close_code(event: WebSocketCloseEvent) -> tuple[int, str]:
    code = event.get("code", 1000)
    reason = event.get("reason") or ""
    assert_type(code, int)
    return code, reason
