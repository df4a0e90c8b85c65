"""Running an application's lifespan (startup/shutdown): `LifespanManager`.

`LifespanManager` plays the server side of the ASGI lifespan protocol (spec
2.0) for tests, embedding code and AsgiToWsgi (its application side, for apps
that do not speak it, is `middleware.LifespanMiddleware`).

Theory of operation (`LifespanManager`): the app runs as one task for the
manager's whole life. Its ``receive`` hands out ``lifespan.startup``, then
(when shutdown is asked) ``lifespan.shutdown``; what it sends, and its end,
arrive on one queue that the manager reads with a deadline. How the app
answers startup tells the cases apart:

- raised or returned *before calling receive()*: it does not support lifespan
  (`LifespanUnsupportedError`; the spec's "raise an exception" signal);
- ``lifespan.startup.failed``, or raised/returned after receive(): startup
  failed (`LifespanStartupError` with the app's message or exception);
- no answer in time: `ApplicationTimeoutError`; the app is cancelled (the
  message says so when it never even called receive()).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..._errors import (
    ApplicationTimeoutError,
    LifespanShutdownError,
    LifespanStartupError,
    LifespanUnsupportedError,
)
from ..._runtime import Expired, Portal, get_within, stop_task
from ..callables import guarantee_single_callable

__all__ = ("LifespanManager",)

_SCOPE_ASGI = {"version": "3.0", "spec_version": "2.0"}
_PORTAL_MARGIN = 5.0  # extra seconds the sync face waits beyond the manager's own deadline


class _Ended:
    """Queue marker: the application callable finished."""

    __slots__ = ()


class LifespanManager:
    """Run an ASGI app's lifespan: startup on enter, shutdown on exit.

    Args:
        app: the ASGI application (2 or 3).
        startup_timeout: seconds the app has to answer startup.
        shutdown_timeout: seconds the app has to answer shutdown.
        state: the dict given as ``scope["state"]`` (a new one if None);
            copy it shallowly into each request scope.

    Attributes:
        state: the lifespan state the app filled in during startup.
        supported: None before startup, then whether the app speaks lifespan.
        reported_failure: the app itself sent ``lifespan.startup.failed``
            (rather than raising: servers in "auto" mode take a raise during
            startup as "lifespan unsupported", as uvicorn does).

    Raises:
        LifespanUnsupportedError: (at startup) the app does not speak lifespan.
        LifespanStartupError / LifespanShutdownError: the app reported failure.
        ApplicationTimeoutError: the app did not answer in time.

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):
        ...     await receive()
        ...     scope["state"]["db"] = "connected"
        ...     await send({"type": "lifespan.startup.complete"})
        ...     await receive()
        ...     await send({"type": "lifespan.shutdown.complete"})
        >>> async def main():
        ...     async with LifespanManager(app) as manager:
        ...         return manager.state["db"]
        >>> asyncio.run(main())
        'connected'

        Sync code uses ``with LifespanManager(app) as manager:`` (the app then
        runs on a loop thread of the manager, ``manager.loop``).
    """

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.app = guarantee_single_callable(app)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.state: dict[str, Any] = state if state is not None else {}
        self.supported: bool | None = None
        self.reported_failure = False  # the app sent lifespan.startup.failed
        self._task: asyncio.Task[Any] | None = None
        self._sent: asyncio.Queue[Any] = asyncio.Queue()
        self._shutdown_asked = asyncio.Event()
        self._receives = 0
        self._started = False
        self._portal: Portal | None = None

    # -- the server side of the protocol -------------------------------------------

    async def _receive(self) -> dict[str, Any]:
        self._receives += 1
        if self._receives == 1:
            return {"type": "lifespan.startup"}
        await self._shutdown_asked.wait()
        if self._receives == 2:
            return {"type": "lifespan.shutdown"}
        await asyncio.Event().wait()  # nothing comes after shutdown: wait to be cancelled
        raise AssertionError("unreachable")

    async def _send(self, message: dict[str, Any]) -> None:
        await self._sent.put(message)

    async def _reply(self, phase: str, timeout: float) -> Any:
        try:
            return await get_within(self._sent, timeout)
        except Expired:
            pass
        assert self._task is not None
        stopped = await stop_task(self._task)
        hint = (
            f"The application never answered lifespan.{phase}"
            + ("" if stopped else " and ignores cancellation")
            + f"; raise {phase}_timeout if it is only slow."
        )
        if self._receives == 0:  # it never asked for lifespan.startup
            hint += (
                " It never called receive(): an app that does not speak lifespan should be "
                "wrapped in asgibridge.lifespan.LifespanMiddleware, or run without lifespan "
                "(TestClient(app, lifespan='off'))."
            )
        raise ApplicationTimeoutError(
            f"lifespan {phase} did not complete within {timeout} s.", hint
        )

    async def startup(self) -> dict[str, Any]:
        """Start the app's lifespan and wait for its startup answer.

        Returns:
            The lifespan state.
        """
        scope = {"type": "lifespan", "asgi": dict(_SCOPE_ASGI), "state": self.state}
        coro = self.app(scope, self._receive, self._send)
        self._task = contextvars.Context().run(asyncio.ensure_future, coro)
        self._task.add_done_callback(lambda _: self._sent.put_nowait(_Ended()))
        reply = await self._reply("startup", self.startup_timeout)
        if isinstance(reply, _Ended):
            self._startup_ended()
        kind = reply.get("type") if isinstance(reply, dict) else None
        if kind == "lifespan.startup.complete":
            self.supported = self._started = True
            return self.state
        if kind == "lifespan.startup.failed":
            self.supported = self.reported_failure = True
            await stop_task(self._task, self.shutdown_timeout)
            raise LifespanStartupError(
                f"lifespan startup failed: {reply.get('message') or '(no message)'}",
                "The application reported the failure (lifespan.startup.failed); fix the "
                "cause in its startup code.",
            )
        await stop_task(self._task)
        self.supported = False
        raise LifespanUnsupportedError(
            f"the application does not support the lifespan protocol: it answered "
            f"lifespan.startup with {kind or type(reply).__name__!r}.",
            "Expected lifespan.startup.complete or lifespan.startup.failed. Wrap it in "
            "asgibridge.lifespan.LifespanMiddleware, or run without lifespan.",
        )

    def _startup_ended(self) -> None:
        assert self._task is not None
        exc = None if self._task.cancelled() else self._task.exception()
        if self._receives == 0:
            self.supported = False
            what = f"raised {exc!r}" if exc is not None else "returned"
            raise LifespanUnsupportedError(
                f"the application does not support the lifespan protocol: it {what} on the "
                "lifespan scope before calling receive().",
                "Wrap it in asgibridge.lifespan.LifespanMiddleware(app, on_startup=..., "
                "on_shutdown=...) to run startup code, or run without lifespan "
                "(TestClient(app, lifespan='off')).",
            ) from exc
        self.supported = True
        what = f"raised {exc!r}" if exc is not None else "returned"
        raise LifespanStartupError(
            f"lifespan startup failed: the application {what} before sending "
            "lifespan.startup.complete.",
            "Its startup code failed; see the cause above.",
        ) from exc

    async def shutdown(self) -> None:
        """Ask the app to shut down and wait for its answer (no-op if not started)."""
        if not self._started or self._task is None:
            return
        self._started = False
        self._shutdown_asked.set()
        reply = await self._reply("shutdown", self.shutdown_timeout)
        task = self._task
        if isinstance(reply, _Ended):
            exc = None if task.cancelled() else task.exception()
            if exc is not None:
                raise LifespanShutdownError(
                    f"lifespan shutdown failed: the application raised {exc!r}.",
                    "Its shutdown code failed; see the cause above.",
                ) from exc
            return
        await asyncio.wait({task}, timeout=self.shutdown_timeout)
        await stop_task(task)
        if reply.get("type") == "lifespan.shutdown.failed":
            raise LifespanShutdownError(
                f"lifespan shutdown failed: {reply.get('message') or '(no message)'}",
                "The application reported the failure (lifespan.shutdown.failed).",
            )

    async def __aenter__(self) -> LifespanManager:
        await self.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    # -- the sync face ---------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the sync face runs the app on (None outside ``with``)."""
        return self._portal.loop if self._portal is not None else None

    def __enter__(self) -> LifespanManager:
        self._portal = Portal("LifespanManager")
        try:
            self._portal.run(
                self.startup(),
                timeout=self.startup_timeout + _PORTAL_MARGIN,
                what="lifespan startup",
            )
        except BaseException:
            self._portal.close()
            self._portal = None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        portal, self._portal = self._portal, None
        if portal is None:
            return
        try:
            portal.run(
                self.shutdown(),
                timeout=self.shutdown_timeout + _PORTAL_MARGIN,
                what="lifespan shutdown",
            )
        finally:
            portal.close()
