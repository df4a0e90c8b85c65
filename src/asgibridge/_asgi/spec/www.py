"""The HTTP and WebSocket sub-specification (version 2.5) as data.

Source: "HTTP & WebSocket ASGI Message Format", version 2.5 (2024-06-05),
``specs/www`` on the spec site. Every key below carries the spec's
required/optional status, default, value type and version; `tables` gathers
these into the lookup tables. Sans-I/O: data only.

Version history of this sub-spec (what ``scope["asgi"]["spec_version"]``
promises): 2.0 first version; 2.1 ``headers`` in ``websocket.accept``; 2.2
``None`` allowed as the port in ``server`` (unix sockets); 2.3 ``reason`` in
``websocket.close``; 2.4 ``send()`` on a closed connection raises an
``OSError`` subclass; 2.5 ``reason`` in ``websocket.disconnect``.
"""

from __future__ import annotations

from .model import Event, Key, Scope, Section

__all__ = ("HTTP_EVENTS", "HTTP_SCOPE", "WEBSOCKET_EVENTS", "WEBSOCKET_SCOPE", "WWW_VERSIONS")

WWW_VERSIONS = ("2.0", "2.1", "2.2", "2.3", "2.4", "2.5")

_DOC = "specs/www"

S_HTTP_SCOPE = Section(_DOC, "http-connection-scope", "HTTP Connection Scope")
S_REQUEST = Section(_DOC, "request-receive-event", "Request - receive event")
S_RESPONSE_START = Section(_DOC, "response-start-send-event", "Response Start - send event")
S_RESPONSE_BODY = Section(_DOC, "response-body-send-event", "Response Body - send event")
S_HTTP_DISCONNECT = Section(_DOC, "disconnect-receive-event", "Disconnect - receive event")
S_WS_SCOPE = Section(_DOC, "websocket-connection-scope", "Websocket Connection Scope")
S_WS_CONNECT = Section(_DOC, "connect-receive-event", "Connect - receive event")
S_WS_ACCEPT = Section(_DOC, "accept-send-event", "Accept - send event")
S_WS_RECEIVE = Section(_DOC, "receive-receive-event", "Receive - receive event")
S_WS_SEND = Section(_DOC, "send-send-event", "Send - send event")
S_WS_DISCONNECT = Section(_DOC, "disconnect-receive-event-ws", "Disconnect - receive event")
S_WS_CLOSE = Section(_DOC, "close-send-event", "Close - send event")
S_WS_DENIAL = Section("extensions", "websocket-denial-response", "Websocket Denial Response")


def asgi_key(spec_version_default: str) -> Key:
    """The ``scope["asgi"]`` dict every scope carries (ASGI 3.0, "Applications").

    ``version`` defaults to ``"2.0"`` when missing (main spec); ``spec_version``
    to the sub-spec's first version.
    """
    return Key(
        "asgi",
        "dict",
        fields=(
            Key(
                "version",
                "str",
                required=False,
                default="2.0",
                choices=("2.0", "3.0"),
                doc="ASGI version the server implements; missing means 2.0.",
            ),
            Key(
                "spec_version",
                "str",
                required=False,
                default=spec_version_default,
                doc="Version of the sub-spec the server understands.",
            ),
        ),
        doc="Present in every scope (main spec, 'Applications').",
    )


# Keys shared word for word by the HTTP and WebSocket scopes.
_COMMON_WWW_KEYS = (
    Key("path", "str", doc="Request target without the query string, percent-decoded."),
    Key(
        "raw_path",
        "bytes",
        required=False,
        nullable=True,
        doc="Path exactly as received; missing means None.",
    ),
    Key(
        "root_path",
        "str",
        required=False,
        default="",
        doc="Mount point, as SCRIPT_NAME in WSGI.",
    ),
    Key(
        "headers",
        "headers",
        checks=("no-pseudo",),
        doc="Request headers; names should (not must) be lowercase; "
        "pseudo headers must be removed.",
    ),
    Key(
        "client",
        "host_port",
        required=False,
        nullable=True,
        doc="[host, port] of the remote end; missing means None.",
    ),
    Key(
        "server",
        "server_addr",
        required=False,
        nullable=True,
        checks=("unix-socket-since-2.2",),
        doc="[host, port] or [path, None] (unix socket, spec 2.2); missing means None.",
    ),
    Key(
        "state",
        "dict",
        required=False,
        doc="Shallow copy of the lifespan state; missing: not supported.",
    ),
    Key(
        "extensions",
        "dict",
        required=False,
        checks=("dict-values",),
        doc="Extensions the server offers, each mapped to a dict (main spec).",
    ),
)


