"""The validator's rule catalogue: every rule id, whose fault it is, what it expects.

Two kinds of rules, one catalogue (`RULES`):

- *Shape rules*, generated from `spec.tables`: for every key of every scope, event
  and nested dict, ``<owner>.<key>.missing`` (required key absent),
  ``.type`` (wrong value type), ``.choice`` (value not among those the spec
  lists), ``.since`` (key newer than the declared ``spec_version``) and one
  rule per named value check (``.uppercase``, ``.status-range``...). The owner
  is the event type, or ``<protocol>.scope``.
- *Order rules*, written by hand in `order_rules`: what may be sent when
  (``http.order.body-before-start``...), what an app must have done when it
  returns (``http.return.no-response``...), and per-protocol dispatch rules.

Rules: ids are stable (tests pin them; renaming one is a breaking change).
A rule's side says who broke the spec: ``"app"`` raises `AppSpecError`,
``"server"`` raises `ServerSpecError`. Sans-I/O: no asyncio, no threading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..spec.ext import S_TLS_WHEN
from ..spec.tables import (
    EVENTS,
    EXTENSIONS,
    S_APPLICATIONS,
    S_ERROR_HANDLING,
    S_EVENTS,
    S_PROTOCOLS,
    SCOPES,
    Key,
    Section,
    Sender,
)
from .order_rules import ORDER_RULES

if TYPE_CHECKING:
    from ..._errors import AsgiSpecError

__all__ = ("CHECK_SUMMARIES", "KIND_NAMES", "RULES", "Rule", "Violation", "key_rule_ids")


@dataclass(frozen=True)
class Rule:
    """One rule of the validator.

    Args:
        id: stable identifier (``"http.order.body-before-start"``).
        side: ``"app"`` or ``"server"``: whose fault a violation is.
        summary: what the spec expects, in one sentence.
        section: where the spec says so.

    Example:
        >>> RULES["http.order.body-before-start"].side
        'app'
    """

    id: str
    side: Sender
    summary: str
    section: Section


@dataclass(frozen=True)
class Violation:
    """One broken rule, as seen on one connection.

    Args:
        rule: the `Rule` broken.
        detail: what was seen, in words.
        protocol: the scope type of the connection.
        event_type: the offending event's type (None for the scope or a return).
        index: 0 for the scope, n for the n-th message on the connection.

    Example:
        >>> v = Violation(RULES["http.order.body-before-start"], "body first", "http", None, 1)
        >>> v.error().rule_id
        'http.order.body-before-start'
    """

    rule: Rule
    detail: str
    protocol: str
    event_type: str | None
    index: int

    @property
    def side(self) -> Sender:
        """``"app"`` or ``"server"``."""
        return self.rule.side

    def error(self) -> AsgiSpecError:
        """The exception for this violation: `AppSpecError` or `ServerSpecError`."""
        # Imported here, not at the top: on Python 3.10 `_errors` imports
        # asyncio.exceptions (for ApplicationTimeoutError), which loads all of
        # asyncio and threading; the validator itself must stay free of both.
        from ..._errors import AppSpecError, ServerSpecError

        cls = AppSpecError if self.rule.side == "app" else ServerSpecError
        return cls(
            f"[{self.rule.id}] {self.detail}",
            f"Expected: {self.rule.summary} (ASGI spec: {self.rule.section}).",
            rule_id=self.rule.id,
            section_url=self.rule.section.url,
            violation=self,
        )

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict of this violation."""
        return {
            "rule": self.rule.id,
            "side": self.rule.side,
            "protocol": self.protocol,
            "event": self.event_type,
            "index": self.index,
            "detail": self.detail,
            "expected": self.rule.summary,
            "section": self.rule.section.title,
            "url": self.rule.section.url,
        }

    def __str__(self) -> str:
        return str(self.error())


KIND_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "str": "a Unicode string (str)",
        "bytes": "a byte string (bytes)",
        "int": "an int (not a bool)",
        "bool": "a bool",
        "dict": "a dict",
        "headers": "an iterable of [name, value] pairs of bytes",
        "host_port": "a [host: str, port: int] pair",
        "server_addr": "a [host: str, port: int | None] pair",
        "str_iterable": "an iterable of str (not a str)",
        "bytes_iterable": "an iterable of bytes (not bytes)",
        "file": "an open file object with an OS descriptor (fileno() works: not BytesIO)",
        "any": "any value",
    }
)

