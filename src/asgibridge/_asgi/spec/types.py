"""Static types for ASGI scopes, events and callables, written from the spec data.

The public face is `asgibridge.typing`: asgiref.typing's names with the same
meaning, but with ``NotRequired`` exactly where `tables` says a key is optional,
every extension event typed and in the send union, and WebSocket data events
split into a bytes and a text variant so that a message with neither (or both)
does not type-check when it is annotated as a send/receive event. The
WebSocket and lifespan events are written in `event_types` (split for
size) and gathered here into the unions.

Rules:

- A key's presence (``NotRequired`` or not) and its value type follow `tables`;
  ``tests/test_typing_spec.py`` compares every TypedDict with the data.
- ``WebSocketReceiveEvent`` / ``WebSocketSendEvent`` stay TypedDicts (with both
  keys optional and nullable) so that code written against asgiref, which
  calls them, keeps working; the unions use the exact variants.
- ``ASGISendEvent`` has no ``http.disconnect``: the spec defines it as a
  ``receive`` event only (asgiref lists it in both unions).
"""

# No ``from __future__ import annotations`` here: on Python 3.10 and 3.11
# TypedDict only sees ``NotRequired`` in evaluated annotations, and
# ``__required_keys__`` must be right at run time too.
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, Protocol

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - exercised on 3.10 only
    from typing_extensions import NotRequired, TypedDict

from .event_types import (
    Headers,
    LifespanShutdownCompleteEvent,
    LifespanShutdownEvent,
    LifespanShutdownFailedEvent,
    LifespanStartupCompleteEvent,
    LifespanStartupEvent,
    LifespanStartupFailedEvent,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketConnectEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveBytesEvent,
    WebSocketReceiveEvent,
    WebSocketReceiveTextEvent,
    WebSocketResponseBodyEvent,
    WebSocketResponseStartEvent,
    WebSocketSendBytesEvent,
    WebSocketSendEvent,
    WebSocketSendTextEvent,
)

__all__ = (
    "ASGIVersions",
    "HTTPScope",
    "WebSocketScope",
    "LifespanScope",
    "WWWScope",
    "Scope",
    "TLSExtension",
    "HTTPRequestEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseTrailersEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseZeroCopySendEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponseDebugEvent",
    "HTTPServerPushEvent",
    "HTTPDisconnectEvent",
    "WebSocketConnectEvent",
    "WebSocketAcceptEvent",
    "WebSocketReceiveEvent",
    "WebSocketReceiveBytesEvent",
    "WebSocketReceiveTextEvent",
    "WebSocketSendEvent",
    "WebSocketSendBytesEvent",
    "WebSocketSendTextEvent",
    "WebSocketResponseStartEvent",
    "WebSocketResponseBodyEvent",
    "WebSocketDisconnectEvent",
    "WebSocketCloseEvent",
    "LifespanStartupEvent",
    "LifespanShutdownEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupFailedEvent",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownFailedEvent",
    "ASGIReceiveEvent",
    "ASGISendEvent",
    "ASGIReceiveCallable",
    "ASGISendCallable",
    "ASGI2Protocol",
    "ASGI2Application",
    "ASGI3Application",
    "ASGIApplication",
    "SupportsFileno",
)


class SupportsFileno(Protocol):
    """A file object backed by an OS descriptor (what ``os.sendfile`` needs).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile() as file:
        ...     isinstance(file.fileno(), int)
        True
    """

    def fileno(self) -> int: ...


class ASGIVersions(TypedDict):
    """``scope["asgi"]``: the ASGI version (missing means "2.0") and sub-spec version.

    Example:
        >>> versions: ASGIVersions = {"version": "3.0", "spec_version": "2.3"}
        >>> sorted(ASGIVersions.__required_keys__)
        []
    """

    spec_version: NotRequired[str]
    version: NotRequired[Literal["2.0", "3.0"]]


