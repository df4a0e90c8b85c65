"""Small shared pieces of the key checks: the missing-key marker, the context, `describe`.

A leaf under `checks` and `headers` so that neither imports the other (a
circle, even one behind ``TYPE_CHECKING``, hides which of them is built on
the other): `HeaderPlan` is what `headers` reads of `checks.KeyPlan`. Sans-I/O.

`describe` and `shorten` build the text of a violation's detail from a value
the app or server sent, which may be hostile: a 5,000-deep nested list (its
full ``repr()`` raises `RecursionError`), a 50 MB ``bytearray`` (its full
``repr()`` costs several times its size), an object whose ``__repr__`` raises.
Both cost O(limit), never O(size of the value), and never raise.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ("MISSING", "CheckContext", "HeaderPlan", "describe", "shorten")

MISSING = object()

_LIMIT = 60  # characters of a value shown in a detail


class CheckContext(Protocol):
    """What a value check may read from the connection, and how it reports."""

    spec_version: tuple[int, int]

    def flag(self, rule_id: str, detail: str, event_type: str | None) -> None: ...


class HeaderPlan(Protocol):
    """What the header scan reads of a key's plan (`checks.KeyPlan` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def rule_type(self) -> str: ...

    @property
    def rule_ids(self) -> Mapping[str, str]: ...

    @property
    def header_checks(self) -> tuple[bool, ...]: ...


class _BoundedRepr(reprlib.Repr):
    """`reprlib.Repr` that also cuts bytes-like values before building their repr.

    reprlib has no ``repr_bytes`` / ``repr_bytearray``: it would fall back to
    the full ``repr()`` and only then cut it (hazard: memory in the size of the
    value). Containers are cut by ``maxlevel`` and the per-type counts.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = _LIMIT
        self.maxother = _LIMIT
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 4
        self.maxfrozenset = self.maxdeque = self.maxarray = 4

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, (bytes, bytearray, memoryview)):
            return _cut_bytes(x)
        if isinstance(x, str) and type(x) is not str:
            return self.repr_str(str.__str__(x[: _LIMIT + 1]), level)
        return super().repr1(x, level)

    def repr_instance(self, x: Any, level: int) -> str:
        # Any other object: its own __repr__ may recurse, raise or be huge.
        try:
            text = repr(x)
        except BaseException:  # RecursionError, or whatever a broken __repr__ raises
            return f"<{type(x).__name__} object>"
        return text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "..."


def _cut_bytes(value: bytes | bytearray | memoryview) -> str:
    try:
        head = bytes(value[: _LIMIT + 1])
    except (TypeError, ValueError):  # a multi-dimensional or released memoryview
        return f"<{type(value).__name__}>"
    text = repr(head)
    if len(value) > _LIMIT:
        text = text[:-1] + "..." + text[-1]
    return text


_REPR = _BoundedRepr()


def shorten(value: object) -> str:
    """A ``repr`` of ``value`` of at most about 60 characters, built in bounded time.

    Example:
        >>> shorten(b"x" * 1000)[:8], len(shorten(b"x" * 1000)) < 70
        ("b'xxxxxx", True)
        >>> deep = []
        >>> for _ in range(5000): deep = [deep]
        >>> shorten(deep)
        '[[[[...]]]]'
    """
    try:
        text = _REPR.repr(value)
    except BaseException:  # a container whose items break reprlib itself
        return f"<{type(value).__name__} object>"
    if len(text) > _LIMIT:
        text = text[: _LIMIT - 3] + "..."
    return text


def describe(value: object) -> str:
    """``type repr`` of a value, the repr cut short (for violation details).

    Example:
        >>> describe(b"x")
        "bytes b'x'"
    """
    return f"{type(value).__name__} {shorten(value)}"
