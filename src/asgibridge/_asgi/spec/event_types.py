"""Static types for the WebSocket and lifespan events (receive and send).

Part of `types` (split for size; `asgibridge.typing` re-exports both).
Same rules: ``NotRequired`` exactly where `tables` says a key is optional, and
``tests/test_typing_spec.py`` compares every TypedDict with the data.
WebSocket data events come as a bytes and a text variant, which the send and
receive unions use; the general ``WebSocketReceiveEvent`` /
``WebSocketSendEvent`` stay constructible, as in asgiref.
"""

# No ``from __future__ import annotations``: see `types`.
import sys
from collections.abc import Iterable
from typing import Literal

if sys.version_info >= (3, 11):
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - exercised on 3.10 only
    from typing_extensions import NotRequired, TypedDict

__all__ = (
    "Headers",
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
)

Headers = Iterable[tuple[bytes, bytes]]


class WebSocketConnectEvent(TypedDict):
    """``websocket.connect`` (receive): the handshake started.

    Example:
        >>> event: WebSocketConnectEvent = {"type": "websocket.connect"}
        >>> sorted(WebSocketConnectEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """``websocket.accept`` (send): accept the handshake.

    Example:
        >>> event: WebSocketAcceptEvent = {"type": "websocket.accept", "subprotocol": None}
        >>> sorted(WebSocketAcceptEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[Headers]


class WebSocketReceiveEvent(TypedDict):
    """``websocket.receive`` in general form: exactly one of bytes/text is not None.

    Example:
        >>> event: WebSocketReceiveEvent = {"type": "websocket.receive", "text": "hi"}
        >>> sorted(WebSocketReceiveEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.receive"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketReceiveBytesEvent(TypedDict):
    """``websocket.receive`` carrying a binary message.

    Example:
        >>> event: WebSocketReceiveBytesEvent = {"type": "websocket.receive", "bytes": b"hi"}
        >>> sorted(WebSocketReceiveBytesEvent.__required_keys__)
        ['bytes', 'type']
    """

    type: Literal["websocket.receive"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketReceiveTextEvent(TypedDict):
    """``websocket.receive`` carrying a text message.

    Example:
        >>> event: WebSocketReceiveTextEvent = {"type": "websocket.receive", "text": "hi"}
        >>> sorted(WebSocketReceiveTextEvent.__required_keys__)
        ['text', 'type']
    """

    type: Literal["websocket.receive"]
    bytes: NotRequired[None]
    text: str


class WebSocketSendEvent(TypedDict):
    """``websocket.send`` in general form: exactly one of bytes/text is not None.

    Example:
        >>> event: WebSocketSendEvent = {"type": "websocket.send", "bytes": b"hi"}
        >>> sorted(WebSocketSendEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.send"]
    bytes: NotRequired[bytes | None]
    text: NotRequired[str | None]


class WebSocketSendBytesEvent(TypedDict):
    """``websocket.send`` carrying a binary message.

    Example:
        >>> event: WebSocketSendBytesEvent = {"type": "websocket.send", "bytes": b"hi"}
        >>> sorted(WebSocketSendBytesEvent.__required_keys__)
        ['bytes', 'type']
    """

    type: Literal["websocket.send"]
    bytes: bytes
    text: NotRequired[None]


class WebSocketSendTextEvent(TypedDict):
    """``websocket.send`` carrying a text message.

    Example:
        >>> event: WebSocketSendTextEvent = {"type": "websocket.send", "text": "hi"}
        >>> sorted(WebSocketSendTextEvent.__required_keys__)
        ['text', 'type']
    """

    type: Literal["websocket.send"]
    bytes: NotRequired[None]
    text: str


class WebSocketResponseStartEvent(TypedDict):
    """``websocket.http.response.start`` (send, denial extension).

    Example:
        >>> event: WebSocketResponseStartEvent = (
        ...     {"type": "websocket.http.response.start", "status": 403}
        ... )
        >>> sorted(WebSocketResponseStartEvent.__required_keys__)
        ['status', 'type']
    """

    type: Literal["websocket.http.response.start"]
    status: int
    headers: NotRequired[Headers]


class WebSocketResponseBodyEvent(TypedDict):
    """``websocket.http.response.body`` (send, denial extension).

    Example:
        >>> event: WebSocketResponseBodyEvent = (
        ...     {"type": "websocket.http.response.body", "body": b"no"}
        ... )
        >>> sorted(WebSocketResponseBodyEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class WebSocketDisconnectEvent(TypedDict):
    """``websocket.disconnect`` (receive): the socket is closed.

    Example:
        >>> event: WebSocketDisconnectEvent = {"type": "websocket.disconnect", "code": 1000}
        >>> sorted(WebSocketDisconnectEvent.__required_keys__)
        ['code', 'type']
    """

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class WebSocketCloseEvent(TypedDict):
    """``websocket.close`` (send): close, or deny before accepting.

    Example:
        >>> event: WebSocketCloseEvent = {"type": "websocket.close", "code": 1000}
        >>> sorted(WebSocketCloseEvent.__required_keys__)
        ['type']
    """

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


class LifespanStartupEvent(TypedDict):
    """``lifespan.startup`` (receive).

    Example:
        >>> event: LifespanStartupEvent = {"type": "lifespan.startup"}
        >>> sorted(LifespanStartupEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    """``lifespan.shutdown`` (receive).

    Example:
        >>> event: LifespanShutdownEvent = {"type": "lifespan.shutdown"}
        >>> sorted(LifespanShutdownEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    """``lifespan.startup.complete`` (send).

    Example:
        >>> event: LifespanStartupCompleteEvent = {"type": "lifespan.startup.complete"}
        >>> sorted(LifespanStartupCompleteEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    """``lifespan.startup.failed`` (send).

    Example:
        >>> event: LifespanStartupFailedEvent = (
        ...     {"type": "lifespan.startup.failed", "message": "no db"}
        ... )
        >>> sorted(LifespanStartupFailedEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.startup.failed"]
    message: NotRequired[str]


class LifespanShutdownCompleteEvent(TypedDict):
    """``lifespan.shutdown.complete`` (send).

    Example:
        >>> event: LifespanShutdownCompleteEvent = {"type": "lifespan.shutdown.complete"}
        >>> sorted(LifespanShutdownCompleteEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    """``lifespan.shutdown.failed`` (send).

    Example:
        >>> event: LifespanShutdownFailedEvent = (
        ...     {"type": "lifespan.shutdown.failed", "message": "stuck"}
        ... )
        >>> sorted(LifespanShutdownFailedEvent.__required_keys__)
        ['type']
    """

    type: Literal["lifespan.shutdown.failed"]
    message: NotRequired[str]
