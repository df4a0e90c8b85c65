"""The deprecated ``timeout`` context manager asgiref still ships.

It cancels the task that entered it after a delay and turns that
cancellation into `TimeoutError` at exit. New code should use
`asyncio.timeout` (Python 3.11+); this exists so that imports keep working.
"""

from __future__ import annotations

import asyncio
import warnings
from types import TracebackType
from typing import Any

__all__ = ("timeout",)


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
        if self._deadline is None:
            return None
        return max(self._deadline - self._loop.time(), 0.0)

    def _enter(self) -> timeout:
        if self._timeout is None:
            return self
        self._task = asyncio.current_task(self._loop)
        if self._task is None:
            raise RuntimeError("Timeout context manager should be used inside a task")
        if self._timeout <= 0:
            self._handle = self._loop.call_soon(self._expire)
            return self
        self._deadline = self._loop.time() + self._timeout
        self._handle = self._loop.call_at(self._deadline, self._expire)
        return self

    def _exit(self, exc_type: type[BaseException] | None) -> None:
        handle, self._handle, self._task = self._handle, None, None
        if exc_type is asyncio.CancelledError and self._cancelled:
            raise TimeoutError
        if handle is not None:
            handle.cancel()

    def _expire(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._cancelled = True
