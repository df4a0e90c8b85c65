"""The WebSocket state machine: handshake, data, close, denial, versions."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_scopes import RETURN, recv, run, send, ws_scope
from asgibridge._errors import with_notes
from asgibridge.validation import AppSpecError, WebSocketValidator

CONNECT = {"type": "websocket.connect"}
ACCEPT = {"type": "websocket.accept"}
TEXT_IN = {"type": "websocket.receive", "text": "hi"}
TEXT_OUT = {"type": "websocket.send", "text": "hi"}
CLOSE = {"type": "websocket.close", "code": 1000}
GONE = {"type": "websocket.disconnect", "code": 1000}
DENIAL_EXT = {"websocket.http.response": {}}
DENY = {"type": "websocket.http.response.start", "status": 403, "headers": []}
DENY_BODY = {"type": "websocket.http.response.body", "body": b"no"}


def test_a_full_session_breaks_no_rule() -> None:
    steps = [
        recv(CONNECT),
        send({"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]}),
        recv(TEXT_IN),
        send(TEXT_OUT),
        recv({"type": "websocket.receive", "bytes": b"\x00", "text": None}),
        send({"type": "websocket.send", "bytes": b"\x00"}),
        recv({"type": "websocket.disconnect", "code": 1005, "reason": "bye"}),
        RETURN,
    ]
    assert run(ws_scope(), *steps) == []


def test_minimal_scope_passes() -> None:
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "path": "/", "headers": []}
    assert run(scope, recv(CONNECT), send(CLOSE), RETURN) == []


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"http_version": "1.0"}, "websocket.scope.http_version.choice"),
        ({"scheme": ""}, "websocket.scope.scheme.non-empty"),
        ({"subprotocols": "chat"}, "websocket.scope.subprotocols.type"),
        ({"subprotocols": [b"chat"]}, "websocket.scope.subprotocols.type"),
        ({"query_string": "a"}, "websocket.scope.query_string.type"),
    ],
)
def test_scope_violations(overrides: dict[str, Any], rule: str) -> None:
    assert run(ws_scope(**overrides)) == [rule]


def test_query_string_may_be_none_in_websocket_scopes() -> None:
    assert run(ws_scope(query_string=None)) == []


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        (
            [recv(TEXT_IN)],
            ["websocket.order.first-not-connect", "websocket.order.receive-before-accept"],
        ),
        ([recv(CONNECT), recv(CONNECT)], ["websocket.order.connect-twice"]),
        ([recv(CONNECT), recv(TEXT_IN)], ["websocket.order.receive-before-accept"]),
        (
            [recv(CONNECT), send(ACCEPT), recv(GONE), recv(TEXT_IN)],
            ["websocket.order.receive-after-disconnect"],
        ),
        (
            [recv(CONNECT), send(ACCEPT), recv({"type": "websocket.receive", "text": None})],
            ["websocket.receive.exactly-one"],
        ),
        (
            [
                recv(CONNECT),
                send(ACCEPT),
                recv({"type": "websocket.receive", "text": "a", "bytes": b"a"}),
            ],
            ["websocket.receive.exactly-one"],
        ),
        (
            [recv(CONNECT), recv({"type": "websocket.disconnect"})],
            ["websocket.disconnect.code.missing"],
        ),
        ([recv(CONNECT), send(ACCEPT), recv(GONE), recv(GONE)], []),
    ],
)
def test_server_side_order(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(ws_scope(), *steps) == rules


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        # Answering before reading websocket.connect is allowed (Starlette's router does it).
        ([send(CLOSE), recv(CONNECT), RETURN], []),
        ([recv(CONNECT), send(TEXT_OUT)], ["websocket.order.send-before-accept"]),
        ([recv(CONNECT), send(ACCEPT), send(ACCEPT)], ["websocket.order.accept-twice"]),
        ([recv(CONNECT), send(CLOSE), send(ACCEPT)], ["websocket.order.accept-after-close"]),
        (
            [recv(CONNECT), send(ACCEPT), send(CLOSE), send(TEXT_OUT)],
            ["websocket.order.after-close"],
        ),
        ([recv(CONNECT), send(ACCEPT), send(CLOSE), send(CLOSE)], ["websocket.order.after-close"]),
        (
            [recv(CONNECT), send(ACCEPT), send({"type": "websocket.send"})],
            ["websocket.send.exactly-one"],
        ),
        (
            [recv(CONNECT), send(ACCEPT), send({"type": "websocket.send", "text": b"x"})],
            ["websocket.send.text.type"],
        ),
        (
            [recv(CONNECT), send({"type": "websocket.accept", "subprotocol": "graphql"})],
            ["websocket.accept.subprotocol.not-offered"],
        ),
        (
            [
                recv(CONNECT),
                send({"type": "websocket.accept", "headers": [(b"sec-websocket-protocol", b"x")]}),
            ],
            ["websocket.accept.headers.no-sec-websocket-protocol"],
        ),
        ([recv(CONNECT), RETURN], ["websocket.return.no-reply"]),
        ([recv(CONNECT), recv(GONE), RETURN], []),
        ([recv(CONNECT), ("return", ValueError("not for websockets"))], []),
        ([recv(CONNECT), send(ACCEPT), RETURN], []),  # the server closes the socket
        # After the server's disconnect a send is the spec's "send exception" race.
        ([recv(CONNECT), send(ACCEPT), recv(GONE), send(TEXT_OUT)], []),
    ],
)
def test_app_side_order(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(ws_scope(), *steps) == rules


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        (1000, True),
        (1011, True),
        (3000, True),
        (4999, True),
        (1005, False),
        (1006, False),
        (1015, False),
        (999, False),
        (2000, False),
        (5000, False),
    ],
)
def test_close_codes_an_endpoint_may_send(code: int, ok: bool) -> None:
    rules = run(
        ws_scope(), recv(CONNECT), send(ACCEPT), send({"type": "websocket.close", "code": code})
    )
    assert rules == ([] if ok else ["websocket.close.code.valid-close-code"])


def test_close_reason_fits_a_close_frame() -> None:
    ok = {"type": "websocket.close", "reason": "é" * 61}  # 122 bytes in UTF-8
    too_long = {"type": "websocket.close", "reason": "é" * 62}  # 124 bytes
    assert run(ws_scope(), recv(CONNECT), send(ACCEPT), send(ok)) == []
    assert run(ws_scope(), recv(CONNECT), send(ACCEPT), send(too_long)) == [
        "websocket.close.reason.max-reason-length"
    ]


@pytest.mark.parametrize(
    ("spec_version", "message", "sender", "rule"),
    [
        (
            "2.0",
            {"type": "websocket.accept", "headers": [(b"x-a", b"1")]},
            "send",
            "websocket.accept.headers.since",
        ),
        (
            "2.2",
            {"type": "websocket.close", "reason": "bye"},
            "send",
            "websocket.close.reason.since",
        ),
        (
            "2.4",
            {"type": "websocket.disconnect", "code": 1000, "reason": "bye"},
            "recv",
            "websocket.disconnect.reason.since",
        ),
    ],
)
def test_keys_newer_than_the_declared_spec_version(
    spec_version: str, message: dict[str, Any], sender: str, rule: str
) -> None:
    scope = ws_scope(asgi={"version": "3.0", "spec_version": spec_version})
    steps = [recv(CONNECT)] + ([send(ACCEPT)] if message["type"] != "websocket.accept" else [])
    assert rule in run(scope, *steps, (sender, message))
    # Empty values carry nothing new: frameworks send headers=[] / reason="" to any server.
    empty = dict(message)
    for key in ("headers", "reason"):
        if key in empty:
            empty[key] = [] if key == "headers" else ""
    assert rule not in run(scope, *steps, (sender, empty))


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        ([recv(CONNECT), send(DENY), send(DENY_BODY), RETURN], []),
        ([recv(CONNECT), send(DENY), RETURN], ["websocket.return.incomplete-denial"]),
        ([recv(CONNECT), send(ACCEPT), send(DENY)], ["websocket.order.denial-after-accept"]),
        ([recv(CONNECT), send(DENY), send(DENY)], ["websocket.order.denial-start-twice"]),
        ([recv(CONNECT), send(DENY_BODY)], ["websocket.order.denial-body-before-start"]),
        ([recv(CONNECT), send(DENY), send(ACCEPT)], ["websocket.order.message-during-denial"]),
        ([recv(CONNECT), send(DENY), send(TEXT_OUT)], ["websocket.order.message-during-denial"]),
        (
            [recv(CONNECT), send(DENY), send(DENY_BODY), send(DENY_BODY)],
            ["websocket.order.after-close"],
        ),
        ([recv(CONNECT), send(DENY), recv(TEXT_IN)], ["websocket.order.receive-before-accept"]),
        (
            [recv(CONNECT), send({**DENY, "status": 99})],
            ["websocket.http.response.start.status.status-range"],
        ),
    ],
)
def test_denial_response(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(ws_scope(extensions=DENIAL_EXT), *steps) == rules


def test_denial_needs_the_extension() -> None:
    assert run(ws_scope(), recv(CONNECT), send(DENY), send(DENY_BODY)) == [
        "websocket.http.response.start.extension-not-offered",
        "websocket.http.response.body.extension-not-offered",
    ]


def test_raise_mode_names_the_rule_and_the_section() -> None:
    validator = WebSocketValidator(ws_scope())
    validator.receive(CONNECT)
    with pytest.raises(AppSpecError) as info:
        validator.send(TEXT_OUT)
    err = info.value
    assert err.rule_id == "websocket.order.send-before-accept"
    assert err.section_url.endswith("specs/www.html#send-send-event")
    assert "websocket.send only after websocket.accept" in with_notes(err)
    assert validator.state == "handshake"
