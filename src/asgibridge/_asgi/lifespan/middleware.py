"""Answering the lifespan protocol for apps that cannot: `LifespanMiddleware`.

`LifespanMiddleware` plays the application side of the ASGI lifespan protocol
(spec 2.0) for apps that do not speak it (Django raises on ``lifespan``
scopes, which servers report as errors on every start), running the hooks it
is given instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from ..._runtime import iscoroutinefunction, sync_to_async
from ..callables import AnyReceive, AnyScope, AnySend, guarantee_single_callable

__all__ = ("Hook", "LifespanMiddleware")

Hook = Callable[[dict[str, Any]], Any]


class LifespanMiddleware:
    """Answer the lifespan protocol for an app that does not speak it.

    Lifespan scopes never reach ``app``: the middleware runs ``on_startup``
    hooks at startup and ``on_shutdown`` hooks at shutdown, each called with
    the lifespan ``state`` dict (async hooks are awaited, sync ones run via
    ``sync_to_async``). A failing hook is reported to the server with
    ``lifespan.*.failed`` (its message names the exception). Every other
    scope goes to ``app`` unchanged.

    Args:
        app: the wrapped ASGI application (2 or 3).
        on_startup: a hook or an iterable of hooks, run in order.
        on_shutdown: a hook or an iterable of hooks, run in order.

    Example:
        >>> def open_pool(state):
        ...     state["pool"] = "ready"
        >>> async def django_like(scope, receive, send):
        ...     if scope["type"] != "http":
        ...         raise ValueError("Django can only handle ASGI/HTTP connections")
        >>> app = LifespanMiddleware(django_like, on_startup=open_pool)
    """

    _asgi_single_callable = True

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        on_startup: Hook | Iterable[Hook] = (),
        on_shutdown: Hook | Iterable[Hook] = (),
    ) -> None:
        self.app = guarantee_single_callable(app)
        self.on_startup = _hooks(on_startup)
        self.on_shutdown = _hooks(on_shutdown)

    async def __call__(
        self,
        scope: AnyScope,
        receive: AnyReceive,
        send: AnySend,
    ) -> None:
        if scope.get("type") != "lifespan":
            await self.app(scope, receive, send)
            return
        state = scope.get("state")
        if state is None:  # a server without lifespan state: hooks still get a dict
            state = {}
        while True:
            message = await receive()
            mtype = message.get("type")
            if mtype == "lifespan.startup":
                phase, hooks = "startup", self.on_startup
            elif mtype == "lifespan.shutdown":
                phase, hooks = "shutdown", self.on_shutdown
            else:
                continue
            failure = await _run_hooks(hooks, state)
            if failure is None:
                await send({"type": f"lifespan.{phase}.complete"})
            else:
                await send({"type": f"lifespan.{phase}.failed", "message": failure})
            if phase == "shutdown" or failure is not None:
                return


def _hooks(value: Hook | Iterable[Hook]) -> tuple[Hook, ...]:
    if callable(value):
        return (value,)
    return tuple(value)


async def _run_hooks(hooks: tuple[Hook, ...], state: dict[str, Any]) -> str | None:
    """Run each hook; the failure message of the first that raises, else None."""
    for hook in hooks:
        try:
            if iscoroutinefunction(hook):
                await hook(state)
            else:
                result = await sync_to_async(hook, thread_sensitive=True)(state)
                if asyncio.iscoroutine(result):  # a callable object with an async call
                    await result
        except Exception as exc:
            name = getattr(hook, "__qualname__", repr(hook))
            return f"{name} raised {type(exc).__name__}: {exc}"
    return None
