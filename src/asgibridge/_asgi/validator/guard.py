"""``guard(app)``: ASGI middleware that runs a live app under the spec validator.

Each connection gets its own `ConnectionValidator`; the guard wraps
``receive`` (what the server delivers is checked before the app sees it) and
``send`` (what the app sends is checked before the server sees it), and tells
the validator how the app returned.

Modes:

- ``"raise"`` (default): the first violation raises where it happened:
  `AppSpecError` out of ``send()`` (so the app's own traceback shows the bad
  call), `ServerSpecError` out of ``receive()`` or out of the guard for a bad
  scope. For tests.
- ``"warn"``: each violation is issued as an `AsgiSpecWarning` and collected
  in the report; messages pass through unchanged. For development servers.
- ``"collect"``: violations are only collected in the guard's `Report`.

Rules: the guard adds no task, no thread and no lock; the validator runs
inline in the connection's task. The report keeps the first `Report.keep`
violations of each rule on each connection and only counts the rest
(hazard: an app that breaks one rule on every chunk of an endless stream
would otherwise grow the report, and a long-lived ``"warn"`` guard, without
bound). An ``OSError`` from the server's ``send``
(spec 2.4: the client is gone) is passed on, and tells the validator that
the app may now stop half-way.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from ..._errors import AsgiSpecError, AsgiSpecWarning
from ..callables import AnyReceive, AnyScope, AnySend, guarantee_single_callable
from .machines import RULES, OnViolation, Violation, validator_for

__all__ = ("GuardedApp", "Mode", "Report", "expand_ignore", "format_violation", "guard")

Mode = Literal["raise", "warn", "collect"]
_MODES = ("raise", "warn", "collect")

_Receive = AnyReceive
_Send = AnySend


class Report:
    """Violations gathered by a guard (modes ``"warn"`` and ``"collect"``).

    A guard keeps the first ``keep`` violations of each rule on each
    connection in `violations` and counts the later repeats in `omitted`,
    so one connection can never make the report grow without bound. Past
    ``limit`` kept violations in all (a long-lived ``"warn"`` guard), every
    further one is only counted, under connection number 0.

    Args:
        keep: occurrences of one rule kept per connection (at least 1).
        limit: violations kept in all (at least 1).

    Example:
        >>> report = Report()
        >>> report.ok, len(report), report.omitted_count
        (True, 0, 0)
    """

    def __init__(self, keep: int = 3, limit: int = 10_000) -> None:
        for name, value in (("keep", keep), ("limit", limit)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        self.keep = keep
        self.limit = limit
        self.violations: list[Violation] = []
        # (connection number, rule id) -> repeats counted but not kept
        self.omitted: dict[tuple[int, str], int] = {}

    def add(self, violation: Violation) -> None:
        """Record one violation."""
        self.violations.append(violation)

    def add_repeat(self, connection: int, rule_id: str) -> None:
        """Count one more repeat of ``rule_id`` on a connection, beyond those kept."""
        if len(self.omitted) >= self.limit:
            connection = 0  # bounded too: later connections share one count per rule
        key = (connection, rule_id)
        self.omitted[key] = self.omitted.get(key, 0) + 1

    @property
    def omitted_count(self) -> int:
        """Repeats counted and not kept, over every rule and connection."""
        return sum(self.omitted.values())

    @property
    def ok(self) -> bool:
        """True when nothing was recorded."""
        return not self.violations

    def rule_ids(self) -> list[str]:
        """The ids of the broken rules, in the order they were broken."""
        return [v.rule.id for v in self.violations]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.violations.clear()
        self.omitted.clear()

    def omitted_notes(self) -> list[str]:
        """One line per rule and connection with repeats that were counted, not kept."""
        return [
            f"[{rule_id}] broken {count} more time(s) "
            + (f"on connection #{connection}" if connection else "on later connections")
            + " (not listed)"
            for (connection, rule_id), count in self.omitted.items()
        ]

    def format(self) -> str:
        """A readable multi-line summary, one block per violation."""
        if not self.violations:
            return "no ASGI spec violations"
        blocks = [format_violation(v) for v in self.violations]
        return "\n".join(blocks + self.omitted_notes())

    def as_dicts(self) -> list[dict[str, object]]:
        """The violations as JSON-ready dicts."""
        return [v.as_dict() for v in self.violations]

    def __len__(self) -> int:
        return len(self.violations)

    def __iter__(self) -> Iterator[Violation]:
        return iter(self.violations)


def format_violation(violation: Violation, indent: str = "") -> str:
    """Three lines: ``[rule] side: detail``, what was expected, the spec section."""
    rule = violation.rule
    if violation.index == 0:
        where = "scope"
    elif violation.event_type:
        where = f"{violation.event_type}, message #{violation.index}"
    else:
        where = f"after message #{violation.index}"
    return (
        f"{indent}[{rule.id}] {rule.side} broke the spec ({where}): "
        f"{violation.detail}\n"
        f"{indent}    expected: {rule.summary}\n"
        f"{indent}    spec: {rule.section.title} <{rule.section.url}>"
    )


class GuardedApp:
    """An ASGI 3 app that validates every connection of the app it wraps.

    Built by `guard`; see the module docstring for the modes.

    Attributes:
        app: the wrapped app, in ASGI 3 form.
        mode: ``"raise"``, ``"warn"`` or ``"collect"``.
        report: the `Report` violations are collected in (warn and collect).
        ignore: the rule ids that are not reported.

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):
        ...     await send({"type": "http.response.body", "body": b"no start"})
        >>> guarded = guard(app, mode="collect")
        >>> scope = {
        ...     "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        ...     "method": "GET", "path": "/", "query_string": b"", "headers": [],
        ... }
        >>> async def receive():
        ...     return {"type": "http.request"}
        >>> async def send(event):
        ...     pass
        >>> asyncio.run(guarded(scope, receive, send))
        >>> guarded.report.rule_ids()
        ['http.order.body-before-start', 'http.return.no-response']
    """

    _asgi_single_callable = True

    def __init__(
        self,
        app: Callable[..., Any],
        mode: Mode,
        report: Report,
        ignore: Iterable[str] = (),
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"guard mode must be one of {_MODES}, not {mode!r}")
        self.app = guarantee_single_callable(app)
        self.mode = mode
        self.report = report
        self.ignore = expand_ignore(ignore)
        self._connections = itertools.count(1)
        self._raise_sink: OnViolation | None = self._raise if self.ignore else None

    def _sink(self) -> OnViolation | None:
        """What the validator of a new connection reports to."""
        if self.mode == "raise":
            return self._raise_sink
        # Per connection: the count of each rule seen on it, bounded by the
        # number of rules (see `Report`).
        seen: dict[str, int] = {}
        number = next(self._connections)
        report, ignore, warn = self.report, self.ignore, self.mode == "warn"

        def record(violation: Violation) -> None:
            rule_id = violation.rule.id
            if rule_id in ignore:
                return
            count = seen[rule_id] = seen.get(rule_id, 0) + 1
            if count > report.keep or len(report.violations) >= report.limit:
                report.add_repeat(number, rule_id)
                return
            report.add(violation)
            if warn:
                warnings.warn(AsgiSpecWarning(str(violation)), stacklevel=_outside_level())

        return record

    def _raise(self, violation: Violation) -> None:
        if violation.rule.id not in self.ignore:
            raise violation.error()

    async def __call__(self, scope: AnyScope, receive: _Receive, send: _Send) -> None:
        validator = validator_for(scope, self._sink())
        if validator is None:  # a protocol the spec does not define: pass through
            await self.app(scope, receive, send)
            return

        async def checked_receive() -> Any:
            message = await receive()
            validator.receive(message)
            return message

        async def checked_send(message: Any) -> None:
            validator.send(message)
            try:
                await send(message)
            except OSError:
                validator.connection_closed()
                raise

        try:
            await self.app(scope, checked_receive, checked_send)
        except AsgiSpecError as exc:
            if exc.violation is None:  # not ours: the app's own failure
                validator.app_returned(exc)
            raise
        except BaseException as exc:
            validator.app_returned(exc)
            raise
        validator.app_returned(None)


# Modules whose frames a warning skips, so that it points at the app's own
# ``send()`` / ``receive()`` call (the validator reports from varying depths):
# the validator package, this module included.
_INTERNAL = __name__.rpartition(".")[0] + "."


def _outside_level() -> int:
    """The ``stacklevel`` of the first frame, above the caller, outside the guard and validator."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    return level


