"""The HTTP state machine: scope checks, event shapes, ordering, returns, extensions."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from asgi_scopes import RETURN, http_scope, recv, run, send
from asgibridge.validation import AppSpecError, HTTPValidator, ServerSpecError, validator_for

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"x/y")]}
BODY = {"type": "http.response.body", "body": b"ok"}
REQUEST = {"type": "http.request", "body": b"", "more_body": False}
ALL_EXT = {
    name: {}
    for name in (
        "http.response.push",
        "http.response.zerocopysend",
        "http.response.pathsend",
        "http.response.early_hint",
        "http.response.trailers",
        "http.response.debug",
    )
}


class Descriptor:
    """A file object with an OS descriptor (stdin's number), as zero-copy send needs."""

    def fileno(self) -> int:
        return 0


def test_a_plain_exchange_breaks_no_rule() -> None:
    assert run(http_scope(), recv(REQUEST), send(START), send(BODY), RETURN) == []


def test_minimal_scope_and_messages_with_only_required_keys_pass() -> None:
    scope = {
        "type": "http",
        "asgi": {},
        "http_version": "2",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }
    steps = [
        recv({"type": "http.request"}),
        send({"type": "http.response.start", "status": 204}),
        send({"type": "http.response.body"}),
        RETURN,
    ]
    assert run(scope, *steps) == []


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"method": "get"}, "http.scope.method.uppercase"),
        ({"method": None}, "http.scope.method.type"),
        ({"http_version": "1.2"}, "http.scope.http_version.choice"),
        ({"scheme": ""}, "http.scope.scheme.non-empty"),
        ({"query_string": "a=1"}, "http.scope.query_string.type"),
        ({"path": b"/"}, "http.scope.path.type"),
        ({"raw_path": "/"}, "http.scope.raw_path.type"),
        ({"root_path": None}, "http.scope.root_path.type"),
        ({"headers": [("host", "x")]}, "http.scope.headers.type"),
        ({"headers": [(b"host",)]}, "http.scope.headers.type"),
        ({"headers": b"host: x"}, "http.scope.headers.type"),
        ({"headers": [(b":authority", b"x")]}, "http.scope.headers.no-pseudo"),
        ({"client": ("127.0.0.1", "80")}, "http.scope.client.type"),
        ({"client": ("127.0.0.1", None)}, "http.scope.client.type"),
        ({"server": ("127.0.0.1",)}, "http.scope.server.type"),
        ({"state": []}, "http.scope.state.type"),
        ({"extensions": None}, "http.scope.extensions.type"),
        ({"extensions": {"http.response.push": None}}, "http.scope.extensions.dict-values"),
        ({"asgi": {"version": "4.0"}}, "http.scope.asgi.version.choice"),
        ({"asgi": {"version": "3.0", "spec_version": 2.5}}, "http.scope.asgi.spec_version.type"),
        ({"asgi": "3.0"}, "http.scope.asgi.type"),
    ],
)
def test_scope_violations_are_the_servers(overrides: dict[str, Any], rule: str) -> None:
    assert run(http_scope(**overrides)) == [rule]
    with pytest.raises(ServerSpecError) as info:
        validator_for(http_scope(**overrides))
    assert info.value.rule_id == rule


@pytest.mark.parametrize("key", ["type", "asgi", "http_version", "method", "path", "headers"])
def test_missing_required_scope_keys(key: str) -> None:
    scope = http_scope()
    del scope[key]
    expected = "scope.type.missing" if key == "type" else f"http.scope.{key}.missing"
    assert run(scope) == [expected]


def test_request_headers_may_keep_their_case_but_response_headers_may_not() -> None:
    scope = http_scope(headers=[(b"Host", b"example.com")])  # "should", not "must"
    start = {"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"x")]}
    assert run(scope, send(start), send(BODY)) == ["http.response.start.headers.lowercase-names"]


def test_unix_socket_server_address_needs_spec_2_2() -> None:
    assert run(http_scope(server=("/tmp/sock", None))) == []
    old = http_scope(server=("/tmp/sock", None), asgi={"version": "3.0", "spec_version": "2.1"})
    assert run(old) == ["http.scope.server.unix-socket-since-2.2"]


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ({"type": "http.response.start", "status": "200"}, "http.response.start.status.type"),
        ({"type": "http.response.start", "status": True}, "http.response.start.status.type"),
        (
            {"type": "http.response.start", "status": 600},
            "http.response.start.status.status-range",
        ),
        ({"type": "http.response.start", "status": 42}, "http.response.start.status.status-range"),
        ({"type": "http.response.start"}, "http.response.start.status.missing"),
        (
            {"type": "http.response.start", "status": 200, "headers": [(b"x", b"a\r\nb: c")]},
            "http.response.start.headers.no-ctl",
        ),
        (
            {"type": "http.response.start", "status": 200, "headers": [(b":status", b"200")]},
            "http.response.start.headers.no-pseudo",
        ),
        (
            {"type": "http.response.start", "status": 200, "trailers": "yes"},
            "http.response.start.trailers.type",
        ),
        (
            {"type": "http.response.start", "status": 200, "headers": {b"a": b"b"}},
            "http.response.start.headers.type",
        ),
    ],
)
def test_response_start_shape(message: dict[str, Any], rule: str) -> None:
    assert run(http_scope(), recv(REQUEST), send(message))[:1] == [rule]


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ({"type": "http.response.body", "body": "text"}, "http.response.body.body.type"),
        ({"type": "http.response.body", "body": bytearray(b"x")}, "http.response.body.body.type"),
        ({"type": "http.response.body", "more_body": 1}, "http.response.body.more_body.type"),
    ],
)
def test_response_body_shape(message: dict[str, Any], rule: str) -> None:
    assert run(http_scope(), send(START), send(message)) == [rule]


