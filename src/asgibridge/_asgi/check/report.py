"""Results of ``python -m asgibridge check`` and the pieces every scenario shares.

`ScenarioResult` / `CheckResult` hold what happened and print it (text or
JSON); `run_guarded` runs one connection of the app under its own guard
(collect mode) with a deadline; `www_scope` builds the scopes the harness
sends. The scenarios themselves are in `scenarios`.

Deadlines that hold: every ``send`` and ``receive`` of the harness first
yields to the loop, as a real server's ``send`` does under flow control
(hazard: an app that streams forever and awaits only a ``send`` that never
suspends would never let the deadline fire). At the deadline the app is
cancelled; one that swallows the cancellation is given `stop_grace` more
and then abandoned, parked for good at its next ``send`` or ``receive``
(never answered again, so it holds no CPU and makes no more memory), and the
scenario's notes say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..spec.tables import SPEC_VERSIONS
from ..validator.guard import format_violation, guard
from ..validator.machines import RULES, Violation
from .findings import DEFAULT_HOST, TOLERATED, severity

__all__ = (
    "HTTP_EXTENSIONS",
    "CheckResult",
    "ClientGone",
    "ScenarioResult",
    "abandon",
    "add_violations",
    "asgi_versions",
    "describe_exc",
    "format_finding",
    "run_guarded",
    "stop_grace",
    "stop_task",
    "violation_dict",
    "www_scope",
)

Status = Literal["ok", "warnings", "violations", "error", "timeout", "skipped"]
_App = Callable[..., Awaitable[None]]

HTTP_EXTENSIONS = (
    "http.response.pathsend",
    "http.response.zerocopysend",
    "http.response.trailers",
    "http.response.early_hint",
    "http.response.push",
)


class ClientGone(OSError):
    """Raised by the harness's ``send`` once the simulated client has gone (spec 2.4)."""


@dataclass
class ScenarioResult:
    """What happened in one scenario.

    Attributes:
        name: the scenario, e.g. ``"GET /"`` or ``"lifespan startup"``.
        status: ``"ok"``, ``"skipped"``, ``"warnings"`` (only tolerated
            violations), ``"violations"``, ``"error"`` or ``"timeout"``.
        violations: the spec violations seen, in order (errors and warnings).
        notes: remarks that are not violations (e.g. "the app has no lifespan").

    Example:
        >>> import asyncio
        >>> from asgibridge.validation import check_app
        >>> async def app(scope, receive, send):
        ...     if scope["type"] != "http":
        ...         raise ValueError("http only")
        ...     await send({"type": "http.response.start", "status": 204})
        ...     await send({"type": "http.response.body"})
        >>> result = asyncio.run(check_app(app))
        >>> [(s.name, s.status) for s in result.scenarios][:2]
        [('lifespan startup', 'skipped'), ('GET /', 'ok')]
        >>> ScenarioResult("GET /").as_dict()
        {'name': 'GET /', 'status': 'ok', 'notes': [], 'violations': []}
    """

    name: str
    status: Status = "ok"
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "status": self.status,
            "notes": list(self.notes),
            "violations": [violation_dict(v) for v in self.violations],
        }


def violation_dict(violation: Violation) -> dict[str, object]:
    """A violation's JSON form with its ``severity`` (and the spec's sentence for warnings)."""
    data = violation.as_dict()
    data["severity"] = severity(violation.rule.id)
    tolerated = TOLERATED.get(violation.rule.id)
    if tolerated is not None:
        data["spec_says"] = tolerated.spec_says
        data["tolerated_because"] = tolerated.why
    return data


def format_finding(violation: Violation, indent: str) -> str:
    """`format_violation` under its severity, with the spec's sentence for a warning."""
    text = f"{indent}{severity(violation.rule.id)}: " + format_violation(
        violation, indent=indent
    ).lstrip(" ")
    tolerated = TOLERATED.get(violation.rule.id)
    if tolerated is not None:
        text += (
            f'\n{indent}    the spec says: "{tolerated.spec_says}"'
            f"\n{indent}    tolerated: {tolerated.why}"
        )
    return text