HTTP_SCOPE = Scope(
    "http",
    "http",
    (
        Key("type", "str", choices=("http",)),
        asgi_key("2.0"),
        Key("http_version", "str", choices=("1.0", "1.1", "2")),
        Key("method", "str", checks=("uppercase",), doc="HTTP method, uppercased."),
        Key(
            "scheme",
            "str",
            required=False,
            default="http",
            checks=("non-empty",),
            doc="URL scheme; optional but must not be empty.",
        ),
        Key("query_string", "bytes", doc="URL portion after '?', percent-encoded."),
        *_COMMON_WWW_KEYS,
    ),
    S_HTTP_SCOPE,
)

_RESPONSE_HEADERS = Key(
    "headers",
    "headers",
    required=False,
    default=(),
    checks=("lowercase-names", "no-pseudo", "no-ctl"),
    doc="Response headers; names must be lowercased; no pseudo headers.",
)


def body_keys() -> tuple[Key, ...]:
    """``body`` and ``more_body``, as in Request and Response Body."""
    return (
        Key("body", "bytes", required=False, default=b""),
        Key("more_body", "bool", required=False, default=False),
    )


HTTP_EVENTS = (
    Event(
        "http.request",
        "http",
        "server",
        (Key("type", "str"), *body_keys()),
        S_REQUEST,
    ),
    Event(
        "http.response.start",
        "http",
        "app",
        (
            Key("type", "str"),
            Key("status", "int", checks=("status-range",), doc="HTTP status code."),
            _RESPONSE_HEADERS,
            Key(
                "trailers",
                "bool",
                required=False,
                default=False,
                doc="True: http.response.trailers follows the final body.",
            ),
        ),
        S_RESPONSE_START,
    ),
    Event(
        "http.response.body",
        "http",
        "app",
        (Key("type", "str"), *body_keys()),
        S_RESPONSE_BODY,
    ),
    Event("http.disconnect", "http", "server", (Key("type", "str"),), S_HTTP_DISCONNECT),
)

WEBSOCKET_SCOPE = Scope(
    "websocket",
    "websocket",
    (
        Key("type", "str", choices=("websocket",)),
        asgi_key("2.0"),
        Key("http_version", "str", required=False, default="1.1", choices=("1.1", "2")),
        Key(
            "scheme",
            "str",
            required=False,
            default="ws",
            checks=("non-empty",),
            doc="URL scheme; optional but must not be empty.",
        ),
        Key(
            "query_string",
            "bytes",
            required=False,
            default=b"",
            nullable=True,
            doc="URL portion after '?'; missing or None means empty.",
        ),
        *_COMMON_WWW_KEYS,
        Key(
            "subprotocols",
            "str_iterable",
            required=False,
            default=(),
            doc="Subprotocols the client offered.",
        ),
    ),
    S_WS_SCOPE,
)

_DATA_KEYS = (
    Key("bytes", "bytes", required=False, nullable=True),
    Key("text", "str", required=False, nullable=True),
)

WEBSOCKET_EVENTS = (
    Event("websocket.connect", "websocket", "server", (Key("type", "str"),), S_WS_CONNECT),
    Event(
        "websocket.accept",
        "websocket",
        "app",
        (
            Key("type", "str"),
            Key("subprotocol", "str", required=False, nullable=True),
            Key(
                "headers",
                "headers",
                required=False,
                default=(),
                since="2.1",
                checks=("lowercase-names", "no-pseudo", "no-ctl", "no-sec-websocket-protocol"),
                doc="Extra handshake response headers; never sec-websocket-protocol.",
            ),
        ),
        S_WS_ACCEPT,
    ),
    Event(
        "websocket.receive",
        "websocket",
        "server",
        (Key("type", "str"), *_DATA_KEYS),
        S_WS_RECEIVE,
    ),
    Event("websocket.send", "websocket", "app", (Key("type", "str"), *_DATA_KEYS), S_WS_SEND),
    Event(
        "websocket.disconnect",
        "websocket",
        "server",
        (
            Key("type", "str"),
            Key("code", "int", doc="Close code; 1005 when the client sent none."),
            Key("reason", "str", required=False, default="", nullable=True, since="2.5"),
        ),
        S_WS_DISCONNECT,
    ),
    Event(
        "websocket.close",
        "websocket",
        "app",
        (
            Key("type", "str"),
            Key("code", "int", required=False, default=1000, checks=("valid-close-code",)),
            Key(
                "reason",
                "str",
                required=False,
                default="",
                nullable=True,
                since="2.3",
                checks=("max-reason-length",),
            ),
        ),
        S_WS_CLOSE,
    ),
    # Websocket Denial Response extension: "a structure that matches the
    # http.response.start and http.response.body messages".
    Event(
        "websocket.http.response.start",
        "websocket",
        "app",
        (
            Key("type", "str"),
            Key("status", "int", checks=("status-range",)),
            _RESPONSE_HEADERS,
        ),
        S_WS_DENIAL,
        extension="websocket.http.response",
    ),
    Event(
        "websocket.http.response.body",
        "websocket",
        "app",
        (Key("type", "str"), *body_keys()),
        S_WS_DENIAL,
        extension="websocket.http.response",
    ),
)
