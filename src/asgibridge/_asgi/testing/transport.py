"""httpx transports that hand each request to an ASGI application, streaming both ways.

`AsyncAsgiTransport` runs the application on the caller's loop;
`SyncAsgiTransport` runs it on the client's `Portal` loop thread while the
calling (test) thread drives the exchange.

Theory of operation: a request returns its `httpx.Response` as soon as the
application sends ``http.response.start``; body chunks are read one at a time
as the application sends them (so a test sees a stream *as it streams*). The
request body is pulled chunk by chunk when the application calls
``receive()``: in the sync client the test thread itself iterates the body
(it may block, or raise `ClientDisconnected` to disconnect mid-body).
Closing the response before its end disconnects the client: the application
gets ``http.disconnect`` and its ``send`` raises. Closing waits for the
application to return (background work included) and re-raises its exception
unless ``raise_app_exceptions`` is off.

Rules: every wait is bounded by the request's read timeout (httpx
``timeout=``; a client-wide fallback when it is None) and ends in
`httpx.ReadTimeout` naming what was awaited; the application is then
disconnected and, if it does not return, cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from queue import SimpleQueue
from typing import Any

import httpx

from ..._errors import ApplicationTimeoutError, AppSpecError, ClientDisconnected
from ..._runtime import Expired, Portal, get_within, stop_task
from .exchange import (
    AppDone,
    Body,
    ClientFailed,
    HttpExchange,
    Pull,
    Start,
    from_disconnect,
)
from .scope import ClientConfig, build_scope, read_timeout

__all__ = ("AsyncAsgiTransport", "SyncAsgiTransport")

_ABANDON_GRACE = 1.0  # seconds a disconnected app gets to return before it is cancelled


def _bytes_pull(body: bytes) -> Pull:
    async def pull() -> tuple[bytes, bool]:
        return body, False

    return pull


class _NeedBody:
    """Event (sync client): the app wants the next request body chunk."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[tuple[bytes, bool]]) -> None:
        self.future = future


def _settle(
    future: asyncio.Future[tuple[bytes, bool]],
    result: tuple[bytes, bool] | None,
    exc: BaseException | None,
) -> None:
    if future.done():  # the app was cancelled while it waited
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert result is not None
        future.set_result(result)


