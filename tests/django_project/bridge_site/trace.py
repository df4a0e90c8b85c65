"""Where each request's code ran: thread, event loop, database connection.

Middleware and views call `record`; the driver reads `RECORDS` after the
requests (keyed by the ``x-request-id`` header each request carries).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django.db import connections

RECORDS: dict[str, list[dict[str, Any]]] = {}
_lock = threading.Lock()


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def record(request: Any, where: str, *, database: bool = False) -> None:
    """Note that ``where`` ran for ``request`` on this thread (and which DB connection)."""
    entry: dict[str, Any] = {
        "where": where,
        "thread": threading.get_ident(),
        "in_loop": _in_loop(),
    }
    if database:
        # Django keeps connections in a thread_critical Local: the object
        # identity says which connection this code would use.
        entry["connection"] = id(connections["default"])
    with _lock:
        RECORDS.setdefault(request.headers["x-request-id"], []).append(entry)
