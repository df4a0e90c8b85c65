"""StatelessServer: a base for servers of connectionless protocols (asgiref.server's API).

A subclass implements ``handle()`` (read from its source: UDP, stdin, a
channel layer) and ``application_send()`` (deliver what an application
instance sends). For each message it calls
``get_or_create_application_instance(scope_id, scope)`` and puts the message
on the returned queue: one application instance per ``scope_id``.

Differences from asgiref, all behind the same names:

- ``max_applications`` is a hard limit: creating one more instance evicts the
  least recently used one first (asgiref allows one over). Eviction is O(1)
  (the instance table is ordered by last use), not a scan.
- A crashed instance is reported as soon as it ends (its task's done
  callback wakes the checker), through the overridable
  ``application_exception``, which logs with the full traceback on the
  ``asgibridge.server`` logger.
- ``arun()`` stops its checker and cancels the instances it leaves behind
  when ``handle()`` returns or fails, instead of leaving tasks running; a
  checker that fails (a raising ``application_exception``) stops ``handle()``
  and its exception is raised from ``arun()``.
- ``run()`` is ``asyncio.run(self.arun())``: no loop is made current, no
  deprecated loop API, so it works the same on 3.10 through 3.14+.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

from .callables import guarantee_single_callable

__all__ = ("StatelessServer",)

logger = logging.getLogger("asgibridge.server")

_STOP_GRACE = 5.0  # seconds instances get to finish after cancellation at arun() exit


class StatelessServer:
    """Base class of servers that create one application instance per scope id.

    Args:
        application: the ASGI application (2 or 3).
        max_applications: how many instances may live at once; creating one
            more shuts the least recently used one down first.

    Attributes:
        application_instances: ``scope_id -> {"input_queue", "future",
            "scope", "last_used"}``, least recently used first.
        application_checker_interval: seconds between checker sweeps (a
            crash is reported at once anyway).

    Example:
        >>> class Echo(StatelessServer):
        ...     async def handle(self):
        ...         queue = self.get_or_create_application_instance("a", {"type": "echo"})
        ...         queue.put_nowait({"type": "echo.message", "text": "hi"})
        ...         await asyncio.sleep(0.01)
        ...     async def application_send(self, scope, message):
        ...         print(message["text"])
        >>> async def app(scope, receive, send):
        ...     await send(await receive())
        >>> Echo(app).run()
        hi
    """

    application_checker_interval = 0.1

    def __init__(self, application: Any, max_applications: int = 1000) -> None:
        self.application = application
        self.max_applications = max_applications
        self.application_instances: OrderedDict[Any, dict[str, Any]] = OrderedDict()
        # Resolved by an instance's done callback: wakes the checker at once.
        self._wakeup: asyncio.Future[None] | None = None

    # -- main loop -------------------------------------------------------------------

    def run(self) -> None:
        """Run ``arun()`` in a new event loop until ``handle()`` returns (Ctrl-C exits)."""
        try:
            asyncio.run(self.arun())
        except KeyboardInterrupt:
            logger.info("Exiting due to Ctrl-C/interrupt")

    async def arun(self) -> None:
        """Run ``handle()`` and the application checker until ``handle()`` returns.

        If the checker fails (an ``application_exception`` override raised),
        ``handle()`` is cancelled and the checker's exception raised: a server
        that can no longer report crashed instances must not go on silently.

        Raises:
            Exception: whatever ``handle()`` (or the checker) raised.
        """
        checker = asyncio.ensure_future(self.application_checker())
        handler = asyncio.ensure_future(self.handle())
        try:
            await asyncio.wait({checker, handler}, return_when=asyncio.FIRST_COMPLETED)
            if not handler.done() and _failed(checker):
                handler.cancel()
                await asyncio.wait({handler}, timeout=_STOP_GRACE)
                checker.result()  # raises the checker's exception
            await handler
        finally:
            await self._stop_tasks(handler, checker)
            await self._sweep()  # report instances that crashed since the last sweep
            await self._stop_all_instances()

    @staticmethod
    async def _stop_tasks(*tasks: asyncio.Future[Any]) -> None:
        pending = {task for task in tasks if not task.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=_STOP_GRACE)
        for task in tasks:  # retrieve outcomes: no "exception never retrieved" logs
            if task.done() and not task.cancelled():
                task.exception()

    async def handle(self) -> None:
        """Read from the source and feed application instances (override this)."""
        raise NotImplementedError("You must implement handle()")

    async def application_send(self, scope: Any, message: Any) -> None:
        """Deliver a message an application instance sent (override this)."""
        raise NotImplementedError("You must implement application_send()")

    # -- application instances -------------------------------------------------------

    def get_or_create_application_instance(self, scope_id: Any, scope: Any) -> asyncio.Queue[Any]:
        """The input queue of the instance for ``scope_id``, created with ``scope`` if new.

        Must be called with the server's loop running (from ``handle()``).
        """
        details = self.application_instances.get(scope_id)
        if details is not None:
            details["last_used"] = time.time()
            self.application_instances.move_to_end(scope_id)
            return details["input_queue"]  # type: ignore[no-any-return]
        while self.application_instances and (
            len(self.application_instances) >= self.max_applications
        ):
            self.delete_oldest_application_instance()
        input_queue: asyncio.Queue[Any] = asyncio.Queue()
        application_instance = guarantee_single_callable(self.application)

        async def send(message: Any) -> None:
            await self.application_send(scope, message)

        future = asyncio.ensure_future(
            application_instance(scope=scope, receive=input_queue.get, send=send)
        )
        future.add_done_callback(self._instance_ended)
        self.application_instances[scope_id] = {
            "input_queue": input_queue,
            "future": future,
            "scope": scope,
            "last_used": time.time(),
        }
        return input_queue

    def _instance_ended(self, _: asyncio.Future[Any]) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def delete_oldest_application_instance(self) -> None:
        """Shut down the least recently used instance."""
        if self.application_instances:
            self.delete_application_instance(next(iter(self.application_instances)))

    def delete_application_instance(self, scope_id: Any) -> None:
        """Forget the instance for ``scope_id`` and cancel it if it still runs."""
        details = self.application_instances.pop(scope_id)
        if not details["future"].done():
            details["future"].cancel()

    async def application_checker(self) -> None:
        """Forget finished instances, reporting those that failed (runs until cancelled)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                # asyncio.wait, not wait_for: 3.11's wait_for can swallow a
                # cancellation that races with the wake-up (the checker would
                # then never stop).
                self._wakeup = loop.create_future()
                await asyncio.wait({self._wakeup}, timeout=self.application_checker_interval)
                await self._sweep()
        finally:
            self._wakeup = None

    async def _sweep(self) -> None:
        for scope_id, details in list(self.application_instances.items()):
            future = details["future"]
            if not future.done():
                continue
            # Forget it first: a reporter that raises must not get it again.
            if self.application_instances.get(scope_id) is details:
                del self.application_instances[scope_id]
            if not future.cancelled():
                exception = future.exception()
                if exception is not None:
                    await self.application_exception(exception, details)

    async def application_exception(
        self, exception: BaseException, application_details: dict[str, Any]
    ) -> None:
        """Called for every instance that raised; logs it with its traceback."""
        logger.error(
            "Exception inside application (scope %r): %s",
            application_details.get("scope"),
            exception,
            exc_info=(type(exception), exception, exception.__traceback__),
        )

    async def _stop_all_instances(self) -> None:
        await self._stop_tasks(*(d["future"] for d in self.application_instances.values()))


def _failed(task: asyncio.Future[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None
