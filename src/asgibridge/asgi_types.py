"""The ASGI types asgiref.typing lacks (asgibridge only): TLS, early hints, zero-copy, WebSocket.

`TLSExtension` (the ``tls`` scope extension), `HTTPResponseEarlyHintEvent`,
`HTTPResponseZeroCopySendEvent` and its `SupportsFileno`, and the bytes and
text variants of the WebSocket data events (`asgibridge.typing`'s
``WebSocketReceiveEvent`` / ``WebSocketSendEvent`` are their unions). Checked
against the spec tables like `asgibridge.typing`'s.
"""

from ._asgi.spec.types import (
    HTTPResponseEarlyHintEvent,
    HTTPResponseZeroCopySendEvent,
    SupportsFileno,
    TLSExtension,
    WebSocketReceiveBytesEvent,
    WebSocketReceiveTextEvent,
    WebSocketSendBytesEvent,
    WebSocketSendTextEvent,
)

__all__ = (
    "HTTPResponseEarlyHintEvent",
    "HTTPResponseZeroCopySendEvent",
    "SupportsFileno",
    "TLSExtension",
    "WebSocketReceiveBytesEvent",
    "WebSocketReceiveTextEvent",
    "WebSocketSendBytesEvent",
    "WebSocketSendTextEvent",
)
