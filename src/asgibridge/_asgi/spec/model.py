"""The vocabulary the ASGI spec data is written in: sections, keys, scopes, events.

Plain frozen dataclasses and nothing else; `www`, `lifespan` and
`ext` fill them in and `tables` gathers the result. Sans-I/O: no asyncio,
no threading (the validator imports this module).

Rules:

- A `Key` says what the spec says and nothing more: required or optional, the
  value type (`Kind`), the default a reader assumes when it is missing, whether
  ``None`` is an allowed value, the sub-spec version that added it, the named
  value checks the validator applies, and the spec sentence it comes from.
- "Optional; if missing defaults to None" is read as "``None`` is an allowed
  value" (``nullable``): a reader cannot tell a missing key from one set to
  ``None``, and real frameworks send the explicit ``None`` (Starlette's
  ``websocket.accept`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = (
    "DOCS_BASE",
    "Event",
    "Extension",
    "Key",
    "Kind",
    "Scope",
    "Section",
    "Sender",
)

DOCS_BASE = "https://asgi.readthedocs.io/en/latest/"

# Value types, named after the spec's own words.
Kind = Literal[
    "str",  # *Unicode string*
    "bytes",  # *byte string*
    "int",  # *int* (never a bool)
    "bool",  # *bool*
    "dict",  # a dict (``fields`` describes its keys when the spec does)
    "headers",  # *Iterable[[byte string, byte string]]*
    "host_port",  # *Iterable[Unicode string, int]*
    "server_addr",  # *Iterable[Unicode string, Optional[int]]*
    "str_iterable",  # *Iterable[Unicode string]*
    "bytes_iterable",  # *Iterable[byte string]*
    "file",  # a file object with a real OS descriptor (``fileno()``)
    "any",  # anything the spec leaves open
]

# Who puts an event on the wire: the application (``send``) or the server
# (``receive``). A violation in a server-sent event or in the scope is the
# server's fault; in an app-sent event it is the app's.
Sender = Literal["app", "server"]


@dataclass(frozen=True)
class Section:
    """A place in the ASGI spec: its page, its HTML anchor and its title.

    Args:
        doc: the page, relative to the spec site, without ``.html``
            (``"specs/www"``).
        anchor: the section's HTML id on that page.
        title: the section title as printed in the spec.

    Example:
        >>> Section("specs/www", "request-receive-event", "Request - receive event").url
        'https://asgi.readthedocs.io/en/latest/specs/www.html#request-receive-event'
    """

    doc: str
    anchor: str
    title: str

    @property
    def url(self) -> str:
        """The section's address on the spec site."""
        return f"{DOCS_BASE}{self.doc}.html#{self.anchor}"

    def __str__(self) -> str:
        return f"{self.title} <{self.url}>"


@dataclass(frozen=True)
class Key:
    """One key of a scope, of an event, or of a dict inside one of them.

    Args:
        name: the dict key.
        kind: the value type (see `Kind`).
        required: False where the spec says "Optional".
        default: what a reader assumes when the key is missing (documentation;
            ``None`` also when the spec names no default).
        nullable: ``None`` is an allowed value.
        since: the sub-spec version that added the key (``"2.1"``), if any.
        checks: names of the value checks the validator applies on top of the
            type (``"uppercase"``, ``"status"``, ...; see `validator.checks`).
        choices: the only allowed values, when the spec lists them.
        fields: for ``kind="dict"``, the keys of that dict.
        doc: the spec's sentence about the key, paraphrased.

    Example:
        >>> Key("body", "bytes", required=False, default=b"").required
        False
    """

    name: str
    kind: Kind
    required: bool = True
    default: object = None
    nullable: bool = False
    since: str | None = None
    checks: tuple[str, ...] = ()
    choices: tuple[object, ...] = ()
    fields: tuple[Key, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Scope:
    """The connection scope of one protocol.

    Args:
        type: the value of ``scope["type"]``.
        spec: the name of the sub-spec that defines it (``"http"``,
            ``"websocket"``, ``"lifespan"``).
        keys: every key, ``type`` included.
        section: where the spec defines it.

    Example:
        >>> from asgibridge._asgi.spec.tables import SCOPES
        >>> SCOPES["lifespan"].section.anchor
        'scope'
    """

    type: str
    spec: str
    keys: tuple[Key, ...]
    section: Section


@dataclass(frozen=True)
class Event:
    """One event (message) type.

    Args:
        type: the value of ``message["type"]``.
        protocol: the scope type it belongs to.
        sender: ``"app"`` for ``send`` events, ``"server"`` for ``receive`` ones.
        keys: every key, ``type`` included.
        section: where the spec defines it.
        extension: the ``scope["extensions"]`` entry that must be offered
            before an app may send it (None for core events).

    Example:
        >>> from asgibridge._asgi.spec.tables import EVENTS
        >>> EVENTS["http.response.pathsend"].extension
        'http.response.pathsend'
    """

    type: str
    protocol: str
    sender: Sender
    keys: tuple[Key, ...]
    section: Section
    extension: str | None = None


@dataclass(frozen=True)
class Extension:
    """An extension from the spec's extensions page (or the TLS spec).

    Args:
        name: its key in ``scope["extensions"]``.
        protocols: the scope types that may offer it.
        section: where the spec defines it.
        events: the event types it adds.
        fields: the keys of ``scope["extensions"][name]`` (TLS only; others
            are an empty dict).

    Example:
        >>> from asgibridge._asgi.spec.tables import EXTENSIONS
        >>> EXTENSIONS["http.response.trailers"].events
        ('http.response.trailers',)
    """

    name: str
    protocols: tuple[str, ...]
    section: Section
    events: tuple[str, ...] = ()
    fields: tuple[Key, ...] = ()
