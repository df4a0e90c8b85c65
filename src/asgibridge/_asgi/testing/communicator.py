"""ApplicationCommunicator: run one ASGI application instance and trade messages with it.

asgiref.testing.ApplicationCommunicator's API and defaults, with the fixes its
users asked for:

- ``receive_output(timeout, cancel_on_timeout=False)`` raises `TimeoutError`
  and leaves the application running, so a "nothing more to read yet" probe
  does not kill the connection (asgiref issue #417). The default stays
  asgiref's: a timeout cancels the application.
- The application's own exception is raised from ``send_input``,
  ``receive_output`` and ``wait`` as itself, with its traceback, and not
  chained onto an internal timeout.
- A timed wait never cancels the calling task, so ``Task.cancelling()`` is
  unchanged after a handled timeout, on every supported Python.
- An application that ignores cancellation cannot hang the test: waiting for
  it to stop is bounded too.
- ``validate=True`` checks every message in both directions against the ASGI
  spec (the validation guard).

Theory of operation: the application starts lazily as a task of the loop that
first needs it (so the communicator can be built outside any loop), in an
empty `contextvars.Context` (a server starts each connection in a fresh
context; the test's context variables must not leak into the app). Its
``receive`` is ``input_queue.get`` and its ``send`` is ``output_queue.put``.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..._errors import ApplicationNotRunningError, ApplicationTimeoutError
from ..._runtime import STOP_GRACE, Expired, get_within, stop_task
from ..callables import guarantee_single_callable

__all__ = ("ApplicationCommunicator",)


class ApplicationCommunicator:
    """Run an ASGI application in test mode: send it messages, read what it sends.

    Args:
        application: an ASGI 3 (or ASGI 2) application.
        scope: the connection scope given to it: a dict, or any of
            asgibridge.typing's scope types (``HTTPScope``, ...).
        validate: check every message against the ASGI spec (raises
            `AppSpecError` / `ServerSpecError`); off by default as in asgiref.

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):
        ...     message = await receive()
        ...     await send({"type": "echo", "got": message["type"]})
        >>> async def main():
        ...     comm = ApplicationCommunicator(app, {"type": "test"})
        ...     await comm.send_input({"type": "ping"})
        ...     return await comm.receive_output()
        >>> asyncio.run(main())
        {'type': 'echo', 'got': 'ping'}
    """

    def __init__(
        self,
        application: Callable[..., Any],
        scope: Mapping[str, Any],
        *,
        validate: bool = False,
    ) -> None:
        self._future: asyncio.Task[Any] | None = None
        self.application = guarantee_single_callable(application)
        if validate:
            from ..validator.guard import guard  # lazy: the spec tables load only when used

            self.application = guard(self.application, mode="raise")
        # Any scope type: asgibridge.typing's TypedDicts (an ``HTTPScope``) or
        # a plain dict. The app gets this very object, as in asgiref; ``scope``
        # stays a dict for tests that add keys (every TypedDict is one at run time).
        self.scope: dict[str, Any] = scope if isinstance(scope, dict) else dict(scope)
        self._input_queue: asyncio.Queue[Any] | None = None
        self._output_queue: asyncio.Queue[Any] | None = None
        self._cancelled_by_timeout = False

    @property
    def input_queue(self) -> asyncio.Queue[Any]:
        """Messages waiting for the application's ``receive()``."""
        if self._input_queue is None:
            self._input_queue = asyncio.Queue()
        return self._input_queue

    @property
    def output_queue(self) -> asyncio.Queue[Any]:
        """Messages the application sent and the test has not read yet."""
        if self._output_queue is None:
            self._output_queue = asyncio.Queue()
        return self._output_queue

    @property
    def future(self) -> asyncio.Task[Any]:
        """The application's task, started on first access (needs a running loop)."""
        if self._future is None:
            coro: Awaitable[Any] = self.application(
                self.scope, self.input_queue.get, self.output_queue.put
            )
            # A fresh Context: the test's context variables must not leak in.
            self._future = contextvars.Context().run(asyncio.ensure_future, coro)
        return self._future

    def _raise_if_crashed(self) -> None:
        future = self.future
        if not future.done():
            return
        if future.cancelled():
            # asgiref re-raises the task's CancelledError here (Channels' tests
            # expect it): ours is one, and says why the application is gone.
            if self._cancelled_by_timeout:
                raise ApplicationNotRunningError(
                    "the application is no longer running: a receive_output() timeout "
                    "cancelled it.",
                    "Use receive_output(timeout, cancel_on_timeout=False) to probe for "
                    "output while keeping the application running.",
                )
            raise ApplicationNotRunningError(
                "the application is no longer running: it was cancelled.",
                "It was stopped (stop(), or its task was cancelled) before this call.",
            )
        future.result()  # raises the application's exception, traceback intact

    async def wait(self, timeout: float | None = 1) -> None:
        """Wait for the application to finish; raise its exception if it failed.

        Args:
            timeout: seconds to wait (None: no limit).

        Raises:
            ApplicationTimeoutError: it did not finish in time (it is then
                cancelled); a `TimeoutError`.
            Exception: whatever the application raised.

        Example:
            >>> async def app(scope, receive, send):
            ...     await receive()  # sends nothing before the request arrives
            ...     await send({"type": "http.response.start", "status": 204})
            ...     await send({"type": "http.response.body"})
            >>> scope = {
            ...     "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            ...     "method": "GET", "path": "/", "query_string": b"", "headers": [],
            ... }
            >>> async def main():
            ...     comm = ApplicationCommunicator(app, scope)
            ...     await comm.send_input({"type": "http.request"})
            ...     await comm.wait()  # returns: the app finished without error
            ...     return comm.output_queue.qsize()  # its two messages, still unread
            >>> asyncio.run(main())
            2
        """
        future = self.future
        if not future.done():
            done, _ = await asyncio.wait({future}, timeout=timeout)
            if not done:
                stopped = await stop_task(future)
                raise ApplicationTimeoutError(
                    f"the application did not finish within {timeout} s.",
                    _stopped_hint(stopped)
                    + " Send it the message that ends it (e.g. a disconnect), or raise "
                    "wait(timeout=...).",
                )
        if not future.cancelled():
            future.result()

    def stop(self, exceptions: bool = True) -> None:
        """Cancel the application if it still runs; else raise its exception.

        Args:
            exceptions: raise the exception of an application that already
                failed (False: just clean up).
        """
        future = self._future
        if future is None:
            return
        if not future.done():
            future.cancel()
        elif exceptions and not future.cancelled():
            future.result()

    def __del__(self) -> None:
        try:
            self.stop(exceptions=False)
        except RuntimeError:  # its event loop is already closed
            pass

    async def send_input(self, message: Mapping[str, Any]) -> None:
        """Queue one message for the application's ``receive()``.

        Raises:
            Exception: the application already failed (its own exception).
            ApplicationNotRunningError: the application was cancelled (by a
                receive_output() timeout, or stop()); an `asyncio.CancelledError`,
                as asgiref raises.
        """
        self._raise_if_crashed()
        await self.input_queue.put(message)

    async def receive_output(
        self, timeout: float | None = 1, *, cancel_on_timeout: bool = True
    ) -> Any:
        """Return the next message the application sends.

        Args:
            timeout: seconds to wait (None: no limit).
            cancel_on_timeout: on timeout, cancel the application (asgiref's
                behaviour, the default); False leaves it running so the test
                can keep talking to it.

        Returns:
            The message (a dict).

        Raises:
            ApplicationTimeoutError: nothing arrived in time (a `TimeoutError`).
            Exception: the application failed (its own exception).

        Example:
            >>> async def app(scope, receive, send):
            ...     await receive()  # sends nothing before the request arrives
            ...     await send({"type": "http.response.start", "status": 204})
            ...     await send({"type": "http.response.body"})
            >>> scope = {
            ...     "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            ...     "method": "GET", "path": "/", "query_string": b"", "headers": [],
            ... }
            >>> async def main():
            ...     comm = ApplicationCommunicator(app, scope)
            ...     try:
            ...         await comm.receive_output(0.05, cancel_on_timeout=False)
            ...     except TimeoutError:
            ...         pass  # nothing yet, and the app is still running: carry on
            ...     await comm.send_input({"type": "http.request"})
            ...     return (await comm.receive_output())["status"]
            >>> asyncio.run(main())
            204
        """
        self._raise_if_crashed()
        future = self.future
        try:
            return await get_within(self.output_queue, timeout, until=future)
        except Expired:
            pass
        if future.done():
            self._raise_if_crashed()  # its exception beats our timeout
            raise ApplicationTimeoutError(
                "the application finished without sending the message receive_output() "
                "waited for.",
                "It returned; check the messages it sent before, or why it returned early.",
            )
        if not cancel_on_timeout:
            raise ApplicationTimeoutError(
                f"the application sent no message within {timeout} s.",
                "It is still running (cancel_on_timeout=False).",
            )
        self._cancelled_by_timeout = True
        stopped = await stop_task(future)
        if stopped and not future.cancelled() and future.exception() is not None:
            future.result()  # it raised while being cancelled: that is the news
        raise ApplicationTimeoutError(
            f"the application sent no message within {timeout} s.",
            _stopped_hint(stopped) + " Pass cancel_on_timeout=False to probe without stopping it.",
        )

    async def receive_nothing(self, timeout: float = 0.1, interval: float = 0.01) -> bool:
        """True if the application sends nothing within ``timeout`` seconds.

        Checks every ``interval`` seconds and returns False as soon as a
        message is waiting (the message stays queued).
        """
        self._raise_if_crashed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        queue = self.output_queue
        while queue.empty():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return True
            await asyncio.sleep(min(interval, remaining))
        return False


def _stopped_hint(stopped: bool) -> str:
    if stopped:
        return "The application was cancelled."
    return (
        f"The application was cancelled but ignored it for {STOP_GRACE} s and still runs: "
        "it must not swallow CancelledError."
    )
