"""ASGI scope, event and application types: asgiref.typing's names, checked against the spec.

Keys the spec marks optional are ``NotRequired``; every extension event is
typed and in the send union; WebSocket data events come in bytes and text
variants. See ``docs/validation.md`` for the differences from asgiref.typing.
Only asgiref's names live here; the types asgiref.typing lacks (the TLS
extension, early hints, zero-copy send, the bytes and text WebSocket events)
are in `asgibridge.asgi_types`.
"""

from ._asgi.spec.types import (
    ASGI2Application,
    ASGI2Protocol,
    ASGI3Application,
    ASGIApplication,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    ASGIVersions,
    HTTPDisconnectEvent,
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseDebugEvent,
    HTTPResponsePathsendEvent,
    HTTPResponseStartEvent,
    HTTPResponseTrailersEvent,
    HTTPScope,
    HTTPServerPushEvent,
    LifespanScope,
    LifespanShutdownCompleteEvent,
    LifespanShutdownEvent,
    LifespanShutdownFailedEvent,
    LifespanStartupCompleteEvent,
    LifespanStartupEvent,
    LifespanStartupFailedEvent,
    Scope,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketConnectEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveEvent,
    WebSocketResponseBodyEvent,
    WebSocketResponseStartEvent,
    WebSocketScope,
    WebSocketSendEvent,
    WWWScope,
)
from ._moved import moved_names

__all__ = (
    "ASGIVersions",
    "HTTPScope",
    "WebSocketScope",
    "LifespanScope",
    "WWWScope",
    "Scope",
    "HTTPRequestEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseTrailersEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseDebugEvent",
    "HTTPServerPushEvent",
    "HTTPDisconnectEvent",
    "WebSocketConnectEvent",
    "WebSocketAcceptEvent",
    "WebSocketReceiveEvent",
    "WebSocketSendEvent",
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
)

# asgibridge's additions that used to live here: still importable, with a warning.
__getattr__ = moved_names(
    __name__,
    {
        "HTTPResponseEarlyHintEvent": "asgibridge.asgi_types",
        "HTTPResponseZeroCopySendEvent": "asgibridge.asgi_types",
        "SupportsFileno": "asgibridge.asgi_types",
        "TLSExtension": "asgibridge.asgi_types",
        "WebSocketReceiveBytesEvent": "asgibridge.asgi_types",
        "WebSocketReceiveTextEvent": "asgibridge.asgi_types",
        "WebSocketSendBytesEvent": "asgibridge.asgi_types",
        "WebSocketSendTextEvent": "asgibridge.asgi_types",
    },
)
