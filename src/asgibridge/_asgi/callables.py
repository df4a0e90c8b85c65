"""Telling ASGI 2 (double-callable) applications from ASGI 3 (single-callable) ones.

ASGI 3.0 spec, "Legacy Applications": an ASGI 2 app is called with the scope
and returns a coroutine callable taking ``(receive, send)``. Servers accept
both by wrapping ASGI 2 apps into the ASGI 3 shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._runtime import iscoroutinefunction

__all__ = (
    "AnyReceive",
    "AnyScope",
    "AnySend",
    "double_to_single_callable",
    "guarantee_single_callable",
    "is_double_callable",
)

_App = Callable[..., Any]

# The parameters of asgibridge's own ASGI callables (adapters, middleware).
# Parameters are contravariant: for ``WsgiToAsgi(app)`` to be an
# ``ASGI3Application`` of asgibridge.typing or asgiref.typing, each must accept
# the TypedDict unions; for untyped and Starlette-style callers
# (``MutableMapping[str, Any]``) to call it, plain mappings too. ``Mapping[str,
# Any]`` and ``Any`` messages are the types that both checkers accept for both.
AnyScope = Mapping[str, Any]
AnyReceive = Callable[[], Awaitable[Any]]
AnySend = Callable[[Any], Awaitable[None]]


def is_double_callable(application: object) -> bool:
    """True if ``application`` looks like an ASGI 2 (double-callable) app.

    Explicit markers win (``_asgi_single_callable`` / ``_asgi_double_callable``
    attributes); classes are double-callable (instantiating one with the scope
    is the first call); otherwise anything whose call is not a coroutine
    function is taken as ASGI 2.

    Args:
        application: an ASGI application (function, instance or class).

    Returns:
        True for an ASGI 2 application, False for an ASGI 3 one.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> is_double_callable(app)
        False
    """
    if getattr(application, "_asgi_single_callable", False):
        return False
    if getattr(application, "_asgi_double_callable", False):
        return True
    if inspect.isclass(application):
        return True
    call = getattr(application, "__call__", None)
    if call is not None and iscoroutinefunction(call):
        return False
    return not iscoroutinefunction(application)


def double_to_single_callable(application: _App) -> Callable[..., Awaitable[Any]]:
    """Wrap an ASGI 2 app so that it can be called the ASGI 3 way.

    Args:
        application: an ASGI 2 application: ``application(scope)`` returns a
            coroutine function taking ``(receive, send)``.

    Returns:
        An ASGI 3 application: ``await app(scope, receive, send)``.

    Example:
        >>> class Legacy:
        ...     def __init__(self, scope): self.scope = scope
        ...     async def __call__(self, receive, send): ...
        >>> app3 = double_to_single_callable(Legacy)
    """

    async def single_callable(scope: Any, receive: Any, send: Any) -> Any:
        instance = application(scope)
        return await instance(receive, send)

    return single_callable


def guarantee_single_callable(application: _App) -> _App:
    """Return ``application`` in ASGI 3 form, wrapping it if it is ASGI 2.

    Args:
        application: an ASGI 2 or ASGI 3 application.

    Returns:
        ``application`` itself if it is ASGI 3 (see `is_double_callable`),
        else `double_to_single_callable` of it.

    Example:
        >>> async def app(scope, receive, send): ...
        >>> guarantee_single_callable(app) is app
        True
    """
    if is_double_callable(application):
        return double_to_single_callable(application)
    return application
