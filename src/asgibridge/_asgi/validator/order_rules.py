"""The hand-written rules of the validator: order, returns, per-event conditions.

Data only: ``(id, side, what is expected, spec section)`` per rule, gathered
into `RULES` by `rules` together with the rules generated from the
spec data. The state machines (`http`, `websocket`,
`lifespan`) raise them by id. Sans-I/O.
"""

from __future__ import annotations

from ..spec.ext import S_DEBUG, S_PATHSEND, S_PUSH, S_TRAILERS
from ..spec.ext import S_EARLY_HINTS as S_HINTS
from ..spec.lifespan import (
    S_SHUTDOWN,
    S_SHUTDOWN_COMPLETE,
    S_STARTUP,
    S_STARTUP_COMPLETE,
    S_STARTUP_FAILED,
)
from ..spec.model import Section, Sender
from ..spec.www import (
    S_HTTP_DISCONNECT,
    S_REQUEST,
    S_RESPONSE_BODY,
    S_RESPONSE_START,
    S_WS_ACCEPT,
    S_WS_CLOSE,
    S_WS_CONNECT,
    S_WS_DENIAL,
    S_WS_DISCONNECT,
    S_WS_SEND,
)

__all__ = ("ORDER_RULES",)

ORDER_RULES: tuple[tuple[str, Sender, str, Section], ...] = (
    # HTTP, app side.
    ("http.order.start-twice", "app", "one http.response.start per response", S_RESPONSE_START),
    (
        "http.order.body-before-start",
        "app",
        "response body events (body, zerocopysend, pathsend) follow http.response.start",
        S_RESPONSE_START,
    ),
    (
        "http.order.after-final-body",
        "app",
        "no body, push or early hint after the final body (more_body=False)",
        S_RESPONSE_BODY,
    ),
    (
        "http.order.after-response-complete",
        "app",
        "nothing is sent once the response is complete",
        S_RESPONSE_BODY,
    ),
    ("http.response.push.before-start", "app", "push follows Response Start", S_PUSH),
    ("http.response.early_hint.before-start", "app", "hints follow Response Start", S_HINTS),
    (
        "http.response.pathsend.mixed-with-body",
        "app",
        "pathsend is the whole body: never mixed with http.response.body or zerocopysend",
        S_PATHSEND,
    ),
    (
        "http.response.start.trailers.not-offered",
        "app",
        "trailers=True only when scope['extensions'] offers 'http.response.trailers'",
        S_TRAILERS,
    ),
    (
        "http.response.trailers.not-announced",
        "app",
        "http.response.trailers only after a Response Start with trailers=True",
        S_TRAILERS,
    ),
    (
        "http.response.trailers.before-final-body",
        "app",
        "http.response.trailers follows the final body (more_body=False)",
        S_TRAILERS,
    ),
    ("http.response.debug.after-start", "app", "debug is sent before Response Start", S_DEBUG),
    ("http.response.debug.twice", "app", "debug is sent once", S_DEBUG),
    (
        "http.return.no-response",
        "app",
        "an app that returns normally has sent a complete response (or seen http.disconnect)",
        S_RESPONSE_START,
    ),
    (
        "http.return.incomplete-response",
        "app",
        "an app that returns normally has finished its response body (more_body=False)",
        S_RESPONSE_BODY,
    ),
    # HTTP, server side.
    (
        "http.order.request-after-body-complete",
        "server",
        "no http.request after one with more_body=False",
        S_REQUEST,
    ),
    (
        "http.order.request-after-disconnect",
        "server",
        "only http.disconnect after http.disconnect",
        S_HTTP_DISCONNECT,
    ),
    # WebSocket, server side.
    (
        "websocket.order.first-not-connect",
        "server",
        "the first event is websocket.connect",
        S_WS_CONNECT,
    ),
    ("websocket.order.connect-twice", "server", "websocket.connect comes once", S_WS_CONNECT),
    (
        "websocket.order.receive-before-accept",
        "server",
        "websocket.receive only after the app accepted",
        S_WS_CONNECT,
    ),
    (
        "websocket.order.receive-after-disconnect",
        "server",
        "only websocket.disconnect after websocket.disconnect",
        S_WS_DISCONNECT,
    ),
    (
        "websocket.receive.exactly-one",
        "server",
        "exactly one of bytes and text is not None",
        Section("specs/www", "receive-receive-event", "Receive - receive event"),
    ),
    # WebSocket, app side.
    ("websocket.order.accept-twice", "app", "websocket.accept is sent once", S_WS_ACCEPT),
    (
        "websocket.order.accept-after-close",
        "app",
        "no websocket.accept after websocket.close",
        S_WS_CLOSE,
    ),
    (
        "websocket.order.send-before-accept",
        "app",
        "websocket.send only after websocket.accept",
        S_WS_SEND,
    ),
    (
        "websocket.order.after-close",
        "app",
        "nothing is sent after the app's websocket.close",
        S_WS_CLOSE,
    ),
    (
        "websocket.send.exactly-one",
        "app",
        "exactly one of bytes and text is not None",
        S_WS_SEND,
    ),
    (
        "websocket.accept.subprotocol.not-offered",
        "app",
        "the accepted subprotocol is one the client offered in scope['subprotocols']",
        S_WS_ACCEPT,
    ),
    (
        "websocket.order.denial-after-accept",
        "app",
        "a denial response is sent instead of accepting, never after",
        S_WS_DENIAL,
    ),
    (
        "websocket.order.denial-start-twice",
        "app",
        "one websocket.http.response.start per connection",
        S_WS_DENIAL,
    ),
    (
        "websocket.order.denial-body-before-start",
        "app",
        "websocket.http.response.body follows websocket.http.response.start",
        S_WS_DENIAL,
    ),
    (
        "websocket.order.message-during-denial",
        "app",
        "no websocket messages after a denial response started",
        S_WS_DENIAL,
    ),
    (
        "websocket.return.no-reply",
        "app",
        "websocket.connect is answered with accept, close or a denial response",
        S_WS_CONNECT,
    ),
    (
        "websocket.return.incomplete-denial",
        "app",
        "a started denial response is finished (more_body=False)",
        S_WS_DENIAL,
    ),
    # Lifespan, server side.
    ("lifespan.order.startup-twice", "server", "lifespan.startup comes once", S_STARTUP),
    (
        "lifespan.order.shutdown-before-startup-reply",
        "server",
        "lifespan.shutdown only after the app answered lifespan.startup",
        S_SHUTDOWN,
    ),
    (
        "lifespan.order.shutdown-after-startup-failed",
        "server",
        "after lifespan.startup.failed the server exits without lifespan.shutdown",
        S_STARTUP_FAILED,
    ),
    ("lifespan.order.shutdown-twice", "server", "lifespan.shutdown comes once", S_SHUTDOWN),
    # Lifespan, app side.
    (
        "lifespan.order.startup-reply-unasked",
        "app",
        "lifespan.startup.complete/failed answer a lifespan.startup",
        S_STARTUP_COMPLETE,
    ),
    (
        "lifespan.order.startup-reply-twice",
        "app",
        "lifespan.startup is answered once",
        S_STARTUP_COMPLETE,
    ),
    (
        "lifespan.order.shutdown-reply-unasked",
        "app",
        "lifespan.shutdown.complete/failed answer a lifespan.shutdown",
        S_SHUTDOWN_COMPLETE,
    ),
    (
        "lifespan.order.shutdown-reply-twice",
        "app",
        "lifespan.shutdown is answered once",
        S_SHUTDOWN_COMPLETE,
    ),
    (
        "lifespan.return.startup-unanswered",
        "app",
        "an app that returns normally has answered lifespan.startup "
        "(raising instead means 'lifespan not supported')",
        S_STARTUP_COMPLETE,
    ),
    (
        "lifespan.return.shutdown-unanswered",
        "app",
        "an app that returns normally has answered lifespan.shutdown",
        S_SHUTDOWN_COMPLETE,
    ),
)
