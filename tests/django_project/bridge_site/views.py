"""An async view using the ORM through sync_to_async, and a sync view.

Both can wait at a barrier shared by a batch of concurrent requests: that only
completes if every request of the batch runs its sync work on a thread of its
own at the same time (one ThreadSensitiveContext per request).
"""

from __future__ import annotations

import threading
from typing import Any

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.utils import translation

from .models import Note
from .trace import record

BARRIERS: dict[str, threading.Barrier] = {}
BARRIER_TIMEOUT = 20.0


def _meet(request: Any) -> None:
    batch = request.GET.get("batch")
    if batch:
        BARRIERS[batch].wait(BARRIER_TIMEOUT)


async def async_view(request: Any) -> JsonResponse:
    """Writes a note through the ORM on the request's sync thread."""
    record(request, "async view")

    def write_note() -> dict[str, Any]:
        record(request, "ORM via sync_to_async", database=True)
        _meet(request)
        Note.objects.create(text=f"async {request.headers['x-request-id']}")
        return {"language_in_orm_call": translation.get_language()}

    seen = await sync_to_async(write_note)()
    total = await Note.objects.acount()  # Django's own sync_to_async, thread-sensitive
    return JsonResponse(
        {
            "view": "async",
            "notes_before": request.notes_before,
            "notes_after": total,
            "language_in_view": translation.get_language(),
            **seen,
        }
    )


def sync_view(request: Any) -> JsonResponse:
    """Writes a note directly."""
    record(request, "sync view", database=True)
    _meet(request)
    Note.objects.create(text=f"sync {request.headers['x-request-id']}")
    return JsonResponse(
        {
            "view": "sync",
            "notes_before": request.notes_before,
            "notes_after": Note.objects.count(),
            "language_in_view": translation.get_language(),
        }
    )