class _Driver:
    """The client side of one exchange: what the sync and async drivers share."""

    def __init__(self, config: ClientConfig, request: httpx.Request) -> None:
        self.config = config
        self.request = request
        self.timeout = read_timeout(request, config)
        self.complete = False  # the final body chunk arrived
        self.closed = False
        self.done: AppDone | None = None
        self.exchange: HttpExchange

    def _label(self) -> str:
        return f"{self.request.method} {self.request.url.path}"

    def _read_timeout(self, what: str) -> httpx.ReadTimeout:
        return httpx.ReadTimeout(
            f"the application sent no {what} within {self.timeout} s ({self._label()}); "
            "it was disconnected. It may wait for a request body or an event that never "
            "comes; if it is only slow, raise the client's timeout.",
            request=self.request,
        )

    def _response(self, start: Start, stream: Any) -> httpx.Response:
        return httpx.Response(
            start.status,
            headers=start.headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _no_response(self, done: AppDone) -> httpx.Response:
        raising = self.config.raise_app_exceptions
        if done.exc is not None and raising:
            raise done.exc
        if raising:
            raise AppSpecError(
                f"the application returned without sending http.response.start ({self._label()}).",
                "Every HTTP request needs a response: send http.response.start and "
                "http.response.body (a server would answer 500).",
            )
        return httpx.Response(
            500, content=b"Internal Server Error", headers={"content-type": "text/plain"}
        )

    def _raise_app_error(self, done: AppDone, disconnected: bool) -> None:
        exc = done.exc
        if exc is None or not self.config.raise_app_exceptions:
            return
        if disconnected and from_disconnect(exc):
            return  # the app noticed our disconnect the spec way: fine
        raise exc

    def _truncated(self) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(
            f"the application returned before its response body was complete "
            f"({self._label()}): no http.response.body with more_body=False.",
            request=self.request,
        )

    def _lingering(self) -> ApplicationTimeoutError:
        return ApplicationTimeoutError(
            f"the application did not return within {self.timeout} s after its response "
            f"({self._label()}); it was cancelled.",
            "Background work after the response must finish; raise the client's timeout "
            "if it is only slow.",
        )

    def _client_error(self) -> BaseException:
        error = self.exchange.client_error
        assert error is not None
        return error


class AsyncAsgiTransport(httpx.AsyncBaseTransport):
    """httpx transport running an ASGI app on the caller's event loop, streaming.

    Args:
        config: the client's settings (`ClientConfig`).

    Example:
        >>> transport = AsyncAsgiTransport(ClientConfig(app=my_app))  # doctest: +SKIP
        >>> httpx.AsyncClient(transport=transport, base_url="http://testserver")  # doctest: +SKIP
    """

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await _AsyncDriver(self.config, request).open()


class _AsyncDriver(_Driver):
    def __init__(self, config: ClientConfig, request: httpx.Request) -> None:
        super().__init__(config, request)
        self.events: asyncio.Queue[object] = asyncio.Queue()
        stream = request.stream
        pull = (
            _bytes_pull(b"".join(stream))
            if isinstance(stream, httpx.ByteStream)
            else self._pull_factory(stream)
        )
        scope = build_scope(request, config)
        self.exchange = HttpExchange(config.app, scope, pull, self.events.put_nowait)

    @staticmethod
    def _pull_factory(stream: object) -> Pull:
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("AsyncTestClient needs an async request body (an async iterable)")
        chunks = stream.__aiter__()

        async def pull() -> tuple[bytes, bool]:
            try:
                return await chunks.__anext__(), True
            except StopAsyncIteration:
                return b"", False

        return pull

    async def open(self) -> httpx.Response:
        self.exchange.start()
        try:
            event = await self._next("response start (http.response.start)")
        except BaseException:
            await self._abandon()
            raise
        if isinstance(event, Start):
            return self._response(event, _AsyncBody(self))
        assert isinstance(event, AppDone)
        return self._no_response(event)

    async def _next(self, what: str) -> object:
        try:
            event = await get_within(self.events, self.timeout)
        except Expired:
            await self._abandon()
            raise self._read_timeout(what) from None
        if isinstance(event, ClientFailed):
            await self._abandon()
            raise self._client_error()
        if isinstance(event, AppDone):
            self.done = event
        return event

    async def _abandon(self) -> None:
        self.exchange.disconnect()
        task = self.exchange.task
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=min(self.timeout, _ABANDON_GRACE))
            await stop_task(task)

    async def body(self) -> AsyncIterator[bytes]:
        while not self.complete:
            event = await self._next("response body chunk")
            if isinstance(event, Body):
                self.exchange.consumed()
                self.complete = not event.more
                if event.chunk:
                    yield event.chunk
            elif isinstance(event, AppDone):
                self._raise_app_error(event, disconnected=False)
                raise self._truncated()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.done is None:
            if not self.complete:
                self.exchange.disconnect()
            task = self.exchange.task
            assert task is not None
            await asyncio.wait({task}, timeout=self.timeout)
            if not task.done():
                await stop_task(task)
                if self.complete:
                    raise self._lingering()
                return
            self.done = AppDone(task)
        self._raise_app_error(self.done, disconnected=not self.complete)


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, driver: _AsyncDriver) -> None:
        self._driver = driver

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._driver.body():
            yield chunk

    async def aclose(self) -> None:
        await self._driver.close()


class SyncAsgiTransport(httpx.BaseTransport):
    """httpx transport for sync code: the app runs on a `Portal` loop thread.

    Args:
        config: the client's settings (`ClientConfig`).
        portal: returns the portal to run on (started lazily by the client).
    """

    def __init__(self, config: ClientConfig, portal: Callable[[], Portal]) -> None:
        self.config = config
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _SyncDriver(self.config, request, self._portal()).open()


