"""The rule catalogue, the generated shape rules over all spec data, errors, and O(1) state."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from asgi_scopes import http_scope, lifespan_scope, run, ws_scope
from asgibridge._asgi.spec.model import Key
from asgibridge._asgi.validator.rules import key_rule_ids
from asgibridge.exceptions import AppSpecError, AsgiBridgeError, AsgiSpecError, ServerSpecError
from asgibridge.validation import RULES, SPEC, Violation, WebSocketValidator, validator_for


class Descriptor:
    """A file object with an OS descriptor (stdin's number), as zero-copy send needs."""

    def fileno(self) -> int:
        return 0


GOOD: dict[str, Any] = {
    "str": "x",
    "bytes": b"x",
    "int": 1000,
    "bool": False,
    "dict": {},
    "headers": [(b"a", b"b")],
    "host_port": ("h", 1),
    "server_addr": ("h", 1),
    "str_iterable": ["a"],
    "bytes_iterable": [b"a"],
    "file": Descriptor(),
}
BAD: dict[str, Any] = {
    "str": 1,
    "bytes": "x",
    "int": "1",
    "bool": 1,
    "dict": [],
    "headers": "x",
    "host_port": "x",
    "server_addr": 1,
    "str_iterable": "x",
    "bytes_iterable": b"x",
    "file": io.BytesIO(),  # has fileno(), but no descriptor behind it
}
SCOPES = {"http": http_scope, "websocket": ws_scope, "lifespan": lifespan_scope}


def _good(key: Key) -> Any:
    if key.choices:
        return key.choices[-1]
    if key.fields:
        return {f.name: _good(f) for f in key.fields if f.required}
    return "/abs" if key.name == "path" else GOOD[key.kind]


def _message(etype: str) -> dict[str, Any]:
    event = SPEC.EVENTS[etype]
    return {
        "type": etype,
        **{k.name: _good(k) for k in event.keys if k.required and k.name != "type"},
    }


def _shape_rules(rules: list[str], owner: str) -> list[str]:
    return [r for r in rules if r.startswith(owner) and r.endswith((".missing", ".type"))]


def _feed(protocol: str, sender: str, message: dict[str, Any]) -> list[str]:
    scope = SCOPES[protocol](extensions={n: {} for n in SPEC.EXTENSIONS if n != "tls"})
    if protocol == "lifespan":
        scope = lifespan_scope()
    return run(scope, ("send" if sender == "app" else "recv", message))


@pytest.mark.parametrize("etype", sorted(SPEC.EVENTS))
def test_every_event_key_has_working_missing_and_type_rules(etype: str) -> None:
    event = SPEC.EVENTS[etype]
    assert _shape_rules(_feed(event.protocol, event.sender, _message(etype)), etype) == []
    for key in event.keys:
        if key.name == "type" or key.kind == "any":
            continue
        ids = key_rule_ids(etype, key)
        wrong = {**_message(etype), key.name: BAD[key.kind]}
        assert ids["type"] in _feed(event.protocol, event.sender, wrong), key.name
        if key.required:
            missing = _message(etype)
            del missing[key.name]
            assert ids["missing"] in _feed(event.protocol, event.sender, missing), key.name


@pytest.mark.parametrize("protocol", sorted(SCOPES))
def test_every_scope_key_has_working_missing_and_type_rules(protocol: str) -> None:
    for key in SPEC.SCOPES[protocol].keys:
        if key.name == "type":
            continue
        ids = key_rule_ids(f"{protocol}.scope", key)
        assert ids["type"] in run(SCOPES[protocol](**{key.name: BAD[key.kind]})), key.name
        if key.required:
            scope = SCOPES[protocol]()
            del scope[key.name]
            assert ids["missing"] in run(scope), key.name


def test_rules_are_well_formed_and_counted() -> None:
    assert len(RULES) > 150
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.side in ("app", "server")
        assert rule.summary
        assert rule.section.url.startswith("https://asgi.readthedocs.io/")
    sides = {rule.side for rule in RULES.values()}
    assert sides == {"app", "server"}


def test_every_hand_written_rule_is_pinned_by_a_test() -> None:
    generated: set[str] = set()

    def walk(owner: str, keys: tuple[Key, ...]) -> None:
        for key in keys:
            generated.update(key_rule_ids(owner, key).values())
            walk(f"{owner}.{key.name}", key.fields)

    for proto, scope in SPEC.SCOPES.items():
        walk(f"{proto}.scope", scope.keys)
        walk(f"{proto}.scope.extensions.tls", SPEC.EXTENSIONS["tls"].fields)
    for etype, event in SPEC.EVENTS.items():
        walk(etype, event.keys)
        generated.add(f"{etype}.extension-not-offered")
    tests = Path(__file__).parent
    sources = "".join(
        p.read_text()
        for p in tests.glob("test_*.py")
        if p.name.startswith(("test_validator", "test_guard"))
    )
    unpinned = sorted(r for r in RULES if r not in generated and f'"{r}"' not in sources)
    assert unpinned == [], unpinned


@pytest.mark.parametrize(
    ("protocol", "direction", "message", "rule"),
    [
        ("websocket", "send", "text", "websocket.send.not-a-dict"),
        ("websocket", "recv", b"text", "websocket.receive.not-a-dict"),
        ("websocket", "send", {"type": "http.response.start"}, "websocket.send.unknown-type"),
        ("websocket", "recv", {"type": "websocket.accept"}, "websocket.receive.unknown-type"),
        ("lifespan", "send", None, "lifespan.send.not-a-dict"),
        ("lifespan", "recv", 1, "lifespan.receive.not-a-dict"),
    ],
)
def test_dispatch_rules(protocol: str, direction: str, message: Any, rule: str) -> None:
    assert run(SCOPES[protocol](), (direction, message)) == [rule]


def test_nothing_but_trailers_after_the_final_body() -> None:
    scope = http_scope(extensions={"http.response.trailers": {}})
    start = {"type": "http.response.start", "status": 200, "trailers": True}
    body = {"type": "http.response.body"}
    assert run(scope, ("send", start), ("send", body), ("send", body)) == [
        "http.order.after-final-body"
    ]


def test_errors_are_asgibridge_errors_and_value_errors() -> None:
    for cls in (AppSpecError, ServerSpecError):
        assert issubclass(cls, AsgiSpecError)
        assert issubclass(cls, AsgiBridgeError)
        assert issubclass(cls, ValueError)
    validator = validator_for(http_scope())
    assert validator is not None
    with pytest.raises(ValueError, match=r"\[http\.order\.body-before-start\]") as info:
        validator.send({"type": "http.response.body"})
    err = info.value
    assert isinstance(err, AppSpecError)
    assert err.args[0].startswith("[http.order.body-before-start]")
    assert "Expected:" in err.hint
    assert "response-start-send-event" in err.hint
    assert isinstance(err.violation, Violation)


def test_violation_as_dict_is_json_ready() -> None:
    seen: list[Violation] = []
    validator = validator_for(http_scope(method="get"), seen.append)
    assert validator is not None
    (violation,) = seen
    data = json.loads(json.dumps(violation.as_dict()))
    assert data["rule"] == "http.scope.method.uppercase"
    assert data["side"] == "server"
    assert data["index"] == 0
    assert data["url"].endswith("#http-connection-scope")


def test_validator_for_skips_protocols_the_spec_does_not_define() -> None:
    assert validator_for({"type": "mqtt"}) is None
    assert run({"no": "type"}) == ["scope.type.missing"]
    assert run(["http"]) == ["scope.not-a-dict"]
    with pytest.raises(ServerSpecError):
        validator_for({"type": None})


def _footprint(validator: object) -> dict[str, Any]:
    return {
        name: (type(value), len(value) if hasattr(value, "__len__") else None)
        for name, value in vars(validator).items()
        if name != "index"
    }


def test_state_does_not_grow_with_the_number_of_messages() -> None:
    validator = WebSocketValidator(ws_scope())
    validator.receive({"type": "websocket.connect"})
    validator.send({"type": "websocket.accept"})
    before = _footprint(validator)
    for _ in range(5000):
        validator.receive({"type": "websocket.receive", "text": "x"})
        validator.send({"type": "websocket.send", "bytes": b"x"})
    assert _footprint(validator) == before
    assert validator.index == 10002
