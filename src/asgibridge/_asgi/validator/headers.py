"""Header lists, checked in one pass: shape, lowercase names, pseudo headers, CR/LF/NUL.

Headers are the only part of a message whose size is not fixed by the spec,
and they sit on the hot path (every scope, every ``http.response.start``), so
the type check and every named header check run in a single loop over the
pairs instead of one loop per rule.

Rules: sans-I/O. A one-shot iterator is never iterated (that would take the
headers away from the server); any other non-sequence iterable is read once
into a tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .check_context import CheckContext, HeaderPlan, describe, shorten

__all__ = ("HEADER_CHECKS", "check_headers")

# The named checks this module implements (see `spec.model.Key.checks`).
HEADER_CHECKS = frozenset(("lowercase-names", "no-pseudo", "no-ctl", "no-sec-websocket-protocol"))


def _items(value: object) -> tuple[object, ...] | list[object] | None:
    """The pairs to scan; None when there is nothing the scan may look at."""
    if isinstance(value, (list, tuple)):
        return value
    if isinstance(value, Iterator):
        return None  # consuming it would take the headers away from the server
    assert isinstance(value, Iterable)
    return tuple(value)


def _has_ctl(text: bytes) -> bool:
    # Three memchr scans beat a regex call for header-sized strings.
    return b"\r" in text or b"\n" in text or b"\x00" in text


def _first_ctl(items: Iterable[Any]) -> str:
    """The detail for the first header holding CR, LF or NUL (the rare, slow path)."""
    for name, val in items:  # pairs of bytes: the caller checked them
        if _has_ctl(name) or _has_ctl(val):
            return f"header {shorten(name)} holds CR, LF or NUL (header injection)"
    raise AssertionError("no header holds CR, LF or NUL")  # pragma: no cover


def check_headers(
    plan: HeaderPlan, value: object, ctx: CheckContext, event_type: str | None
) -> bool:
    """Check a headers value against its type and the plan's named header checks.

    Returns:
        False when the value is not a headers iterable (its type rule was flagged).
    """
    items: tuple[object, ...] | list[object] | None
    if type(value) is list or type(value) is tuple:  # the usual case, without ABC checks
        items = value
    elif isinstance(value, (str, bytes, dict)) or not isinstance(value, Iterable):
        ctx.flag(plan.rule_type, f"`{plan.name}` is {describe(value)}", event_type)
        return False
    else:
        items = _items(value)
        if items is None:
            return True
    lower, pseudo, ctl, secws = plan.header_checks
    found: dict[str, str] = {}
    for item in items:
        if (type(item) is not tuple and type(item) is not list) or len(item) != 2:
            ctx.flag(plan.rule_type, f"header item is {describe(item)}", event_type)
            return False
        name, val = item
        if type(name) is not bytes or type(val) is not bytes:
            ctx.flag(plan.rule_type, f"header item is {describe(item)}", event_type)
            return False
        if lower and name != name.lower():
            found.setdefault("lowercase-names", f"header name {shorten(name)} is not lowercased")
        if pseudo and name[:1] == b":":
            found.setdefault("no-pseudo", f"pseudo header {shorten(name)} is present")
        if secws and name.lower() == b"sec-websocket-protocol":
            found.setdefault(
                "no-sec-websocket-protocol", "sec-websocket-protocol is set as a header"
            )
    # CR/LF/NUL: one scan of all names and values joined, in C, instead of six
    # `in` tests per header in Python; the slow path names the header.
    if ctl and items and _has_ctl(b"".join(map(b"".join, items))):  # type: ignore[arg-type]
        found.setdefault("no-ctl", _first_ctl(items))
    for check, detail in found.items():
        ctx.flag(plan.rule_ids[check], detail, event_type)
    return True
