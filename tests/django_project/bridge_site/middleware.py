"""One async-only middleware and one sync-only middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.utils import translation
from django.utils.decorators import async_only_middleware, sync_only_middleware

from .models import Note
from .trace import record


@async_only_middleware
def async_middleware(get_response: Callable[[Any], Awaitable[Any]]) -> Any:
    """Runs on the event loop; activates French (Django keeps it in a Local)."""

    async def middleware(request: Any) -> Any:
        record(request, "async middleware")
        translation.activate("fr")
        response = await get_response(request)
        response["x-async-middleware"] = "ran"
        return response

    return middleware


@sync_only_middleware
def sync_middleware(get_response: Callable[[Any], Any]) -> Any:
    """Runs on the request's thread; touches the database before and after the view."""

    def middleware(request: Any) -> Any:
        record(request, "sync middleware, request", database=True)
        request.notes_before = Note.objects.count()
        response = get_response(request)
        record(request, "sync middleware, response", database=True)
        response["x-language-seen-by-sync-middleware"] = translation.get_language()
        return response

    return middleware