class HTTPScope(TypedDict):
    """An ``http`` connection scope (www spec 2.5, "HTTP Connection Scope").

    Example:
        >>> scope: HTTPScope = {
        ...     "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        ...     "method": "GET", "path": "/", "query_string": b"", "headers": [],
        ... }
        >>> sorted(HTTPScope.__required_keys__)
        ['asgi', 'headers', 'http_version', 'method', 'path', 'query_string', 'type']
    """

    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class WebSocketScope(TypedDict):
    """A ``websocket`` connection scope (www spec 2.5, "Websocket Connection Scope").

    Example:
        >>> scope: WebSocketScope = {
        ...     "type": "websocket", "asgi": {"version": "3.0"}, "path": "/ws",
        ...     "headers": [], "subprotocols": ["chat"],
        ... }
        >>> sorted(WebSocketScope.__required_keys__)
        ['asgi', 'headers', 'path', 'type']
    """

    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: NotRequired[str]
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: NotRequired[bytes | None]
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | None]
    server: NotRequired[tuple[str, int | None] | None]
    subprotocols: NotRequired[Iterable[str]]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]]]


class LifespanScope(TypedDict):
    """A ``lifespan`` scope (lifespan spec 2.0).

    Example:
        >>> scope: LifespanScope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        >>> sorted(LifespanScope.__required_keys__)
        ['asgi', 'type']
    """

    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


WWWScope = HTTPScope | WebSocketScope
Scope = HTTPScope | WebSocketScope | LifespanScope


class TLSExtension(TypedDict):
    """``scope["extensions"]["tls"]`` (TLS extension 0.2).

    Example:
        >>> tls: TLSExtension = (
        ...     {"server_cert": None, "tls_version": 0x0304, "cipher_suite": 0x1301}
        ... )
        >>> sorted(TLSExtension.__required_keys__)
        ['cipher_suite', 'server_cert', 'tls_version']
    """

    server_cert: str | None
    client_cert_chain: NotRequired[Iterable[str]]
    client_cert_name: NotRequired[str | None]
    client_cert_error: NotRequired[str | None]
    tls_version: int | None
    cipher_suite: int | None


class HTTPRequestEvent(TypedDict):
    """``http.request`` (receive): a chunk of the request body.

    Example:
        >>> event: HTTPRequestEvent = {"type": "http.request", "body": b"hi", "more_body": False}
        >>> sorted(HTTPRequestEvent.__required_keys__)
        ['type']
    """

    type: Literal["http.request"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseStartEvent(TypedDict):
    """``http.response.start`` (send): status and headers.

    Example:
        >>> event: HTTPResponseStartEvent = (
        ...     {"type": "http.response.start", "status": 200, "headers": []}
        ... )
        >>> sorted(HTTPResponseStartEvent.__required_keys__)
        ['status', 'type']
    """

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Headers]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """``http.response.body`` (send): a chunk of the response body.

    Example:
        >>> event: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"ok"}
        >>> sorted(HTTPResponseBodyEvent.__required_keys__)
        ['type']
    """

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """``http.response.trailers`` (send, extension): trailing headers.

    Example:
        >>> event: HTTPResponseTrailersEvent = {"type": "http.response.trailers", "headers": []}
        >>> sorted(HTTPResponseTrailersEvent.__required_keys__)
        ['headers', 'type']
    """

    type: Literal["http.response.trailers"]
    headers: Headers
    more_trailers: NotRequired[bool]


class HTTPResponsePathsendEvent(TypedDict):
    """``http.response.pathsend`` (send, extension): the server sends a file by path.

    Example:
        >>> event: HTTPResponsePathsendEvent = (
        ...     {"type": "http.response.pathsend", "path": "/srv/a.txt"}
        ... )
        >>> sorted(HTTPResponsePathsendEvent.__required_keys__)
        ['path', 'type']
    """

    type: Literal["http.response.pathsend"]
    path: str