@dataclass
class CheckResult:
    """The outcome of `check_app`: one `ScenarioResult` per scenario.

    Attributes:
        target: what was checked (the ``module:attr`` string, or the app's name).
        ignored: rule ids that were not reported.
        scenarios: one result per scenario, in the order they ran.

    Example:
        >>> import asyncio
        >>> from asgibridge.validation import check_app
        >>> async def app(scope, receive, send):
        ...     if scope["type"] != "http":
        ...         raise ValueError("http only")
        ...     await send({"type": "http.response.start", "status": 204})
        ...     await send({"type": "http.response.body"})
        >>> result = asyncio.run(check_app(app))
        >>> result.ok, result.violation_count
        (True, 0)
        >>> result.format().splitlines()[-1]
        'OK: 0 violation(s).'
    """

    target: str
    ignored: list[str] = field(default_factory=list)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    strict: bool = False
    host: str = DEFAULT_HOST
    host_from: str = "default"

    @property
    def violation_count(self) -> int:
        """Violations over all scenarios (errors and warnings)."""
        return sum(len(s.violations) for s in self.scenarios)

    @property
    def warning_count(self) -> int:
        """Violations of rules real servers tolerate (see `findings`)."""
        return sum(severity(v.rule.id) == "warning" for s in self.scenarios for v in s.violations)

    @property
    def error_count(self) -> int:
        """Violations that break on real servers."""
        return self.violation_count - self.warning_count

    @property
    def ok(self) -> bool:
        """No error violation, app error or timeout; in ``strict`` mode no warning either."""
        passing = ("ok", "skipped") if self.strict else ("ok", "skipped", "warnings")
        return all(s.status in passing for s in self.scenarios)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (what ``--json`` prints)."""
        return {
            "target": self.target,
            "ok": self.ok,
            "violations": self.violation_count,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "strict": self.strict,
            "host": self.host,
            "rules": len(RULES),
            "ignored_rules": list(self.ignored),
            "spec_versions": dict(SPEC_VERSIONS),
            "scenarios": [s.as_dict() for s in self.scenarios],
        }

    def format(self) -> str:
        """The readable report (what the command prints without ``--json``)."""
        versions = ", ".join(f"{k} {v}" for k, v in SPEC_VERSIONS.items() if k != "tls")
        lines = [f"asgibridge check {self.target}  ({len(RULES)} rules; {versions})"]
        lines.append(f"  host: {self.host} ({self.host_from})")
        if self.ignored:
            lines.append(f"  ignoring: {', '.join(self.ignored)}")
        failing = ("violations", "error", "timeout", "warnings") if self.strict else None
        for s in self.scenarios:
            label = (
                "FAIL" if s.status in (failing or ("violations", "error", "timeout")) else s.status
            )
            lines.append(f"  {s.name:<28} {label:<8} {'; '.join(s.notes)}")
            lines.extend(format_finding(v, indent="      ") for v in s.violations)
        verdict = "OK" if self.ok else "FAILED"
        summary = f"{verdict}: {self.violation_count} violation(s)"
        if self.violation_count:
            summary += f": {self.error_count} error(s), {self.warning_count} warning(s)"
            if self.warning_count:
                summary += " (--strict fails on warnings)" if not self.strict else " (--strict)"
        lines.append(summary + ".")
        return "\n".join(lines)


def asgi_versions(spec_version: str) -> dict[str, str]:
    """``scope["asgi"]`` for an ASGI 3.0 server of the given sub-spec version."""
    return {"version": "3.0", "spec_version": spec_version}


def www_scope(
    kind: str, method: str, path: str, state: dict[str, Any] | None, host: str = DEFAULT_HOST
) -> dict[str, Any]:
    """An ``http`` or ``websocket`` scope with every key the spec defines, for ``host``."""
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": asgi_versions("2.5"),
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", host.encode("idna")), (b"user-agent", b"asgibridge-check")],
        "client": ("127.0.0.1", 50000),
        "server": (host, 80),
    }
    if kind == "http":
        scope["method"] = method
        scope["extensions"] = {name: {} for name in HTTP_EXTENSIONS}
    else:
        scope["subprotocols"] = []
        scope["extensions"] = {"websocket.http.response": {}}
    if state is not None:
        scope["state"] = dict(state)  # a shallow copy per connection, as the spec says
    return scope


def describe_exc(exc: BaseException) -> str:
    """``Type: message`` of an exception."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# Tasks that refused to stop: kept referenced for the life of the process.