def test_request_event_shape_is_the_servers() -> None:
    message = {"type": "http.request", "body": "text"}
    assert run(http_scope(), recv(message)) == ["http.request.body.type"]
    with pytest.raises(ServerSpecError):
        HTTPValidator(http_scope()).receive(message)


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        ([send(BODY)], ["http.order.body-before-start"]),
        ([send(START), send(START), send(BODY)], ["http.order.start-twice"]),
        ([send(START), send(BODY), send(BODY)], ["http.order.after-response-complete"]),
        ([send(START), send(BODY), send(START)], ["http.order.start-twice"]),
        ([send(START), RETURN], ["http.return.incomplete-response"]),
        ([recv(REQUEST), RETURN], ["http.return.no-response"]),
        (
            [send(START), send({"type": "http.response.body", "more_body": True}), RETURN],
            ["http.return.incomplete-response"],
        ),
        ([recv({"type": "http.disconnect"}), RETURN], []),
        ([send(START), ("closed", None), RETURN], []),
        ([send(START), ("return", RuntimeError("boom"))], []),
    ],
)
def test_response_order(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(http_scope(), *steps) == rules


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        ([recv(REQUEST), recv(REQUEST)], ["http.order.request-after-body-complete"]),
        (
            [recv({"type": "http.disconnect"}), recv(REQUEST)],
            ["http.order.request-after-disconnect"],
        ),
        (
            [recv({"type": "http.request", "more_body": True}), recv(REQUEST)],
            [],
        ),
        ([recv({"type": "http.disconnect"}), recv({"type": "http.disconnect"})], []),
        ([recv({"type": "websocket.receive", "text": "x"})], ["http.receive.unknown-type"]),
        ([recv({"type": "http.response.start", "status": 200})], ["http.receive.unknown-type"]),
        ([recv({"type": "myapp.event"})], []),  # custom namespaces are allowed (main spec)
        ([recv(["http.request"])], ["http.receive.not-a-dict"]),
    ],
)
def test_request_order_and_dispatch(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(http_scope(), *steps) == rules


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ({"type": "http.disconnect"}, "http.send.unknown-type"),
        ({"type": "websocket.send", "text": "x"}, "http.send.unknown-type"),
        ({"type": "myapp.event"}, "http.send.unknown-type"),
        ({"status": 200}, "http.send.unknown-type"),
        ("http.response.start", "http.send.not-a-dict"),
    ],
)
def test_app_sends_only_http_send_events(message: Any, rule: str) -> None:
    assert run(http_scope(), send(message)) == [rule]