CHECK_SUMMARIES: Mapping[str, str] = MappingProxyType(
    {
        "uppercase": "is uppercased",
        "non-empty": "is not empty when present",
        "no-pseudo": "holds no HTTP/2 pseudo header (name starting with ':')",
        "lowercase-names": "has lowercased header names",
        "no-ctl": "has no CR, LF or NUL in header names or values (RFC 9110 section 5.5)",
        "status-range": "is a three-digit HTTP status, 100 to 599 (RFC 9110 section 15)",
        "valid-close-code": "is a close code an endpoint may send: 1000-1003, 1007-1014 "
        "or 3000-4999 (RFC 6455 section 7.4)",
        "max-reason-length": "fits a close frame: at most 123 bytes once UTF-8 encoded "
        "(RFC 6455 section 5.5)",
        "no-sec-websocket-protocol": "has no sec-websocket-protocol header (use subprotocol)",
        "absolute": "is an absolute file path",
        "non-negative": "is not negative",
        "dict-values": "maps every extension name to a dict",
        "unix-socket-since-2.2": "uses a None port (unix socket) only with spec_version >= 2.2",
    }
)


def key_rule_ids(owner: str, key: Key) -> dict[str, str]:
    """The shape rule ids of one key, by suffix (``missing``, ``type``, ...)."""
    base = f"{owner}.{key.name}"
    ids = {"type": f"{base}.type"}
    if key.required:
        ids["missing"] = f"{base}.missing"
    if key.choices:
        ids["choice"] = f"{base}.choice"
    if key.since:
        ids["since"] = f"{base}.since"
    for check in key.checks:
        ids[check] = f"{base}.{check}"
    return ids


def _key_rules(owner: str, key: Key, side: Sender, section: Section) -> Iterator[Rule]:
    ids = key_rule_ids(owner, key)
    what = f"`{key.name}` in {owner}"
    if key.required:
        yield Rule(ids["missing"], side, f"{what} is present (the spec requires it)", section)
    kind = KIND_NAMES[key.kind] + (" or None" if key.nullable else "")
    yield Rule(ids["type"], side, f"{what} is {kind}", section)
    if key.choices:
        allowed = ", ".join(repr(c) for c in key.choices)
        yield Rule(ids["choice"], side, f"{what} is one of {allowed}", section)
    if key.since:
        yield Rule(
            ids["since"], side, f"{what} is only sent with spec_version >= {key.since}", section
        )
    for check in key.checks:
        yield Rule(ids[check], side, f"{what} {CHECK_SUMMARIES[check]}", section)
    for field in key.fields:
        yield from _key_rules(f"{owner}.{key.name}", field, side, section)


def _shape_rules() -> Iterator[Rule]:
    for scope in SCOPES.values():
        for key in scope.keys:
            if key.name != "type":
                yield from _key_rules(f"{scope.type}.scope", key, "server", scope.section)
        for ext in EXTENSIONS.values():
            if scope.type in ext.protocols:
                for field in ext.fields:
                    owner = f"{scope.type}.scope.extensions.{ext.name}"
                    yield from _key_rules(owner, field, "server", ext.section)
    for event in EVENTS.values():
        for key in event.keys:
            if key.name != "type":
                yield from _key_rules(event.type, key, event.sender, event.section)
        if event.extension:
            yield Rule(
                f"{event.type}.extension-not-offered",
                "app",
                f"{event.type} is sent only when scope['extensions'] offers {event.extension!r}",
                EXTENSIONS[event.extension].section,
            )


def _dispatch_rules() -> Iterator[Rule]:
    yield Rule("scope.not-a-dict", "server", "the scope is a dict", S_APPLICATIONS)
    yield Rule(
        "scope.type.missing", "server", "scope['type'] is a str naming the protocol", S_PROTOCOLS
    )
    for proto in SCOPES:
        yield Rule(f"{proto}.send.not-a-dict", "app", "every sent event is a dict", S_EVENTS)
        yield Rule(
            f"{proto}.send.unknown-type",
            "app",
            f"the app sends only {proto} send events (or offered extension events); "
            "a server raises on an unknown type",
            S_ERROR_HANDLING,
        )
        yield Rule(f"{proto}.receive.not-a-dict", "server", "every event is a dict", S_EVENTS)
        yield Rule(
            f"{proto}.receive.unknown-type",
            "server",
            f"receive() returns only {proto} receive events (custom namespaces aside)",
            S_PROTOCOLS,
        )
    yield Rule(
        "tls.non-tls-scheme",
        "server",
        "the tls extension is offered only on TLS connections (scheme https or wss)",
        S_TLS_WHEN,
    )


def _order_rules() -> Iterator[Rule]:
    for rule_id, side, summary, section in ORDER_RULES:
        yield Rule(rule_id, side, summary, section)


def _build() -> Mapping[str, Rule]:
    rules: dict[str, Rule] = {}
    for rule in (*_shape_rules(), *_dispatch_rules(), *_order_rules()):
        if rule.id in rules:
            raise AssertionError(f"duplicate rule id {rule.id}")  # a bug in the tables
        rules[rule.id] = rule
    return MappingProxyType(rules)


RULES: Mapping[str, Rule] = _build()
