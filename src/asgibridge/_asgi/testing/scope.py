"""Building ASGI ``http`` / ``websocket`` scopes from an httpx request, and client settings.

The test client sees the URL as a browser would: ``scope["path"]`` is the
full request path (it includes ``root_path``, as the ASGI spec's
clarification and uvicorn do), and ``root_path`` only says where the app is
mounted. The lifespan ``state`` is copied shallowly into every scope (ASGI
lifespan spec: "copied into each request scope").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

__all__ = ("ClientConfig", "build_scope", "read_timeout")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
ASGI = {"version": "3.0", "spec_version": "2.5"}


@dataclass
class ClientConfig:
    """What every connection of one test client shares.

    Attributes:
        app: the ASGI 3 application (already guarded when validating).
        raise_app_exceptions: re-raise the application's exceptions in the
            test (True) or answer 500 like a server (False).
        root_path: ``scope["root_path"]``.
        client: ``scope["client"]``.
        fallback_timeout: seconds any wait may last when the request has no
            read timeout (httpx ``timeout=None``): the client never hangs.
        state: the lifespan state, copied into each scope (None: no lifespan).
        extensions: ``scope["extensions"]`` for http scopes.
    """

    app: Any
    raise_app_exceptions: bool = True
    root_path: str = ""
    client: tuple[str, int] = ("127.0.0.1", 50000)
    fallback_timeout: float = 60.0
    state: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


def read_timeout(request: httpx.Request, config: ClientConfig) -> float:
    """The seconds one wait for the application may last, from httpx's read timeout."""
    timeouts = request.extensions.get("timeout") or {}
    value = timeouts.get("read")
    return float(value) if value is not None else config.fallback_timeout


def build_scope(
    request: httpx.Request,
    config: ClientConfig,
    kind: str = "http",
    subprotocols: list[str] | None = None,
) -> dict[str, Any]:
    """The ASGI scope for ``request`` (``kind`` is ``"http"`` or ``"websocket"``).

    Example:
        >>> request = httpx.Request("GET", "http://testserver/a%20b?x=1")
        >>> scope = build_scope(request, ClientConfig(app=None))
        >>> scope["path"], scope["query_string"], scope["server"]
        ('/a b', b'x=1', ('testserver', 80))
    """
    url = request.url
    raw_path = url.raw_path.split(b"?", 1)[0]
    scheme = url.scheme
    if kind == "websocket":
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": dict(ASGI),
        "http_version": "1.1",
        "scheme": scheme,
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": url.query,
        "root_path": config.root_path,
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": config.client,
        "server": (url.host, url.port or _DEFAULT_PORTS.get(scheme, 80)),
    }
    if kind == "http":
        scope["method"] = request.method
        scope["extensions"] = dict(config.extensions)
    else:
        scope["subprotocols"] = list(subprotocols or ())
        scope["extensions"] = {"websocket.http.response": {}}
    if config.state is not None:
        scope["state"] = dict(config.state)
    return scope
