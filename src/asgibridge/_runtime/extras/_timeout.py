"""The deprecated ``timeout`` context manager asgiref still ships.

It cancels the task that entered it after a delay and turns that
cancellation into `TimeoutError` at exit. New code should use
`asyncio.timeout` (Python 3.11+); this exists so that imports keep working.

Cancellation accounting follows `asyncio.timeout` (3.11+): the cancellation
this manager caused is taken back with ``task.uncancel()`` at exit, so
``task.cancelling()`` is what it was before the block and a later
`check_cancelled` or `asyncio.timeout` behaves as if nothing happened; if
another cancellation arrived too (``cancelling()`` still above its value at
entry after the uncancel), the ``CancelledError`` propagates instead of
becoming `TimeoutError`.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from types import TracebackType
from typing import Any

__all__ = ("timeout",)

_HAS_UNCANCEL = sys.version_info >= (3, 11)


def _cancelling(task: asyncio.Task[Any]) -> int:
    if sys.version_info >= (3, 11):
        return task.cancelling()
    return 0  # pragma: no cover - 3.10 tasks keep no count


def _uncancel(task: asyncio.Task[Any]) -> int:
    if sys.version_info >= (3, 11):
        return task.uncancel()
    return 0  # pragma: no cover - likewise


class timeout:  # asgiref's public name (lowercase on purpose)
    """Cancel the current task after ``timeout`` seconds (deprecated).

    Args:
        timeout: seconds, or None for no limit.
        loop: deprecated; the running loop is used.

    Raises:
        TimeoutError: at exit, if the delay expired inside the block.
        RuntimeError: entered outside a task.

    Example:
        >>> import asyncio, warnings
        >>> async def main() -> bool:
        ...     with warnings.catch_warnings():
        ...         warnings.simplefilter("ignore", DeprecationWarning)
        ...         cm = timeout(1)
        ...     async with cm:
        ...         await asyncio.sleep(0)
        ...     return cm.expired
        >>> asyncio.run(main())
        False
    """

    def __init__(
        self, timeout: float | None, *, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        warnings.warn(
            "asgibridge.timeout.timeout (asgiref.timeout.timeout) is deprecated. "
            "Use asyncio.timeout() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        if loop is not None:
            warnings.warn(
                "The loop argument to timeout() is deprecated.", DeprecationWarning, stacklevel=2
            )
        self._timeout = timeout
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self._handle: asyncio.Handle | None = None
        self._deadline: float | None = None
        self._cancelling = 0  # the task's cancelling() at entry (3.11+)

    def __enter__(self) -> timeout:
        return self._enter()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type)

    async def __aenter__(self) -> timeout:
        return self._enter()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc_type)

    @property
    def expired(self) -> bool:
        """True if the delay ran out and the task was cancelled."""
        return self._cancelled

    @property
    def remaining(self) -> float | None:
        """Seconds left before the task is cancelled (None: no limit)."""
        if self._deadline is None or self._timeout is None:
            return None
        # Never more than the delay given: ``(t + delay) - t`` can round above
        # ``delay`` (uvloop's clock moves in millisecond steps, so t often repeats).
        return max(min(self._deadline - self._loop.time(), self._timeout), 0.0)

    def _enter(self) -> timeout:
        if self._timeout is None:
            return self
        self._task = asyncio.current_task(self._loop)
        if self._task is None:
            raise RuntimeError("Timeout context manager should be used inside a task")
        self._cancelling = _cancelling(self._task)
        if self._timeout <= 0:
            self._handle = self._loop.call_soon(self._expire)
            return self
        self._deadline = self._loop.time() + self._timeout
        self._handle = self._loop.call_at(self._deadline, self._expire)
        return self

    def _exit(self, exc_type: type[BaseException] | None) -> None:
        handle, task = self._handle, self._task
        self._handle = self._task = None
        if handle is not None:
            handle.cancel()
        if not self._cancelled or task is None:
            return
        # Take back our own cancellation; whatever remains came from elsewhere
        # (an outside cancellation too: let CancelledError propagate).
        if _HAS_UNCANCEL and _uncancel(task) > self._cancelling:
            return
        if exc_type is asyncio.CancelledError:
            raise TimeoutError

    def _expire(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._cancelled = True
