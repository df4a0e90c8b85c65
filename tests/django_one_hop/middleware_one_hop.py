"""Middleware of the one-hop handler's test site: an old-style one and an async-only one."""

from __future__ import annotations

from typing import Any

from django.utils.deprecation import MiddlewareMixin


class OldStyle(MiddlewareMixin):
    """A third-party style MiddlewareMixin middleware with every hook."""

    def process_request(self, request: Any) -> None:
        request.old_style = True

    def process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> None:
        return None

    def process_template_response(self, request: Any, response: Any) -> Any:
        response.context_data["added"] = "by middleware"
        return response

    def process_response(self, request: Any, response: Any) -> Any:
        response["X-Old-Style"] = str(getattr(request, "old_style", False))
        return response


class AsyncOnly:
    """A middleware Django may only run async (sync_capable = False)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    async def __call__(self, request: Any) -> Any:
        response = await self.get_response(request)
        response["X-Async-Only"] = "yes"
        return response
