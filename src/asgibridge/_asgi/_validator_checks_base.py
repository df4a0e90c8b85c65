"""Small shared pieces of the key checks: the missing-key marker, the context, `describe`.

A leaf under `_validator_checks` and `_validator_headers` so that neither
imports the other at run time. Sans-I/O.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ("MISSING", "CheckContext", "describe")

MISSING = object()


class CheckContext(Protocol):
    """What a value check may read from the connection, and how it reports."""

    spec_version: tuple[int, int]

    def flag(self, rule_id: str, detail: str, event_type: str | None) -> None: ...


def describe(value: object) -> str:
    """``type repr`` of a value, the repr cut short (for violation details).

    Example:
        >>> describe(b"x")
        "bytes b'x'"
    """
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