# Hazard: dropped, the garbage collector would close their coroutines, and an
# app that swallows GeneratorExit too then reports "coroutine ignored
# GeneratorExit" (and asyncio "Task was destroyed but it is pending") at a
# random later point, far from the check that abandoned it.
_abandoned: list[asyncio.Future[Any]] = []


def abandon(task: asyncio.Future[Any]) -> None:
    """Keep a task that refused its cancellation (it stays parked, see `run_guarded`)."""
    _abandoned.append(task)


def stop_grace(timeout: float) -> float:
    """Seconds a cancelled app gets to end before it is abandoned."""
    return min(1.0, timeout / 10)


class _Gate:
    """The harness's side of one connection: yields on every call, parks once stopped."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False

    async def checkpoint(self) -> None:
        await asyncio.sleep(0)  # a server's send suspends; this lets deadlines fire
        while self.stopped:
            # Abandoned: never answer again (a cancellation still gets through).
            await asyncio.get_running_loop().create_future()


async def stop_task(task: asyncio.Future[Any], grace: float) -> bool:
    """Cancel ``task`` and wait at most ``grace`` seconds for it; True if it ended.

    Never waits longer (hazard: ``wait_for`` on a task that swallows its
    cancellation waits for it forever).
    """
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=grace)
    return bool(done)


async def run_guarded(
    app: _App,
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[Any], Awaitable[None]],
    timeout: float,
    result: ScenarioResult,
    waiting_for: Callable[[], str],
    ignore: frozenset[str] = frozenset(),
) -> BaseException | None:
    """Run one connection under a fresh guard with a deadline; return the app's exception.

    Violations go into ``result``; on timeout the app is stopped (see the
    module docstring) and the notes say what the harness was still waiting
    for (``waiting_for()``) and how the app was stopped.
    """
    guarded = guard(app, mode="collect", ignore=ignore)
    gate = _Gate()

    async def gated_receive() -> Any:
        await gate.checkpoint()
        return await receive()

    async def gated_send(message: Any) -> None:
        await gate.checkpoint()
        await send(message)

    task = asyncio.ensure_future(guarded(scope, gated_receive, gated_send))
    exc: BaseException | None = None
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()  # our caller was cancelled: do not leave the app running
        raise
    if not done:
        result.status = "timeout"
        result.notes.append(f"no end after {timeout:g}s: the app was {waiting_for()}")
        gate.stopped = True
        grace = stop_grace(timeout)
        if await stop_task(task, grace):
            result.notes.append("the app was stopped (cancelled)")
        else:
            abandon(task)
            result.notes.append(
                f"the app ignored its cancellation for {grace:g}s and was abandoned "
                "(parked at its next send or receive)"
            )
    elif task.cancelled():
        exc = asyncio.CancelledError("the app cancelled its own task")
    else:
        exc = task.exception()
        if exc is not None and not isinstance(exc, Exception):
            raise exc  # KeyboardInterrupt, SystemExit: not the app's report
    add_violations(result, guarded.report.violations)
    result.notes.extend(guarded.report.omitted_notes())
    return exc


def add_violations(result: ScenarioResult, violations: list[Violation]) -> None:
    """Append violations to a scenario; its status says whether any is an error."""
    result.violations.extend(violations)
    if result.status not in ("ok", "warnings") or not result.violations:
        return
    errors = any(severity(v.rule.id) == "error" for v in result.violations)
    result.status = "violations" if errors else "warnings"