class HTTPResponseZeroCopySendEvent(TypedDict):
    """``http.response.zerocopysend`` (send, extension): body from a file descriptor.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryFile() as file:
        ...     event: HTTPResponseZeroCopySendEvent = {
        ...         "type": "http.response.zerocopysend", "file": file, "count": 0
        ...     }
        >>> sorted(HTTPResponseZeroCopySendEvent.__required_keys__)
        ['file', 'type']
    """

    type: Literal["http.response.zerocopysend"]
    file: SupportsFileno
    offset: NotRequired[int]
    count: NotRequired[int]
    more_body: NotRequired[bool]


class HTTPResponseEarlyHintEvent(TypedDict):
    """``http.response.early_hint`` (send, extension): a 103 with Link headers.

    Example:
        >>> event: HTTPResponseEarlyHintEvent = {
        ...     "type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]
        ... }
        >>> sorted(HTTPResponseEarlyHintEvent.__required_keys__)
        ['links', 'type']
    """

    type: Literal["http.response.early_hint"]
    links: Iterable[bytes]


class HTTPResponseDebugEvent(TypedDict):
    """``http.response.debug`` (send, extension, test clients only).

    Example:
        >>> event: HTTPResponseDebugEvent = {"type": "http.response.debug", "info": {}}
        >>> sorted(HTTPResponseDebugEvent.__required_keys__)
        ['info', 'type']
    """

    type: Literal["http.response.debug"]
    info: dict[str, object]


class HTTPServerPushEvent(TypedDict):
    """``http.response.push`` (send, extension): an HTTP/2 server push.

    Example:
        >>> event: HTTPServerPushEvent = (
        ...     {"type": "http.response.push", "path": "/a.css", "headers": []}
        ... )
        >>> sorted(HTTPServerPushEvent.__required_keys__)
        ['headers', 'path', 'type']
    """

    type: Literal["http.response.push"]
    path: str
    headers: Headers


class HTTPDisconnectEvent(TypedDict):
    """``http.disconnect`` (receive): the connection is gone or the response is done.

    Example:
        >>> event: HTTPDisconnectEvent = {"type": "http.disconnect"}
        >>> sorted(HTTPDisconnectEvent.__required_keys__)
        ['type']
    """

    type: Literal["http.disconnect"]


ASGIReceiveEvent = (
    HTTPRequestEvent
    | HTTPDisconnectEvent
    | WebSocketConnectEvent
    | WebSocketReceiveBytesEvent
    | WebSocketReceiveTextEvent
    | WebSocketDisconnectEvent
    | LifespanStartupEvent
    | LifespanShutdownEvent
)

ASGISendEvent = (
    HTTPResponseStartEvent
    | HTTPResponseBodyEvent
    | HTTPResponseTrailersEvent
    | HTTPResponsePathsendEvent
    | HTTPResponseZeroCopySendEvent
    | HTTPResponseEarlyHintEvent
    | HTTPResponseDebugEvent
    | HTTPServerPushEvent
    | WebSocketAcceptEvent
    | WebSocketSendBytesEvent
    | WebSocketSendTextEvent
    | WebSocketResponseStartEvent
    | WebSocketResponseBodyEvent
    | WebSocketCloseEvent
    | LifespanStartupCompleteEvent
    | LifespanStartupFailedEvent
    | LifespanShutdownCompleteEvent
    | LifespanShutdownFailedEvent
)

ASGIReceiveCallable = Callable[[], Awaitable[ASGIReceiveEvent]]
ASGISendCallable = Callable[[ASGISendEvent], Awaitable[None]]


class ASGI2Protocol(Protocol):
    """An ASGI 2 application class: built with the scope, then awaited.

    Example:
        >>> class Hello:
        ...     def __init__(self, scope: Scope) -> None:
        ...         self.scope = scope
        ...     async def __call__(self, receive, send) -> None:
        ...         await send({"type": "http.response.start", "status": 204})
        ...         await send({"type": "http.response.body"})
        >>> application: ASGI2Application = Hello
    """

    def __init__(self, scope: Scope) -> None: ...

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None: ...


ASGI2Application = type[ASGI2Protocol]
ASGI3Application = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]
ASGIApplication = ASGI2Application | ASGI3Application
