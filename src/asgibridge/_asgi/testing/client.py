"""The test clients: httpx clients whose transport is an ASGI application.

`TestClient` (sync: plain sync tests, no loop management) and
`AsyncTestClient` (async tests) are `httpx.Client` / `httpx.AsyncClient`
subclasses, so requests, cookies, auth, redirects and ``stream()`` are
httpx's own. What they add: responses stream as the app sends them, client
disconnects on demand (close a streamed response early, or raise
`ClientDisconnected` from a request-body iterator), WebSocket sessions
(``websocket_connect``), lifespan startup/shutdown on ``with`` entry/exit with
its ``state`` copied into every scope, and ASGI spec validation of every
message (on by default).

The sync client runs the application on a `Portal`: one loop thread per
client, started at first use and stopped by ``close()`` / ``with`` exit.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

import httpx

from ..._errors import LifespanStartupError, LifespanUnsupportedError
from ..._runtime import Portal
from ..callables import guarantee_single_callable
from ..lifespan.manager import LifespanManager
from .scope import ClientConfig
from .transport import AsyncAsgiTransport, SyncAsgiTransport
from .websocket import AsyncWebSocketSession, WebSocketSession

__all__ = ("AsyncTestClient", "TestClient")

Lifespan = Literal["auto", "on", "off"]
Validate = Literal[True, False, "raise", "warn", "collect"]
_WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's sample key: any valid one works
_PORTAL_MARGIN = 5.0


def _config(
    app: Callable[..., Any],
    validate: Validate,
    raise_app_exceptions: bool,
    root_path: str,
    client: tuple[str, int],
    fallback_timeout: float,
) -> ClientConfig:
    app3 = guarantee_single_callable(app)
    if validate is not False:
        from ..validator.guard import guard  # lazy: the spec tables load only when used

        app3 = guard(app3, mode="raise" if validate is True else validate)
    return ClientConfig(
        app=app3,
        raise_app_exceptions=raise_app_exceptions,
        root_path=root_path,
        client=client,
        fallback_timeout=fallback_timeout,
    )


def _tolerated(exc: Exception, manager: LifespanManager, mode: Lifespan) -> bool:
    """In "auto" mode, go on without lifespan unless the app itself reported failure.

    Like uvicorn's "auto": an app that raises during startup without sending
    ``lifespan.startup.failed`` is taken not to support lifespan (a raw test
    app that ignores the scope type), while an explicit failure report fails.
    """
    if mode != "auto":
        return False
    return isinstance(exc, LifespanUnsupportedError) or not manager.reported_failure


def _ws_headers(subprotocols: list[str] | None, headers: Any) -> httpx.Headers:
    merged = httpx.Headers(
        {
            "connection": "upgrade",
            "upgrade": "websocket",
            "sec-websocket-version": "13",
            "sec-websocket-key": _WS_KEY,
        }
    )
    if subprotocols:
        merged["sec-websocket-protocol"] = ", ".join(subprotocols)
    merged.update(httpx.Headers(headers))
    return merged


class TestClient(httpx.Client):
    """A sync httpx client that talks to an ASGI app in-process.

    Args:
        app: the ASGI application (2 or 3).
        base_url: the URL requests are relative to (its host is the server).
        raise_app_exceptions: re-raise the app's exceptions in the test
            (default) instead of answering 500 like a server.
        root_path: ``scope["root_path"]`` (``scope["path"]`` stays the full path).
        client: ``scope["client"]``.
        lifespan: ``"auto"`` runs startup/shutdown on ``with`` if the app
            supports it; ``"on"`` requires it; ``"off"`` skips it.
        validate: check every message against the ASGI spec (the guard):
            True / ``"raise"`` raises `AppSpecError` at the bad message;
            ``"warn"`` issues `AsgiSpecWarning`; ``"collect"`` only records
            (read ``client.app.report``); False turns it off.
        timeout: httpx timeout; its read part bounds every wait for the app.
        startup_timeout / shutdown_timeout: seconds for lifespan answers.
        **kwargs: passed to `httpx.Client` (headers, cookies, auth, ...).

    Raises:
        httpx.ReadTimeout: (per request) the app did not answer in time.
        LifespanUnsupportedError: (on enter, ``lifespan="on"``) no lifespan.

    Example:
        >>> async def app(scope, receive, send):
        ...     await send({"type": "http.response.start", "status": 200, "headers": []})
        ...     await send({"type": "http.response.body", "body": b"hello"})
        >>> with TestClient(app) as client:
        ...     client.get("/").text
        'hello'
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        base_url: str = "http://testserver",
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        lifespan: Lifespan = "auto",
        validate: Validate = True,
        timeout: float | httpx.Timeout | None = 10.0,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        follow_redirects: bool = True,
        **kwargs: Any,
    ) -> None:
        fallback = 60.0 if timeout is None else httpx.Timeout(timeout).read or 60.0
        self.config = _config(app, validate, raise_app_exceptions, root_path, client, fallback)
        self.lifespan = lifespan
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._portal: Portal | None = None
        self._manager: LifespanManager | None = None
        super().__init__(
            base_url=base_url,
            transport=SyncAsgiTransport(self.config, self.portal),
            timeout=timeout,
            follow_redirects=follow_redirects,
            **kwargs,
        )

    @property
    def app(self) -> Any:
        """The application as the client calls it (guarded when validating)."""
        return self.config.app

    @property
    def lifespan_state(self) -> dict[str, Any] | None:
        """The lifespan state (None when lifespan did not run)."""
        return self.config.state

    def portal(self) -> Portal:
        """The loop thread the app runs on (started at first use)."""
        if self._portal is None or not self._portal.alive():
            self._portal = Portal("TestClient")
        return self._portal

    def __enter__(self) -> TestClient:
        super().__enter__()
        if self.lifespan == "off":
            return self
        manager = LifespanManager(
            self.config.app,
            startup_timeout=self.startup_timeout,
            shutdown_timeout=self.shutdown_timeout,
        )
        try:
            self.portal().run(
                manager.startup(),
                timeout=self.startup_timeout + _PORTAL_MARGIN,
                what="lifespan startup",
            )
        except (LifespanUnsupportedError, LifespanStartupError) as exc:
            if not _tolerated(exc, manager, self.lifespan):
                self.close()
                raise
            return self
        except BaseException:
            self.close()
            raise
        self._manager = manager
        self.config.state = manager.state
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        manager, self._manager = self._manager, None
        try:
            if manager is not None and self._portal is not None:
                self._portal.run(
                    manager.shutdown(),
                    timeout=self.shutdown_timeout + _PORTAL_MARGIN,
                    what="lifespan shutdown",
                )
        finally:
            self.config.state = None
            try:
                super().__exit__(exc_type, exc, tb)
            finally:
                self._close_portal()

    def close(self) -> None:
        """Close the httpx client and stop the app's loop thread."""
        try:
            super().close()
        finally:
            self._close_portal()

    def _close_portal(self) -> None:
        portal, self._portal = self._portal, None
        if portal is not None:
            portal.close()

    def websocket_connect(
        self,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: Any = None,
        params: Any = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> WebSocketSession:
        """Open a WebSocket session (use it in a ``with`` block).

        Raises:
            WebSocketDenied: (on enter) the app refused the handshake.

        Example:
            >>> async def echo(scope, receive, send):
            ...     await receive()  # websocket.connect
            ...     await send({"type": "websocket.accept"})
            ...     while (message := await receive())["type"] == "websocket.receive":
            ...         await send({"type": "websocket.send", "text": message["text"]})
            >>> with TestClient(echo, lifespan="off") as client:
            ...     with client.websocket_connect("/ws") as ws:
            ...         ws.send_text("hi")
            ...         ws.receive_text()
            'hi'
        """
        request = self.build_request(
            "GET",
            url,
            headers=_ws_headers(subprotocols, headers),
            params=params,
            timeout=timeout if timeout is not None else self.timeout,
        )
        return WebSocketSession(self.config, request, subprotocols, self.portal())


class AsyncTestClient(httpx.AsyncClient):
    """An async httpx client that talks to an ASGI app on the current event loop.

    ``async with`` runs lifespan startup and shutdown; ``websocket_connect``
    returns an `AsyncWebSocketSession`.

    Args:
        app: the ASGI application (2 or 3).
        base_url: the URL requests are relative to (its host is the server).
        raise_app_exceptions: re-raise the app's exceptions in the test
            (default) instead of answering 500 like a server.
        root_path: ``scope["root_path"]`` (``scope["path"]`` stays the full path).
        client: ``scope["client"]``.
        lifespan: ``"auto"``, ``"on"`` or ``"off"``, as for `TestClient`.
        validate: True / ``"raise"``, ``"warn"``, ``"collect"`` or False, as
            for `TestClient`.
        timeout: httpx timeout; its read part bounds every wait for the app.
        startup_timeout: seconds for the lifespan startup answer.
        shutdown_timeout: seconds for the lifespan shutdown answer.
        follow_redirects: follow redirects the app answers (httpx's option).
        **kwargs: passed to `httpx.AsyncClient` (headers, cookies, auth, ...).

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):
        ...     await send({"type": "http.response.start", "status": 204, "headers": []})
        ...     await send({"type": "http.response.body"})
        >>> async def main():
        ...     async with AsyncTestClient(app) as client:
        ...         return (await client.get("/")).status_code
        >>> asyncio.run(main())
        204
    """

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        base_url: str = "http://testserver",
        raise_app_exceptions: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 50000),
        lifespan: Lifespan = "auto",
        validate: Validate = True,
        timeout: float | httpx.Timeout | None = 10.0,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        follow_redirects: bool = True,
        **kwargs: Any,
    ) -> None:
        fallback = 60.0 if timeout is None else httpx.Timeout(timeout).read or 60.0
        self.config = _config(app, validate, raise_app_exceptions, root_path, client, fallback)
        self.lifespan = lifespan
        self._manager: LifespanManager | None = None
        self._lifespan_timeouts = (startup_timeout, shutdown_timeout)
        super().__init__(
            base_url=base_url,
            transport=AsyncAsgiTransport(self.config),
            timeout=timeout,
            follow_redirects=follow_redirects,
            **kwargs,
        )

    @property
    def app(self) -> Any:
        """The application as the client calls it (guarded when validating)."""
        return self.config.app

    @property
    def lifespan_state(self) -> dict[str, Any] | None:
        """The lifespan state (None when lifespan did not run)."""
        return self.config.state

    async def __aenter__(self) -> AsyncTestClient:
        await super().__aenter__()
        if self.lifespan == "off":
            return self
        startup, shutdown = self._lifespan_timeouts
        manager = LifespanManager(
            self.config.app, startup_timeout=startup, shutdown_timeout=shutdown
        )
        try:
            await manager.startup()
        except (LifespanUnsupportedError, LifespanStartupError) as exc:
            if not _tolerated(exc, manager, self.lifespan):
                await self.aclose()
                raise
            return self
        except BaseException:
            await self.aclose()
            raise
        self._manager = manager
        self.config.state = manager.state
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        manager, self._manager = self._manager, None
        try:
            if manager is not None:
                await manager.shutdown()
        finally:
            self.config.state = None
            await super().__aexit__(exc_type, exc, tb)

    def websocket_connect(
        self,
        url: str,
        *,
        subprotocols: list[str] | None = None,
        headers: Any = None,
        params: Any = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> AsyncWebSocketSession:
        """Open a WebSocket session (use it in an ``async with`` block).

        Raises:
            WebSocketDenied: (on enter) the app refused the handshake.
        """
        request = self.build_request(
            "GET",
            url,
            headers=_ws_headers(subprotocols, headers),
            params=params,
            timeout=timeout if timeout is not None else self.timeout,
        )
        return AsyncWebSocketSession(self.config, request, subprotocols)
