"""Static types for ASGI scopes, events and callables, written from the spec data.

The public face is `asgibridge.typing`: asgiref.typing's names with the same
meaning, but with ``NotRequired`` exactly where `_spec` says a key is optional,
every extension event typed and in the send union, and WebSocket data events
split into a bytes and a text variant so that a message with neither (or both)
does not type-check when it is annotated as a send/receive event.

Rules:

- A key's presence (``NotRequired`` or not) and its value type follow `_spec`;
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

Headers = Iterable[tuple[bytes, bytes]]


class SupportsFileno(Protocol):
    """A file object backed by an OS descriptor (what ``os.sendfile`` needs)."""

    def fileno(self) -> int: ...


class ASGIVersions(TypedDict):
    """``scope["asgi"]``: the ASGI version (missing means "2.0") and sub-spec version."""

    spec_version: NotRequired[str]
    version: NotRequired[Literal["2.0", "3.0"]]


class HTTPScope(TypedDict):
    """An ``http`` connection scope (www spec 2.5, "HTTP Connection Scope")."""

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
    """A ``websocket`` connection scope (www spec 2.5, "Websocket Connection Scope")."""

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
    """A ``lifespan`` scope (lifespan spec 2.0)."""

    type: Literal["lifespan"]
    asgi: ASGIVersions
    state: NotRequired[dict[str, Any]]


WWWScope = HTTPScope | WebSocketScope
Scope = HTTPScope | WebSocketScope | LifespanScope


class TLSExtension(TypedDict):
    """``scope["extensions"]["tls"]`` (TLS extension 0.2)."""

    server_cert: str | None
    client_cert_chain: NotRequired[Iterable[str]]
    client_cert_name: NotRequired[str | None]
    client_cert_error: NotRequired[str | None]
    tls_version: int | None
    cipher_suite: int | None


class HTTPRequestEvent(TypedDict):
    """``http.request`` (receive): a chunk of the request body."""

    type: Literal["http.request"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseStartEvent(TypedDict):
    """``http.response.start`` (send): status and headers."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[Headers]
    trailers: NotRequired[bool]


class HTTPResponseBodyEvent(TypedDict):
    """``http.response.body`` (send): a chunk of the response body."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HTTPResponseTrailersEvent(TypedDict):
    """``http.response.trailers`` (send, extension): trailing headers."""

    type: Literal["http.response.trailers"]
    headers: Headers
    more_trailers: NotRequired[bool]


class HTTPResponsePathsendEvent(TypedDict):
    """``http.response.pathsend`` (send, extension): the server sends a file by path."""

    type: Literal["http.response.pathsend"]
    path: str


class HTTPResponseZeroCopySendEvent(TypedDict):
    """``http.response.zerocopysend`` (send, extension): body from a file descriptor."""

    type: Literal["http.response.zerocopysend"]
    file: SupportsFileno
    offset: NotRequired[int]
    count: NotRequired[int]
    more_body: NotRequired[bool]


class HTTPResponseEarlyHintEvent(TypedDict):
    """``http.response.early_hint`` (send, extension): a 103 with Link headers."""

    type: Literal["http.response.early_hint"]
    links: Iterable[bytes]


class HTTPResponseDebugEvent(TypedDict):
    """``http.response.debug`` (send, extension, test clients only)."""

    type: Literal["http.response.debug"]
    info: dict[str, object]


class HTTPServerPushEvent(TypedDict):
    """``http.response.push`` (send, extension): an HTTP/2 server push."""

    type: Literal["http.response.push"]
    path: str
    headers: Headers


class HTTPDisconnectEvent(TypedDict):
    """``http.disconnect`` (receive): the connection is gone or the response is done."""

    type: Literal["http.disconnect"]


class WebSocketConnectEvent(TypedDict):
    """``websocket.connect`` (receive): the handshake started."""

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """``websocket.accept`` (send): accept the handshake."""

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[Headers]


class WebSocketReceiveEvent(TypedDict):
    """``websocket.receive`` in general form: exactly one of bytes/text is not None."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketReceiveBytesEvent(TypedDict):
    """``websocket.receive`` carrying a binary message."""

    type: Literal["websocket.receive"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketReceiveTextEvent(TypedDict):
    """``websocket.receive`` carrying a text message."""

    type: Literal["websocket.receive"]
    bytes: NotRequired[None]
    text: str


class WebSocketSendEvent(TypedDict):
    """``websocket.send`` in general form: exactly one of bytes/text is not None."""

    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketSendBytesEvent(TypedDict):
    """``websocket.send`` carrying a binary message."""

    type: Literal["websocket.send"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketSendTextEvent(TypedDict):
    """``websocket.send`` carrying a text message."""

    type: Literal["websocket.send"]
    bytes: NotRequired[None]
    text: str


class WebSocketResponseStartEvent(TypedDict):
    """``websocket.http.response.start`` (send, denial extension)."""

    type: Literal["websocket.http.response.start"]
    status: int
    headers: NotRequired[Headers]


class WebSocketResponseBodyEvent(TypedDict):
    """``websocket.http.response.body`` (send, denial extension)."""

    type: Literal["websocket.http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    """``websocket.disconnect`` (receive): the socket is closed."""

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    """``websocket.close`` (send): close, or deny before accepting."""

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


class LifespanStartupEvent(TypedDict):
    """``lifespan.startup`` (receive)."""

    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    """``lifespan.shutdown`` (receive)."""

    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    """``lifespan.startup.complete`` (send)."""

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """``lifespan.startup.failed`` (send)."""

    type: Literal["lifespan.startup.failed"]
    message: NotRequired[str]


class LifespanShutdownCompleteEvent(TypedDict):
    """``lifespan.shutdown.complete`` (send)."""

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """``lifespan.shutdown.failed`` (send)."""

    type: Literal["lifespan.shutdown.failed"]
    message: NotRequired[str]


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
    """An ASGI 2 application class: built with the scope, then awaited."""

    def __init__(self, scope: Scope) -> None: ...

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None: ...


ASGI2Application = type[ASGI2Protocol]
ASGI3Application = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]
ASGIApplication = ASGI2Application | ASGI3Application