def expand_ignore(patterns: Iterable[str]) -> frozenset[str]:
    """Rule ids named by ``patterns``: exact ids, or prefixes ending in ``*``.

    Raises:
        ValueError: a pattern names no rule (a typo would silently ignore nothing).

    Example:
        >>> sorted(expand_ignore(["http.response.start.headers.lowercase-*"]))
        ['http.response.start.headers.lowercase-names']
    """
    if isinstance(patterns, str):
        patterns = (patterns,)
    ids: set[str] = set()
    for pattern in patterns:
        if pattern.endswith("*"):
            matched = {rid for rid in RULES if rid.startswith(pattern[:-1])}
        else:
            matched = {pattern} & RULES.keys()
        if not matched:
            raise ValueError(f"no ASGI rule matches {pattern!r} (see asgibridge.validation.RULES)")
        ids |= matched
    return frozenset(ids)


def guard(
    app: Callable[..., Any],
    *,
    mode: Mode = "raise",
    report: Report | None = None,
    ignore: Iterable[str] = (),
) -> GuardedApp:
    """Wrap an ASGI app (2 or 3) so that every connection is checked against the spec.

    Args:
        app: the ASGI application.
        mode: ``"raise"`` (default), ``"warn"`` or ``"collect"``.
        report: where to collect violations; a new `Report` if None. Read it
            back as ``guarded.report``.
        ignore: rule ids (or ``prefix*`` patterns) not to report, for known,
            accepted deviations (Django's capitalised response header names).

    Returns:
        A `GuardedApp` (an ASGI 3 app).

    Raises:
        ValueError: ``mode`` is not one of the three, or an ``ignore`` pattern
            names no rule.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarded = guard(app, mode="collect")
        >>> guarded.report.ok
        True
    """
    return GuardedApp(app, mode, report if report is not None else Report(), ignore)
