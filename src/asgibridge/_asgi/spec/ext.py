"""The spec's extensions (the "Extensions" page and the TLS spec) as data.

A server offers an extension by putting its name in ``scope["extensions"]``,
mapped to a dict (empty, except for ``tls``). An app may send an extension's
events only when the server offered it. Ordering rules of each extension (when
its event may be sent) are enforced by `validator.http`; their sentences are
quoted in `ORDER_NOTES`. Sans-I/O: data only.
"""

from __future__ import annotations

from .model import Event, Extension, Key, Section
from .www import S_WS_DENIAL

__all__ = ("EXTENSIONS", "EXTENSION_EVENTS", "ORDER_NOTES", "TLS_VERSION")

TLS_VERSION = "0.2"

_DOC = "extensions"

S_PUSH = Section(_DOC, "http-2-server-push", "HTTP/2 Server Push")
S_ZEROCOPY = Section(_DOC, "zero-copy-send", "Zero Copy Send")
S_PATHSEND = Section(_DOC, "path-send", "Path Send")
S_EARLY_HINTS = Section(_DOC, "early-hints", "Early Hints")
S_TRAILERS = Section(_DOC, "http-trailers", "HTTP Trailers")
S_DEBUG = Section(_DOC, "debug", "Debug")
S_TLS = Section("specs/tls", "tls-connection-scope", "TLS Connection Scope")
S_TLS_WHEN = Section("specs/tls", "when-to-use-this-extension", "When to use this extension")

_HEADERS = Key(
    "headers",
    "headers",
    checks=("lowercase-names", "no-pseudo", "no-ctl"),
    doc="Header names must be lowercased; no pseudo headers.",
)

EXTENSION_EVENTS = (
    Event(
        "http.response.push",
        "http",
        "app",
        (Key("type", "str"), Key("path", "str", doc="Path of the pushed resource."), _HEADERS),
        S_PUSH,
        extension="http.response.push",
    ),
    Event(
        "http.response.zerocopysend",
        "http",
        "app",
        (
            Key("type", "str"),
            Key("file", "file", doc="Open file with an OS descriptor (os.sendfile)."),
            Key("offset", "int", required=False, checks=("non-negative",)),
            Key("count", "int", required=False, checks=("non-negative",)),
            Key("more_body", "bool", required=False, default=False),
        ),
        S_ZEROCOPY,
        extension="http.response.zerocopysend",
    ),
    Event(
        "http.response.pathsend",
        "http",
        "app",
        (
            Key("type", "str"),
            Key(
                "path",
                "str",
                checks=("absolute",),
                doc="Absolute path of the file the server sends.",
            ),
        ),
        S_PATHSEND,
        extension="http.response.pathsend",
    ),
    Event(
        "http.response.early_hint",
        "http",
        "app",
        (Key("type", "str"), Key("links", "bytes_iterable", doc="Link header values.")),
        S_EARLY_HINTS,
        extension="http.response.early_hint",
    ),
    Event(
        "http.response.trailers",
        "http",
        "app",
        (
            Key("type", "str"),
            _HEADERS,
            Key("more_trailers", "bool", required=False, default=False),
        ),
        S_TRAILERS,
        extension="http.response.trailers",
    ),
    Event(
        "http.response.debug",
        "http",
        "app",
        (Key("type", "str"), Key("info", "dict", doc="Free-form debug information.")),
        S_DEBUG,
        extension="http.response.debug",
    ),
)

_TLS_FIELDS = (
    Key("server_cert", "str", nullable=True, doc="PEM server certificate or None. Mandatory."),
    Key("client_cert_chain", "str_iterable", required=False, default=()),
    Key("client_cert_name", "str", required=False, nullable=True),
    Key("client_cert_error", "str", required=False, nullable=True),
    Key("tls_version", "int", nullable=True, doc="0x0303 for TLS 1.2... Mandatory."),
    Key("cipher_suite", "int", nullable=True, doc="16-bit cipher suite. Mandatory."),
)

EXTENSIONS = {
    ext.name: ext
    for ext in (
        Extension(
            "websocket.http.response",
            ("websocket",),
            S_WS_DENIAL,
            ("websocket.http.response.start", "websocket.http.response.body"),
        ),
        Extension("http.response.push", ("http",), S_PUSH, ("http.response.push",)),
        Extension(
            "http.response.zerocopysend", ("http",), S_ZEROCOPY, ("http.response.zerocopysend",)
        ),
        Extension("http.response.pathsend", ("http",), S_PATHSEND, ("http.response.pathsend",)),
        Extension(
            "http.response.early_hint", ("http",), S_EARLY_HINTS, ("http.response.early_hint",)
        ),
        Extension("http.response.trailers", ("http",), S_TRAILERS, ("http.response.trailers",)),
        Extension("http.response.debug", ("http",), S_DEBUG, ("http.response.debug",)),
        Extension("tls", ("http", "websocket"), S_TLS, (), _TLS_FIELDS),
    )
}

# When each extension event may be sent, in the spec's words (paraphrased).
ORDER_NOTES = {
    "http.response.push": "after Response Start, before the final Response Body",
    "http.response.zerocopysend": "after Response Start, before the final Response Body; "
    "may be mixed with http.response.body and sent many times",
    "http.response.pathsend": "after Response Start, once, never mixed with "
    "http.response.body; it completes the body",
    "http.response.early_hint": "after Response Start, before the final Response Body, "
    "any number of times",
    "http.response.trailers": "only if Response Start had trailers=True, after the final "
    "Response Body; more_trailers=False completes the response",
    "http.response.debug": "once, before Response Start",
}
