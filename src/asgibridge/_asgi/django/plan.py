"""Which path serves a request: the one hop, or Django's own ASGI path (and why).

The one-hop path runs ``request_started``, the request's creation, the sync
middleware chain and the view in one thread-sensitive call. That is only the
same as Django's ASGI path when nothing in it wants to run on the event loop:

- every middleware is sync-capable (decided once, when the chain is built:
  Django builds its chains once per handler too);
- no ``request_started`` receiver is a coroutine function (Django's
  ``Signal.asend`` would await it on the loop);
- the view the path resolves to is a sync function.

The view is resolved from the scope alone, before the request exists (a
middleware that sets ``request.urlconf`` can still route elsewhere: a view
found async *inside* the hop is run by Django's sync chain through
async_to_sync, as under WSGIHandler, which is correct, only not one hop).
Resolving costs microseconds, so each (resolver, path) answer is kept in a
small table that is emptied when full (hazard: paths with ids in them would
grow it without bound).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import get_script_prefix
from django.urls import get_resolver
from django.utils.module_loading import import_string

from ..._runtime import iscoroutinefunction

__all__ = ("Plan", "async_only_middleware")

# How many resolved (resolver, path) answers are kept before the table is emptied.
VIEW_TABLE_SIZE = 2048


def async_only_middleware() -> str | None:
    """The first middleware of ``settings.MIDDLEWARE`` that cannot run sync, or None."""
    for dotted in settings.MIDDLEWARE:
        factory = import_string(dotted)
        if not getattr(factory, "sync_capable", True):
            return str(dotted)
    return None


def _path_info(scope: dict[str, Any]) -> str:
    # The same split of SCRIPT_NAME / PATH_INFO as Django's ASGIRequest makes.
    path: str = scope["path"]
    script_name = get_script_prefix(scope)
    if not script_name:
        return path
    stripped = script_name.rstrip("/")
    if path == stripped or path.startswith(stripped + "/"):
        return path[len(stripped) :]
    return path


class Plan:
    """Per-handler decisions; `reason` returns None when the one hop may serve the request."""

    __slots__ = ("_request_class", "_views", "static_reason")

    def __init__(self, request_class: type[Any]) -> None:
        self._request_class = request_class
        self._views: dict[tuple[Any, str], bool] = {}
        self.static_reason: str | None = None
        if sys.version_info < (3, 11):
            # The disconnect watch needs asyncio.TaskGroup (Django 5.2 on 3.10 works).
            self.static_reason = "Python 3.10 has no asyncio.TaskGroup"
        else:
            found = async_only_middleware()
            if found is not None:
                self.static_reason = f"middleware {found} is async-only"

    def reason(self, scope: dict[str, Any]) -> str | None:
        if self.static_reason is not None:
            return self.static_reason
        # Django >= 5.0 records is_async as the last field of each receiver entry
        # (Django 4.2's entries have two fields and only sync receivers).
        for entry in signals.request_started.receivers:
            if len(entry) >= 3 and entry[-1] is True:
                return "a request_started receiver is async"
        if self._view_is_async(scope):
            return "the view is async"
        return None

    def _view_is_async(self, scope: dict[str, Any]) -> bool:
        try:
            path_info = _path_info(scope)
            resolver = get_resolver(getattr(self._request_class, "urlconf", None))
        except Exception:
            return False  # the hop meets the same error and Django turns it into a response
        key = (resolver, path_info)
        known = self._views.get(key)
        if known is not None:
            return known
        try:
            found = bool(iscoroutinefunction(resolver.resolve(path_info).func))
        except Exception:
            found = False  # a 404 (or a broken urlconf) is answered by the sync chain
        if len(self._views) >= VIEW_TABLE_SIZE:
            self._views.clear()
        self._views[key] = found
        return found
