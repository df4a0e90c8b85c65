"""The ASGI specification as data: one source of truth for typing and validation.

Covers ASGI 3.0 (``specs/main``), HTTP and WebSocket 2.5 (``specs/www``,
in `www`), Lifespan 2.0 (``specs/lifespan``, in `lifespan`) and
every extension on the spec's extensions page plus TLS 0.2 (in `ext`).
`asgibridge.typing`'s TypedDicts are checked against these tables by the test
suite, and the validator compiles its per-event checks from them.

Rules:

- Sans-I/O: data and pure helpers only; no asyncio, no threading.
- Every table is immutable (tuples, frozen dataclasses, read-only mappings).
- A change in the spec is a change here first; typing and validator follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .ext import EXTENSION_EVENTS, EXTENSIONS, ORDER_NOTES, TLS_VERSION
from .lifespan import LIFESPAN_EVENTS, LIFESPAN_SCOPE, LIFESPAN_VERSIONS
from .model import DOCS_BASE, Event, Extension, Key, Kind, Scope, Section, Sender
from .www import HTTP_EVENTS, HTTP_SCOPE, WEBSOCKET_EVENTS, WEBSOCKET_SCOPE, WWW_VERSIONS

__all__ = (
    "ASGI_VERSION",
    "DOCS_BASE",
    "EVENTS",
    "EXTENSIONS",
    "KNOWN_SPEC_VERSIONS",
    "ORDER_NOTES",
    "PROTOCOLS",
    "SCOPES",
    "SPEC_VERSIONS",
    "S_APPLICATIONS",
    "S_ERROR_HANDLING",
    "S_EVENTS",
    "S_EXTENSIONS",
    "S_PROTOCOLS",
    "S_STRINGS",
    "Event",
    "Extension",
    "Key",
    "Kind",
    "Scope",
    "Section",
    "Sender",
    "events_for",
    "parse_version",
)

ASGI_VERSION = "3.0"

# The newest version of each sub-spec described here, and every version it had.
SPEC_VERSIONS: Mapping[str, str] = MappingProxyType(
    {
        "asgi": ASGI_VERSION,
        "http": "2.5",
        "websocket": "2.5",
        "lifespan": "2.0",
        "tls": TLS_VERSION,
    }
)
KNOWN_SPEC_VERSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"http": WWW_VERSIONS, "websocket": WWW_VERSIONS, "lifespan": LIFESPAN_VERSIONS}
)

_MAIN = "specs/main"
S_APPLICATIONS = Section(_MAIN, "applications", "Applications")
S_EVENTS = Section(_MAIN, "events", "Events")
S_ERROR_HANDLING = Section(_MAIN, "error-handling", "Error Handling")
S_EXTENSIONS = Section(_MAIN, "extensions", "Extensions")
S_PROTOCOLS = Section(_MAIN, "protocol-specifications", "Protocol Specifications")
S_STRINGS = Section(_MAIN, "strings-and-unicode", "Strings and Unicode")

SCOPES: Mapping[str, Scope] = MappingProxyType(
    {scope.type: scope for scope in (HTTP_SCOPE, WEBSOCKET_SCOPE, LIFESPAN_SCOPE)}
)
PROTOCOLS = tuple(SCOPES)

EVENTS: Mapping[str, Event] = MappingProxyType(
    {
        event.type: event
        for event in (*HTTP_EVENTS, *EXTENSION_EVENTS, *WEBSOCKET_EVENTS, *LIFESPAN_EVENTS)
    }
)


def events_for(protocol: str, sender: Sender) -> Mapping[str, Event]:
    """The events of one protocol that one side sends, by type.

    Args:
        protocol: a scope type (``"http"``, ``"websocket"``, ``"lifespan"``).
        sender: ``"app"`` (``send`` events) or ``"server"`` (``receive`` events).

    Returns:
        A read-only mapping from event type to `Event` (extension events included).

    Raises:
        KeyError: ``protocol`` is not a scope type of the spec.

    Example:
        >>> sorted(events_for("lifespan", "server"))
        ['lifespan.shutdown', 'lifespan.startup']
    """
    if protocol not in SCOPES:
        raise KeyError(protocol)
    return MappingProxyType(
        {
            etype: event
            for etype, event in EVENTS.items()
            if event.protocol == protocol and event.sender == sender
        }
    )


def parse_version(text: object, default: tuple[int, int]) -> tuple[int, int]:
    """Turn a ``"major.minor"`` spec version into a comparable tuple.

    Args:
        text: the version string (anything else yields ``default``).
        default: what a missing or unreadable version means.

    Returns:
        ``(major, minor)``.

    Example:
        >>> parse_version("2.3", (2, 0))
        (2, 3)
        >>> parse_version(None, (2, 0))
        (2, 0)
    """
    if not isinstance(text, str):
        return default
    major, _, minor = text.partition(".")
    if not (major.isdigit() and (minor.isdigit() or minor == "")):
        return default
    return (int(major), int(minor or 0))
