"""The deprecated `timeout` context manager (use `asyncio.timeout` instead)."""

from ._runtime.extras._timeout import timeout

__all__ = ("timeout",)
