"""The Lifespan sub-specification (version 2.0) as data.

Source: "Lifespan Protocol", version 2.0 (2019-03-20), ``specs/lifespan`` on
the spec site. 1.0 had startup/shutdown and their ``.complete`` replies; 2.0
added ``lifespan.startup.failed`` / ``lifespan.shutdown.failed`` and said that
an exception raised by the app before it answers startup means "lifespan not
supported" (the server goes on without lifespan events). Sans-I/O: data only.
"""

from __future__ import annotations

from .model import Event, Key, Scope, Section
from .www import asgi_key

__all__ = ("LIFESPAN_EVENTS", "LIFESPAN_SCOPE", "LIFESPAN_VERSIONS")

LIFESPAN_VERSIONS = ("1.0", "2.0")

_DOC = "specs/lifespan"

S_SCOPE = Section(_DOC, "scope", "Scope")
S_STARTUP = Section(_DOC, "startup-receive-event", "Startup - receive event")
S_STARTUP_COMPLETE = Section(_DOC, "startup-complete-send-event", "Startup Complete - send event")
S_STARTUP_FAILED = Section(_DOC, "startup-failed-send-event", "Startup Failed - send event")
S_SHUTDOWN = Section(_DOC, "shutdown-receive-event", "Shutdown - receive event")
S_SHUTDOWN_COMPLETE = Section(
    _DOC, "shutdown-complete-send-event", "Shutdown Complete - send event"
)
S_SHUTDOWN_FAILED = Section(_DOC, "shutdown-failed-send-event", "Shutdown Failed - send event")

LIFESPAN_SCOPE = Scope(
    "lifespan",
    "lifespan",
    (
        Key("type", "str", choices=("lifespan",)),
        asgi_key("1.0"),
        Key(
            "state",
            "dict",
            required=False,
            doc="Empty namespace the app may fill; copied into each request scope.",
        ),
    ),
    S_SCOPE,
)

_MESSAGE = Key(
    "message",
    "str",
    required=False,
    default="",
    doc="What went wrong, for the server to log.",
)

LIFESPAN_EVENTS = (
    Event("lifespan.startup", "lifespan", "server", (Key("type", "str"),), S_STARTUP),
    Event(
        "lifespan.startup.complete",
        "lifespan",
        "app",
        (Key("type", "str"),),
        S_STARTUP_COMPLETE,
    ),
    Event(
        "lifespan.startup.failed",
        "lifespan",
        "app",
        (Key("type", "str"), _MESSAGE),
        S_STARTUP_FAILED,
    ),
    Event("lifespan.shutdown", "lifespan", "server", (Key("type", "str"),), S_SHUTDOWN),
    Event(
        "lifespan.shutdown.complete",
        "lifespan",
        "app",
        (Key("type", "str"),),
        S_SHUTDOWN_COMPLETE,
    ),
    Event(
        "lifespan.shutdown.failed",
        "lifespan",
        "app",
        (Key("type", "str"), _MESSAGE),
        S_SHUTDOWN_FAILED,
    ),
)