class _SyncDriver(_Driver):
    def __init__(self, config: ClientConfig, request: httpx.Request, portal: Portal) -> None:
        super().__init__(config, request)
        self.portal = portal
        self.events: SimpleQueue[object] = SimpleQueue()
        stream = request.stream
        self._chunks: Iterator[bytes] | None = None
        if isinstance(stream, httpx.ByteStream):
            pull = _bytes_pull(b"".join(stream))
        elif isinstance(stream, httpx.SyncByteStream):
            self._chunks = iter(stream)
            pull = self._pull
        else:
            raise TypeError("TestClient needs a sync request body (bytes or an iterable)")
        scope = build_scope(request, config)
        self.exchange = HttpExchange(config.app, scope, pull, self.events.put)

    async def _pull(self) -> tuple[bytes, bool]:  # runs on the portal loop
        future: asyncio.Future[tuple[bytes, bool]] = asyncio.get_running_loop().create_future()
        self.events.put(_NeedBody(future))
        return await future

    def _serve(self, need: _NeedBody) -> None:
        """Pull the next request body chunk on this (the test's) thread."""
        result: tuple[bytes, bool] | None = None
        error: BaseException | None = None
        if self.exchange.disconnected or self.closed or self._chunks is None:
            error = ClientDisconnected()
        else:
            try:
                result = (next(self._chunks), True)
            except StopIteration:
                result = (b"", False)
            except Exception as exc:  # ClientDisconnected or the body's own failure
                error = exc
        self.portal.call_soon(_settle, need.future, result, error)

    def open(self) -> httpx.Response:
        self.portal.call_soon(self.exchange.start)
        try:
            event = self._next("response start (http.response.start)")
        except BaseException:
            self._abandon()
            raise
        if isinstance(event, Start):
            return self._response(event, _SyncBody(self))
        assert isinstance(event, AppDone)
        return self._no_response(event)

    def _next(self, what: str, deadline: float | None = None) -> object:
        fixed = deadline is not None
        while True:
            if deadline is None or not fixed:
                deadline = time.monotonic() + self.timeout
            try:
                event = self.portal.get(self.events, deadline)
            except Expired:
                if fixed:
                    raise
                self._abandon()
                raise self._read_timeout(what) from None
            if isinstance(event, _NeedBody):
                self._serve(event)
                continue
            if isinstance(event, ClientFailed):
                self._abandon()
                raise self._client_error()
            if isinstance(event, AppDone):
                self.done = event
            return event

    def _wait_done(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.done is None:
            try:
                self._next("end of the application", deadline)
            except Expired:
                return False
        return True

    def _abandon(self) -> None:
        if self.done is not None or not self.portal.alive():
            return
        self.portal.call_soon(self.exchange.disconnect)
        if not self._wait_done(min(self.timeout, _ABANDON_GRACE)):
            self.portal.call_soon(self.exchange.cancel)
            self._wait_done(_ABANDON_GRACE)

    def body(self) -> Iterator[bytes]:
        while not self.complete:
            event = self._next("response body chunk")
            if isinstance(event, Body):
                self.portal.call_soon(self.exchange.consumed)
                self.complete = not event.more
                if event.chunk:
                    yield event.chunk
            elif isinstance(event, AppDone):
                self._raise_app_error(event, disconnected=False)
                raise self._truncated()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.done is None:
            if not self.complete:
                self.portal.call_soon(self.exchange.disconnect)
            if not self._wait_done(self.timeout):
                self.portal.call_soon(self.exchange.cancel)
                self._wait_done(_ABANDON_GRACE)
                if self.complete:
                    raise self._lingering()
                return
        assert self.done is not None
        self._raise_app_error(self.done, disconnected=not self.complete)


class _SyncBody(httpx.SyncByteStream):
    def __init__(self, driver: _SyncDriver) -> None:
        self._driver = driver

    def __iter__(self) -> Iterator[bytes]:
        yield from self._driver.body()

    def close(self) -> None:
        self._driver.close()
