"""The lifespan part of ``python -m asgibridge check``: startup before, shutdown after.

The lifespan connection stays open while the other scenarios run (the spec
wants lifespan and requests on the same loop), as one task. Every wait on it
is bounded by the scenario timeout; on expiry the task is cancelled and the
result names the phase that did not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..validator.check_context import shorten
from ..validator.guard import guard
from .report import (
    ScenarioResult,
    abandon,
    add_violations,
    asgi_versions,
    describe_exc,
    stop_grace,
    stop_task,
)

__all__ = ("LifespanDriver",)


class LifespanDriver:
    """Plays the server side of one lifespan connection.

    Args:
        app: the ASGI 3 app (checked under its own guard).
        timeout: seconds each phase may take.
        ignore: rule ids not to report.

    Example:
        >>> async def app(scope, receive, send): raise RuntimeError("no lifespan")
        >>> driver = LifespanDriver(app, 1.0)
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        timeout: float,
        ignore: frozenset[str] = frozenset(),
    ) -> None:
        self.guarded = guard(app, mode="collect", ignore=ignore)
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self.running = False  # startup completed: a shutdown is owed
        self._phase = "lifespan.startup"
        self._reply: asyncio.Queue[str] = asyncio.Queue()
        self._shutdown = asyncio.Event()
        self._task: asyncio.Future[None] | None = None
        self._seen = 0
        self._abandoned = False

    async def _receive(self) -> dict[str, Any]:
        if self._phase == "lifespan.startup":
            self._phase = "waiting"
            return {"type": "lifespan.startup"}
        await self._shutdown.wait()
        await asyncio.sleep(0)  # an app that loops on receive() must not starve the loop
        while self._abandoned:
            await asyncio.get_running_loop().create_future()
        return {"type": "lifespan.shutdown"}

    async def _send(self, message: Any) -> None:
        etype = message.get("type") if isinstance(message, dict) else None
        await asyncio.sleep(0)  # as a server's send may: lets the phase deadline fire
        while self._abandoned:
            await asyncio.get_running_loop().create_future()  # see `_stop`
        await self._reply.put(etype if isinstance(etype, str) else shorten(etype))

    async def _answer(self, result: ScenarioResult, phase: str) -> str | None:
        """Wait for the app's reply to ``phase`` or the task's end, bounded."""
        assert self._task is not None
        getter: asyncio.Future[Any] = asyncio.ensure_future(self._reply.get())
        task: asyncio.Future[Any] = self._task
        try:
            done, _ = await asyncio.wait(
                {getter, task}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            getter.cancel()
        if getter in done:
            reply: str = getter.result()
            return reply
        if self._task not in done:
            result.status = "timeout"
            result.notes.append(f"no reply to {phase} after {self.timeout:g}s")
            await self._stop(result)
        return None

    async def startup(self) -> ScenarioResult:
        """Send ``lifespan.startup`` and report the app's answer."""
        result = ScenarioResult("lifespan startup")
        scope = {"type": "lifespan", "asgi": asgi_versions("2.0"), "state": self.state}
        self._task = asyncio.ensure_future(self.guarded(scope, self._receive, self._send))
        reply = await self._answer(result, "lifespan.startup")
        if reply == "lifespan.startup.complete":
            self.running = True
            result.notes.append("startup complete")
        elif reply is not None:
            result.notes.append(f"answered {reply}")
            if result.status == "ok" and reply == "lifespan.startup.failed":
                result.status = "error"
        elif result.status != "timeout":
            self._ended_early(result)
        self._collect(result)
        return result

    def _ended_early(self, result: ScenarioResult) -> None:
        assert self._task is not None
        exc = None if self._task.cancelled() else self._task.exception()
        if exc is not None:
            # Lifespan spec: raising before answering startup means "not supported".
            result.status = "skipped"
            result.notes.append(f"no lifespan support (the app raised {describe_exc(exc)})")
        else:
            result.notes.append("returned without answering lifespan.startup")

    async def shutdown(self) -> ScenarioResult:
        """Send ``lifespan.shutdown``, wait for the answer and for the app to return."""
        result = ScenarioResult("lifespan shutdown")
        self._shutdown.set()
        reply = await self._answer(result, "lifespan.shutdown")
        if reply is not None:
            result.notes.append("shutdown complete" if reply.endswith("complete") else reply)
            await self._finish(result)
        self._collect(result)
        return result

    async def _finish(self, result: ScenarioResult) -> None:
        assert self._task is not None
        done, _ = await asyncio.wait({self._task}, timeout=self.timeout)
        if not done:
            result.status = "timeout"
            result.notes.append(f"the app did not return {self.timeout:g}s after shutdown")
            await self._stop(result)
        elif not self._task.cancelled():
            exc = self._task.exception()
            if exc is not None:
                result.notes.append(f"then raised {describe_exc(exc)}")

    async def _stop(self, result: ScenarioResult | None = None) -> None:
        """Cancel the lifespan task and wait for it (bounded), so nothing is left running.

        An app that swallows the cancellation is abandoned after `stop_grace`:
        its sends park for good (no CPU, no memory growth).
        """
        if self._task is not None and not self._task.done():
            grace = stop_grace(self.timeout)
            if not await stop_task(self._task, grace):
                self._abandoned = True
                abandon(self._task)
                if result is not None:
                    result.notes.append(
                        f"the app ignored its cancellation for {grace:g}s and was abandoned"
                    )

    async def close(self) -> None:
        """Make sure the lifespan task is over (used when no shutdown is owed)."""
        if self._task is not None and not self._task.done():
            self._shutdown.set()
            await self._stop()

    def _collect(self, result: ScenarioResult) -> None:
        new = self.guarded.report.violations[self._seen :]
        self._seen += len(new)
        add_violations(result, new)
