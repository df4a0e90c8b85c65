"""Servers typed with asgiref.typing (daphne-style) accept asgibridge's adapters too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from asgiref.typing import ASGI3Application

from asgibridge.lifespan import LifespanMiddleware
from asgibridge.validation import guard
from asgibridge.wsgi import WsgiToAsgi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("204 No Content", [])
    return []


def serve(app: ASGI3Application) -> ASGI3Application:
    return app


adapter = serve(WsgiToAsgi(wsgi_app))
middleware = serve(LifespanMiddleware(WsgiToAsgi(wsgi_app)))
guarded = serve(guard(WsgiToAsgi(wsgi_app)))
