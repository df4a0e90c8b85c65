"""Cooperative cancellation for sync code run by sync_to_async (asgibridge only, not asgiref).

A sync function cannot be interrupted; it can ask. `check_cancelled` raises
``asyncio.CancelledError`` once the task awaiting it was cancelled, and
`time_left` gives the seconds before that task's deadline. See
``docs/cancellation.md``.
"""

from ._runtime.extras._cancellation import check_cancelled, time_left

__all__ = ("check_cancelled", "time_left")
