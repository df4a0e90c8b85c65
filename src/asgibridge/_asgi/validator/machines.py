"""The sans-I/O ASGI validator: pick the state machine for a scope, feed it messages.

Entry point `validator_for(scope)`; the machines live in `http`,
`websocket` and `lifespan`, the shared plumbing in
`base`, the key checks in `checks`, and the rule
catalogue in `rules`.

Rules: no asyncio, no threading, no I/O (``tests/test_spec_data.py`` checks
the imports, and runs this module in a process that must stay free of both).
The caller (the guard, the ``check`` command, a server, a test) owns the
connection and calls `ConnectionValidator.send` / `ConnectionValidator.receive`
in the order the messages happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .base import ConnectionValidator, OnViolation
from .checks import describe
from .http import HTTPValidator
from .lifespan import LifespanValidator
from .rules import RULES, Rule, Violation
from .websocket import WebSocketValidator

__all__ = (
    "RULES",
    "VALIDATORS",
    "ConnectionValidator",
    "HTTPValidator",
    "LifespanValidator",
    "OnViolation",
    "Rule",
    "Violation",
    "WebSocketValidator",
    "validator_for",
)

VALIDATORS: Mapping[str, type[ConnectionValidator]] = MappingProxyType(
    {
        "http": HTTPValidator,
        "websocket": WebSocketValidator,
        "lifespan": LifespanValidator,
    }
)


def validator_for(
    scope: Mapping[str, Any], on_violation: OnViolation | None = None
) -> ConnectionValidator | None:
    """Build the validator for one connection and check its scope.

    Args:
        scope: the connection scope.
        on_violation: called with each `Violation`; None raises the first one.

    Returns:
        An `HTTPValidator`, `WebSocketValidator` or `LifespanValidator`; None
        for a scope type the spec does not define (another protocol: nothing
        to check) or, with ``on_violation``, for a scope too broken to use.

    Raises:
        ServerSpecError: the scope breaks the spec (with no ``on_violation``).

    Example:
        >>> v = validator_for({"type": "lifespan", "asgi": {"version": "3.0"}})
        >>> type(v).__name__
        'LifespanValidator'
    """
    if not isinstance(scope, dict):
        _report(on_violation, "scope.not-a-dict", describe(scope))
        return None
    stype = scope.get("type")
    if not isinstance(stype, str):
        _report(on_violation, "scope.type.missing", f"scope['type'] is {describe(stype)}")
        return None
    cls = VALIDATORS.get(stype)
    return None if cls is None else cls(scope, on_violation)


def _report(on_violation: OnViolation | None, rule_id: str, detail: str) -> None:
    violation = Violation(RULES[rule_id], detail, "", None, 0)
    if on_violation is None:
        raise violation.error()
    on_violation(violation)
