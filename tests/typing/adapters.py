"""Every adapter and middleware of asgibridge, passed where an ``ASGI3Application`` is expected.

A server's ``run(app: ASGI3Application)`` (uvicorn, hypercorn, daphne are
typed this way) must accept each of them, whichever ASGI types the wrapped
app was written against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.compatibility import double_to_single_callable, guarantee_single_callable
from asgibridge.lifespan import LifespanMiddleware
from asgibridge.typing import (
    ASGI2Application,
    ASGI3Application,
    ASGIApplication,
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
)
from asgibridge.validation import GuardedApp, guard
from asgibridge.wsgi import WsgiToAsgi, WsgiToAsgiInstance

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def typed_app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    await send({"type": "http.response.start", "status": 204})
    await send({"type": "http.response.body"})


class Legacy:
    """An ASGI 2 (double-callable) app."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})


def serve(app: ASGI3Application) -> ASGI3Application:
    """What a typed server's entry point looks like."""
    return app


def serve_any(app: ASGIApplication) -> ASGIApplication:
    return app


def on_startup(state: dict[str, Any]) -> None:
    state["ready"] = True


wrapped: ASGI3Application = serve(WsgiToAsgi(wsgi_app))
with_limits = serve(WsgiToAsgi(wsgi_app, max_threads=4, max_queued=100))
one_request = serve(WsgiToAsgiInstance(wsgi_app))
with_lifespan = serve(LifespanMiddleware(typed_app, on_startup=on_startup))
guarded = serve(guard(typed_app, mode="collect"))
guarded_class: GuardedApp = guard(typed_app)
stacked = serve(guard(LifespanMiddleware(WsgiToAsgi(wsgi_app)), mode="warn"))
legacy_class: ASGI2Application = Legacy
single = serve(guarantee_single_callable(Legacy))
converted = serve(double_to_single_callable(Legacy))
either = serve_any(WsgiToAsgi(wsgi_app))
back_to_wsgi: WSGIApplication = AsgiToWsgi(typed_app)

# Starlette-style middleware types: the adapters accept plain mappings too.
StarletteScope = MutableMapping[str, Any]
StarletteReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]
StarletteSend = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class Mount:
    def __init__(self) -> None:
        self.legacy = WsgiToAsgi(wsgi_app)

    async def __call__(
        self, scope: StarletteScope, receive: StarletteReceive, send: StarletteSend
    ) -> None:
        await self.legacy(scope, receive, send)


class TypedMiddleware:
    """Middleware written against asgibridge.typing, wrapping an adapter."""

    def __init__(self, app: ASGI3Application) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http":
            scope.setdefault("root_path", "")
        await self.app(scope, receive, send)


middleware = serve(TypedMiddleware(WsgiToAsgi(wsgi_app)))