def test_extension_events_need_the_extension() -> None:
    pathsend = {"type": "http.response.pathsend", "path": os.path.abspath("x")}
    assert run(http_scope(), send(START), send(pathsend)) == [
        "http.response.pathsend.extension-not-offered"
    ]
    assert run(http_scope(extensions=ALL_EXT), send(START), send(pathsend), RETURN) == []


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        # pathsend: once, complete, never mixed with body
        (
            [send(START), send({"type": "http.response.pathsend", "path": "rel"})],
            ["http.response.pathsend.path.absolute"],
        ),
        (
            [
                send(START),
                send({"type": "http.response.body", "more_body": True}),
                send({"type": "http.response.pathsend", "path": os.path.abspath("f")}),
            ],
            ["http.response.pathsend.mixed-with-body"],
        ),
        (
            [send({"type": "http.response.pathsend", "path": os.path.abspath("f")})],
            ["http.order.body-before-start"],
        ),
        # zerocopysend: like a body, mixable
        (
            [
                send(START),
                send(
                    {"type": "http.response.zerocopysend", "file": Descriptor(), "more_body": True}
                ),
                send({"type": "http.response.body"}),
                RETURN,
            ],
            [],
        ),
        (
            [send(START), send({"type": "http.response.zerocopysend", "file": b"data"})],
            ["http.response.zerocopysend.file.type"],
        ),
        # "An opened file descriptor object ... (e.g. not BytesIO)"
        (
            [send(START), send({"type": "http.response.zerocopysend", "file": io.BytesIO()})],
            ["http.response.zerocopysend.file.type"],
        ),
        (
            [
                send(START),
                send({"type": "http.response.zerocopysend", "file": Descriptor(), "offset": -1}),
            ],
            ["http.response.zerocopysend.offset.non-negative"],
        ),
        # push and early hints: between start and the final body
        (
            [send({"type": "http.response.push", "path": "/a", "headers": []})],
            ["http.response.push.before-start"],
        ),
        (
            [send(START), send(BODY), send({"type": "http.response.early_hint", "links": [b"x"]})],
            ["http.order.after-response-complete"],
        ),
        (
            [send({"type": "http.response.early_hint", "links": [b"</a>; rel=preload"]})],
            ["http.response.early_hint.before-start"],
        ),
        (
            [send(START), send({"type": "http.response.early_hint", "links": b"x"})],
            ["http.response.early_hint.links.type"],
        ),
        # debug: once, before start
        (
            [send(START), send({"type": "http.response.debug", "info": {}})],
            ["http.response.debug.after-start"],
        ),
        (
            [
                send({"type": "http.response.debug", "info": {}}),
                send({"type": "http.response.debug", "info": {}}),
            ],
            ["http.response.debug.twice"],
        ),
    ],
)
def test_extension_ordering(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(http_scope(extensions=ALL_EXT), *steps) == rules


def test_trailers_follow_the_final_body_when_announced() -> None:
    start = {"type": "http.response.start", "status": 200, "trailers": True}
    trailer = {"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]}
    scope = http_scope(extensions=ALL_EXT)
    assert run(scope, send(start), send(BODY), send(trailer), RETURN) == []
    assert run(scope, send(start), send(BODY), RETURN) == ["http.return.incomplete-response"]
    assert run(
        scope, send(start), send({"type": "http.response.body", "more_body": True}), send(trailer)
    ) == ["http.response.trailers.before-final-body"]
    assert run(scope, send(START), send(BODY), send(trailer)) == [
        "http.order.after-response-complete"
    ]
    assert run(
        scope, send(START), send({"type": "http.response.body", "more_body": True}), send(trailer)
    ) == ["http.response.trailers.not-announced"]
    assert run(http_scope(), send(start)) == ["http.response.start.trailers.not-offered"]


def test_tls_extension_is_checked_and_only_on_tls_schemes() -> None:
    tls = {"server_cert": None, "tls_version": 0x0304, "cipher_suite": 0x1301}
    assert run(http_scope(scheme="https", extensions={"tls": tls})) == []
    assert run(http_scope(extensions={"tls": tls})) == ["tls.non-tls-scheme"]
    partial = {"server_cert": None, "tls_version": "1.3", "cipher_suite": None}
    assert run(http_scope(scheme="https", extensions={"tls": partial})) == [
        "http.scope.extensions.tls.tls_version.type"
    ]
    assert run(http_scope(scheme="https", extensions={"tls": {}})) == [
        "http.scope.extensions.tls.server_cert.missing",
        "http.scope.extensions.tls.tls_version.missing",
        "http.scope.extensions.tls.cipher_suite.missing",
    ]


def test_one_shot_header_iterators_are_not_consumed() -> None:
    headers = iter([(b"content-type", b"x")])
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    assert run(http_scope(), send(start), send(BODY)) == []
    assert list(headers) == [(b"content-type", b"x")]  # still there for the server


def test_raise_mode_leaves_the_state_as_it_was() -> None:
    validator = HTTPValidator(http_scope())
    with pytest.raises(AppSpecError) as info:
        validator.send(BODY)
    assert info.value.rule_id == "http.order.body-before-start"
    assert not validator.started
    validator.send(START)
    validator.send(BODY)
    assert validator.complete


def test_zerocopysend_needs_an_open_file_with_a_descriptor(tmp_path: Path) -> None:
    scope = http_scope(extensions=ALL_EXT)
    with (tmp_path / "f").open("wb+") as file:
        event = {"type": "http.response.zerocopysend", "file": file, "count": 0}
        assert run(scope, send(START), send(event), RETURN) == []
    assert run(scope, send(START), send(event)) == ["http.response.zerocopysend.file.type"]
