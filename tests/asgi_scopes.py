"""Scopes and a tiny driver for the validator tests (not a test module)."""

from __future__ import annotations

from typing import Any

from asgibridge.validation import Violation, validator_for

ASGI = {"version": "3.0", "spec_version": "2.5"}


def http_scope(**overrides: Any) -> dict[str, Any]:
    """An ``http`` scope with every key the spec defines, valid as is."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": dict(ASGI),
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "state": {},
        "extensions": {},
    }
    scope.update(overrides)
    return scope


def ws_scope(**overrides: Any) -> dict[str, Any]:
    """A ``websocket`` scope with every key the spec defines, valid as is."""
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": dict(ASGI),
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "subprotocols": ["chat"],
        "extensions": {},
    }
    scope.update(overrides)
    return scope


def lifespan_scope(**overrides: Any) -> dict[str, Any]:
    """A ``lifespan`` scope."""
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    scope.update(overrides)
    return scope


def run(scope: Any, *steps: tuple[str, Any]) -> list[str]:
    """Feed ``steps`` (("recv"|"send", message) or ("return", exc)) in collect mode.

    Returns the ids of the rules broken, in order.
    """
    seen: list[Violation] = []
    validator = validator_for(scope, seen.append)
    if validator is None:
        return [v.rule.id for v in seen]
    for kind, payload in steps:
        if kind == "recv":
            validator.receive(payload)
        elif kind == "send":
            validator.send(payload)
        elif kind == "closed":
            validator.connection_closed()
        else:
            validator.app_returned(payload)
    return [v.rule.id for v in seen]


def recv(message: dict[str, Any]) -> tuple[str, Any]:
    return ("recv", message)


def send(message: dict[str, Any]) -> tuple[str, Any]:
    return ("send", message)


RETURN = ("return", None)
