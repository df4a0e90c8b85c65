"""``python -m asgibridge check``: drive an app through a fixed set of connections, guarded.

The app runs in-process, on one event loop, each connection under its own
`guard` in collect mode. Scenarios, in order: lifespan startup (or a note that
the app has none); ``GET``, ``HEAD``, a ``POST`` whose body comes in three
chunks, a ``POST`` whose client disconnects after the first chunk; a
websocket connect (then one text message and a client close, if accepted);
lifespan shutdown.

Rules: every wait has a deadline (``timeout`` per scenario): an app that does
not answer is cancelled and reported as a timeout naming what the harness was
waiting for, never a silent hang. The harness plays a spec-following server:
it offers the HTTP extensions (so apps may use them), returns
``http.disconnect`` once the response is complete, and raises an ``OSError``
subclass (`ClientGone`) from ``send`` once the client is gone (spec 2.4).
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..callables import guarantee_single_callable
from ..validator.guard import expand_ignore
from .findings import choose_host
from .lifespan import LifespanDriver
from .report import (
    CheckResult,
    ClientGone,
    ScenarioResult,
    describe_exc,
    run_guarded,
    stop_grace,
    www_scope,
)

__all__ = ("check_app", "load_app", "run_check")

_App = Callable[..., Awaitable[None]]

# name, method, body chunks, index of the chunk after which the client leaves
_HTTP_SCENARIOS: tuple[tuple[str, str, tuple[bytes, ...], int | None], ...] = (
    ("GET", "GET", (b"",), None),
    ("HEAD", "HEAD", (b"",), None),
    ("POST streamed body", "POST", (b"first,", b"second,", b"third"), None),
    ("POST client disconnect", "POST", (b"partial", b"never sent"), 1),
)


def load_app(target: str) -> Any:
    """Import ``"pkg.module:attr"`` (attr defaults to ``app``), as uvicorn does.

    The current directory is put on ``sys.path`` first, so local modules load.

    Args:
        target: ``"pkg.module:attr"``; ``attr`` may be dotted, and defaults to ``app``.

    Returns:
        The object named (normally an ASGI application).

    Raises:
        ImportError: the module cannot be imported.
        AttributeError: the module has no such attribute.

    Example:
        >>> load_app("asgibridge._asgi.check.scenarios:load_app") is load_app
        True
    """
    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: Any = importlib.import_module(module_name)
    for part in (attr or "app").split("."):
        obj = getattr(obj, part)
    return obj


class _Response:
    """What the app sent on one HTTP connection, as far as the harness needs."""

    def __init__(self) -> None:
        self.status: object = None
        self.body = 0
        self.trailers = False
        self.complete = asyncio.Event()

    def feed(self, message: Any) -> None:
        get = message.get if isinstance(message, dict) else {}.get
        etype = get("type")
        if etype == "http.response.start":
            self.status = get("status")
            self.trailers = get("trailers") is True
        elif etype in ("http.response.body", "http.response.zerocopysend"):
            body = get("body", b"")
            self.body += len(body) if isinstance(body, bytes) else 0
            if not get("more_body", False):
                self._final()
        elif etype == "http.response.pathsend":
            self._final()
        elif etype == "http.response.trailers" and not get("more_trailers", False):
            self.complete.set()

    def _final(self) -> None:
        if not self.trailers:
            self.complete.set()


async def _http(
    app: _App,
    spec: tuple[str, str, tuple[bytes, ...], int | None],
    path: str,
    state: dict[str, Any] | None,
    timeout: float,
    ignore: frozenset[str],
    host: str,
) -> ScenarioResult:
    name, method, chunks, leave_after = spec
    result = ScenarioResult(f"{name} {path}")
    last = len(chunks) - 1
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < last}
        for i, chunk in enumerate(chunks)
    ][:leave_after]
    response = _Response()
    gone = False

    async def receive() -> dict[str, Any]:
        nonlocal gone
        if pending:
            return pending.pop(0)
        if leave_after is None:
            await response.complete.wait()  # a live client stays until the response ends
        gone = True
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if gone:
            raise ClientGone("the client has disconnected")
        response.feed(message)

    def waiting_for() -> str:
        return "still sending the response" if response.status else "not sending a response"

    scope = www_scope("http", method, path, state, host)
    exc = await run_guarded(app, scope, receive, send, timeout, result, waiting_for, ignore)
    _http_notes(result, response, exc, leave_after is not None)
    return result


def _http_notes(
    result: ScenarioResult, response: _Response, exc: BaseException | None, left: bool
) -> None:
    if response.status is not None:
        result.notes.append(f"{response.status}, {response.body} body bytes")
    elif left:
        result.notes.append("no response (the client had left)")
    if exc is None:
        return
    if left:
        result.notes.append(f"raised after the disconnect (allowed): {describe_exc(exc)}")
    else:
        result.notes.append(f"the app raised {describe_exc(exc)}")
        if result.status == "ok":
            result.status = "error"


async def _websocket(
    app: _App,
    path: str,
    state: dict[str, Any] | None,
    timeout: float,
    ignore: frozenset[str],
    host: str,
) -> ScenarioResult:
    result = ScenarioResult(f"websocket {path}")
    replied = asyncio.Event()
    seen: dict[str, Any] = {"outcome": None, "code": 1000, "echoes": 0, "step": 0}

    async def receive() -> dict[str, Any]:
        seen["step"] += 1
        if seen["step"] == 1:
            return {"type": "websocket.connect"}
        await replied.wait()
        if seen["outcome"] == "accepted" and seen["step"] == 2:
            return {"type": "websocket.receive", "text": "hello from asgibridge check"}
        seen["gone"] = True
        return {"type": "websocket.disconnect", "code": seen["code"], "reason": ""}

    async def send(message: Any) -> None:
        if seen.get("gone"):
            raise ClientGone("the client has disconnected")
        _ws_feed(seen, replied, message)

    def waiting_for() -> str:
        return "not answering websocket.connect" if not replied.is_set() else "not returning"

    scope = www_scope("websocket", "GET", path, state, host)
    exc = await run_guarded(app, scope, receive, send, timeout, result, waiting_for, ignore)
    _ws_notes(result, seen, exc)
    return result


def _ws_feed(seen: dict[str, Any], replied: asyncio.Event, message: Any) -> None:
    get = message.get if isinstance(message, dict) else {}.get
    etype = get("type")
    if etype == "websocket.accept" and seen["outcome"] is None:
        seen["outcome"] = "accepted"
    elif etype == "websocket.send":
        seen["echoes"] += 1
    elif etype == "websocket.close":
        seen["outcome"] = seen["outcome"] or "closed"
        seen["code"] = get("code", 1000)
    elif etype == "websocket.http.response.start":
        seen["outcome"] = f"denied with HTTP {get('status')}"
        return
    elif etype == "websocket.http.response.body" and get("more_body", False):
        return
    replied.set()


def _ws_notes(result: ScenarioResult, seen: dict[str, Any], exc: BaseException | None) -> None:
    outcome = seen["outcome"]
    if outcome == "accepted":
        result.notes.append(f"accepted; {seen['echoes']} message(s) back")
    elif outcome == "closed":
        result.notes.append(f"closed before accept (code {seen['code']}): no websocket route?")
    elif outcome:
        result.notes.append(outcome)
    if exc is not None:
        if outcome is None and not result.violations:
            # "Applications should actively reject any protocol that they do not
            # understand with an Exception" (main spec): not a failure.
            result.status = "skipped"
            result.notes.append(f"the app rejects websockets ({describe_exc(exc)})")
        else:
            result.notes.append(f"the app raised {describe_exc(exc)}")
            if result.status == "ok":
                result.status = "error"


async def check_app(
    app: Any,
    *,
    path: str = "/",
    websocket_path: str | None = None,
    timeout: float = 10.0,
    target: str = "",
    ignore: Iterable[str] = (),
    host: str | None = None,
    strict: bool = False,
) -> CheckResult:
    """Run every scenario of the ``check`` command against ``app``, in this loop.

    Args:
        app: an ASGI 2 or 3 application.
        path: the HTTP path to request.
        websocket_path: the websocket path to connect to (default: ``path``).
        timeout: seconds each scenario (or lifespan phase) may take.
        target: how to name the app in the report.
        ignore: rule ids (or ``prefix*`` patterns) not to report (see `guard`).
        host: the ``Host`` header (and server name) of the check's requests;
            None: from Django's ``ALLOWED_HOSTS`` when the app loaded Django,
            else ``testserver`` (see `findings.choose_host`).
        strict: count warnings (violations servers tolerate) as failures.

    Returns:
        A `CheckResult`; ``result.ok`` is False on any error violation, app
        error or timeout (and, when ``strict``, on any warning).

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):
        ...     if scope["type"] != "http":
        ...         raise ValueError("http only")
        ...     await send({"type": "http.response.start", "status": 204})
        ...     await send({"type": "http.response.body"})
        >>> asyncio.run(check_app(app)).ok
        True
    """
    app3 = guarantee_single_callable(app)
    skip = expand_ignore(ignore)
    chosen, source = choose_host(host)
    result = CheckResult(
        target or getattr(app, "__qualname__", repr(app)),
        sorted(skip),
        strict=strict,
        host=chosen,
        host_from=source,
    )
    lifespan = LifespanDriver(app3, timeout, skip)
    try:
        result.scenarios.append(await lifespan.startup())
        state = lifespan.state if lifespan.running else None
        for spec in _HTTP_SCENARIOS:
            result.scenarios.append(await _http(app3, spec, path, state, timeout, skip, chosen))
        ws_path = path if websocket_path is None else websocket_path
        result.scenarios.append(await _websocket(app3, ws_path, state, timeout, skip, chosen))
        if lifespan.running:
            result.scenarios.append(await lifespan.shutdown())
    finally:
        await lifespan.close()
    return result


def run_check(app: Any, **options: Any) -> CheckResult:
    """`check_app` on a new event loop; for scripts and the CLI.

    Unlike ``asyncio.run``, the loop's end does not wait for tasks that refuse
    to be cancelled (an abandoned app, see `run_guarded`): they get one
    bounded grace and are dropped with the loop.

    Args:
        app: the ASGI application to check.
        **options: passed to `check_app` (``path``, ``websocket_path``, ``timeout``,
            ``target``, ``ignore``, ``host``, ``strict``).

    Returns:
        The `CheckResult` of every scenario.

    Example:
        >>> async def app(scope, receive, send): raise ValueError("nothing here")
        >>> run_check(app).ok
        False
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(check_app(app, **options))
    finally:
        _close(loop, stop_grace(float(options.get("timeout", 10.0))))


def _close(loop: asyncio.AbstractEventLoop, grace: float) -> None:
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=grace))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
