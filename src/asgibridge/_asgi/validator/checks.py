"""Key-by-key checks of scopes and events, compiled once from the spec data.

`KeyPlan` is one `spec.tables.Key` turned into what the hot path needs: the type
predicate, the rule ids, the version gate and the value checks, all resolved
at import. `check_keys` runs a tuple of plans over one dict; its cost is one
``dict.get`` and one type test per key the spec defines for that event, plus
a pass over header lists: independent of how many messages came before.

Rules: sans-I/O (no asyncio, no threading). A one-shot iterator (a generator
of headers) is never iterated here: consuming it would take the data away
from the server, so its items go unchecked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType

from ..spec.tables import EVENTS, EXTENSIONS, SCOPES, Key, parse_version
from .check_context import MISSING, CheckContext, describe, shorten
from .headers import HEADER_CHECKS, check_headers
from .rules import key_rule_ids

CheckFn = Callable[[object, CheckContext], "str | None"]

__all__ = (
    "EVENT_PLANS",
    "KIND_CHECKS",
    "MISSING",
    "SCOPE_PLANS",
    "TLS_PLANS",
    "VALUE_CHECKS",
    "CheckContext",
    "KeyPlan",
    "check_keys",
    "describe",
)

# --- value types -------------------------------------------------------------


def _is_pair(value: object, port_optional: bool) -> bool:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return False
    host, port = value
    if not isinstance(host, str):
        return False
    if port is None:
        return port_optional
    return isinstance(port, int) and not isinstance(port, bool)


def _is_iterable_of(value: object, item_type: type) -> bool:
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        return False
    if isinstance(value, Iterator):
        return True  # a one-shot iterator: reading it would consume the data
    return all(isinstance(item, item_type) for item in value)


def _has_descriptor(value: object) -> bool:
    """A file object whose ``fileno()`` gives an OS descriptor (Zero Copy Send: "not BytesIO")."""
    fileno = getattr(value, "fileno", None)
    if not callable(fileno):
        return False
    try:
        fd = fileno()  # reads an attribute of the file object: no I/O
    except (OSError, ValueError):  # io.UnsupportedOperation (BytesIO), or a closed file
        return False
    return isinstance(fd, int) and not isinstance(fd, bool) and fd >= 0


KIND_CHECKS: Mapping[str, Callable[[object], bool]] = MappingProxyType(
    {
        "str": lambda v: isinstance(v, str),
        "bytes": lambda v: isinstance(v, bytes),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: v is True or v is False,
        "dict": lambda v: isinstance(v, dict),
        "headers": lambda v: True,  # checked by `check_headers`, in one pass with its rules
        "host_port": lambda v: _is_pair(v, port_optional=False),
        "server_addr": lambda v: _is_pair(v, port_optional=True),
        "str_iterable": lambda v: _is_iterable_of(v, str),
        "bytes_iterable": lambda v: _is_iterable_of(v, bytes),
        "file": _has_descriptor,
        "any": lambda v: True,
    }
)

# --- value checks (run only once the type is right) ---------------------------


def _uppercase(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, str)
    return None if value == value.upper() else f"method {shorten(value)} is not uppercased"


def _non_empty(value: object, ctx: CheckContext) -> str | None:
    return None if value else "the value is empty"


def _status_range(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, int)
    return None if 100 <= value <= 599 else f"status {value} is outside 100-599"


_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))


def _valid_close_code(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, int)
    if value in _SENDABLE_CODES or 3000 <= value <= 4999:
        return None
    return f"close code {value} may not be sent by an endpoint"


def _max_reason_length(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, str)
    size = len(value.encode("utf-8", "surrogatepass"))
    return None if size <= 123 else f"reason is {size} bytes long in UTF-8"


def _absolute(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, str)
    return None if os.path.isabs(value) else f"path {shorten(value)} is relative"


def _non_negative(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, int)
    return None if value >= 0 else f"value {value} is negative"


def _dict_values(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, dict)
    for name, entry in value.items():
        if not isinstance(entry, dict):
            return f"extension {shorten(name)} maps to {describe(entry)}"
    return None


def _unix_socket_since(value: object, ctx: CheckContext) -> str | None:
    assert isinstance(value, (list, tuple))
    if value[1] is None and ctx.spec_version < (2, 2):
        return "server port is None but spec_version is below 2.2"
    return None


VALUE_CHECKS: Mapping[str, CheckFn] = MappingProxyType(
    {
        "uppercase": _uppercase,
        "non-empty": _non_empty,
        "status-range": _status_range,
        "valid-close-code": _valid_close_code,
        "max-reason-length": _max_reason_length,
        "absolute": _absolute,
        "non-negative": _non_negative,
        "dict-values": _dict_values,
        "unix-socket-since-2.2": _unix_socket_since,
    }
)

# --- compiled plans ----------------------------------------------------------


class KeyPlan:
    """One key, ready for the hot path (see the module docstring)."""

    __slots__ = (
        "checks",
        "choices",
        "exact",
        "fields",
        "header_checks",
        "kind",
        "kind_ok",
        "name",
        "nullable",
        "required",
        "rule_choice",
        "rule_ids",
        "rule_missing",
        "rule_since",
        "rule_type",
        "scan",
        "simple",
        "since",
    )

    def __init__(self, owner: str, key: Key) -> None:
        ids = key_rule_ids(owner, key)
        self.name = key.name
        self.kind = key.kind
        self.kind_ok = KIND_CHECKS[key.kind]
        self.required = key.required
        self.nullable = key.nullable
        self.rule_missing = ids.get("missing", "")
        self.rule_type = ids["type"]
        self.choices = frozenset(key.choices)
        self.rule_choice = ids.get("choice", "")
        self.since = parse_version(key.since, (0, 0)) if key.since else None
        self.rule_since = ids.get("since", "")
        self.rule_ids = ids
        self.checks = tuple(
            (ids[name], VALUE_CHECKS[name]) for name in key.checks if name not in HEADER_CHECKS
        )
        # Fast path: a value of exactly this type passes the type test without a call.
        self.exact: type | None = _EXACT.get(key.kind)
        self.scan = check_headers if key.kind == "headers" else None
        self.header_checks = tuple(
            name in key.checks
            for name in ("lowercase-names", "no-pseudo", "no-ctl", "no-sec-websocket-protocol")
        )
        self.fields = tuple(KeyPlan(f"{owner}.{key.name}", f) for f in key.fields)
        # Nothing to check past the type: the hot loop moves on at once.
        self.simple = not (self.choices or self.since or self.checks or self.fields)


_EXACT: Mapping[str, type] = MappingProxyType(
    {"str": str, "bytes": bytes, "int": int, "bool": bool, "dict": dict}
)


def check_keys(
    plans: tuple[KeyPlan, ...],
    message: Mapping[str, object],
    ctx: CheckContext,
    event_type: str | None,
) -> None:
    """Check every key of ``message`` that the plans describe; report through ``ctx.flag``.

    Extra keys are ignored, as the spec requires ("Error Handling").
    """
    for plan in plans:
        value = message.get(plan.name, MISSING)
        if value is MISSING:
            if plan.required:
                ctx.flag(plan.rule_missing, f"`{plan.name}` is missing", event_type)
            continue
        if type(value) is not plan.exact:
            if value is None and plan.nullable:
                continue
            if plan.scan is not None:
                if not plan.scan(plan, value, ctx, event_type):
                    continue
            elif not plan.kind_ok(value):
                ctx.flag(plan.rule_type, f"`{plan.name}` is {describe(value)}", event_type)
                continue
        if plan.simple:
            continue
        _check_value(plan, value, ctx, event_type)


def _check_value(plan: KeyPlan, value: object, ctx: CheckContext, event_type: str | None) -> None:
    """Choices, version gate, named checks and nested fields of a well-typed value."""
    if plan.choices and value not in plan.choices:
        ctx.flag(plan.rule_choice, f"`{plan.name}` is {shorten(value)}", event_type)
    if plan.since is not None and value and ctx.spec_version < plan.since:
        detail = f"`{plan.name}` is set but the scope's spec_version is older"
        ctx.flag(plan.rule_since, detail, event_type)
    for rule_id, check in plan.checks:
        detail_or_none = check(value, ctx)
        if detail_or_none is not None:
            ctx.flag(rule_id, detail_or_none, event_type)
    if plan.fields:
        check_keys(plan.fields, value, ctx, event_type)  # type: ignore[arg-type]


def _plans(owner: str, keys: tuple[Key, ...]) -> tuple[KeyPlan, ...]:
    return tuple(KeyPlan(owner, key) for key in keys if key.name != "type")


SCOPE_PLANS: Mapping[str, tuple[KeyPlan, ...]] = MappingProxyType(
    {proto: _plans(f"{proto}.scope", scope.keys) for proto, scope in SCOPES.items()}
)
EVENT_PLANS: Mapping[str, tuple[KeyPlan, ...]] = MappingProxyType(
    {etype: _plans(etype, event.keys) for etype, event in EVENTS.items()}
)
TLS_PLANS: Mapping[str, tuple[KeyPlan, ...]] = MappingProxyType(
    {
        proto: _plans(f"{proto}.scope.extensions.tls", EXTENSIONS["tls"].fields)
        for proto in EXTENSIONS["tls"].protocols
    }
)
