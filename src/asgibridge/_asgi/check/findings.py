"""How much each finding of ``python -m asgibridge check`` matters, and the Host it sends.

Severity: ``error`` breaks on real servers; ``warning`` is against the letter
of the spec but every major server tolerates it (the check exits 0 on
warnings alone unless ``--strict``). A warning cites the spec's own sentence
and says why it is tolerated, so a user can judge it.

Host: the check's requests carry a ``Host`` the project accepts, or a Django
project answers every one with 400 (``DisallowedHost``): ``--host`` if given,
else one derived from Django's ``ALLOWED_HOSTS`` when the app loaded Django,
else ``testserver``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ("DEFAULT_HOST", "Severity", "Tolerated", "TOLERATED", "choose_host", "severity")

Severity = Literal["error", "warning"]
DEFAULT_HOST = "testserver"


@dataclass(frozen=True)
class Tolerated:
    """Why a rule's violations are warnings.

    Args:
        spec_says: the spec's sentence, quoted.
        why: why servers accept it anyway.
    """

    spec_says: str
    why: str


_LOWERCASE = Tolerated(
    spec_says="Header names must be lowercased.",
    why="HTTP header names are case-insensitive (RFC 9110 section 5.1) and servers "
    "(uvicorn, hypercorn, daphne) accept mixed-case names; Django sends them",
)

TOLERATED: Mapping[str, Tolerated] = MappingProxyType(
    {
        "http.response.start.headers.lowercase-names": _LOWERCASE,
        "http.response.trailers.headers.lowercase-names": _LOWERCASE,
        "http.response.push.headers.lowercase-names": _LOWERCASE,
        "websocket.accept.headers.lowercase-names": _LOWERCASE,
        "websocket.http.response.start.headers.lowercase-names": _LOWERCASE,
    }
)


def severity(rule_id: str) -> Severity:
    """``warning`` for a rule servers tolerate, else ``error``.

    Example:
        >>> severity("http.response.start.headers.lowercase-names")
        'warning'
        >>> severity("http.order.body-before-start")
        'error'
    """
    return "warning" if rule_id in TOLERATED else "error"


def choose_host(explicit: str | None = None) -> tuple[str, str]:
    """The ``Host`` the check sends, and where it comes from (for the report).

    Args:
        explicit: ``--host``, if given.

    Example:
        >>> choose_host("api.example.com")
        ('api.example.com', 'from --host')
    """
    if explicit:
        return explicit, "from --host"
    conf = sys.modules.get("django.conf")  # the app loaded Django: ask its settings
    settings = getattr(conf, "settings", None)
    if settings is None or not getattr(settings, "configured", False):
        return DEFAULT_HOST, "default"
    try:
        allowed = list(settings.ALLOWED_HOSTS)
        debug = bool(settings.DEBUG)
    except Exception:  # a settings module that fails to load: the app will say so
        return DEFAULT_HOST, "default"
    return _from_allowed_hosts(allowed, debug)


def _from_allowed_hosts(allowed: list[str], debug: bool) -> tuple[str, str]:
    """A host Django's ``validate_host`` accepts for these settings.

    Example:
        >>> _from_allowed_hosts([], True)
        ('localhost', "from Django's ALLOWED_HOSTS: empty with DEBUG, which allows localhost")
        >>> _from_allowed_hosts([".example.com"], False)[0]
        'example.com'
    """
    if not allowed and debug:
        return "localhost", "from Django's ALLOWED_HOSTS: empty with DEBUG, which allows localhost"
    for pattern in allowed:
        if pattern == "*":
            return DEFAULT_HOST, "Django's ALLOWED_HOSTS is '*'"
        host = pattern[1:] if pattern.startswith(".") else pattern  # '.x.com' matches x.com
        if host and "*" not in host:
            return host, "from Django's ALLOWED_HOSTS"
    return DEFAULT_HOST, (
        "default; Django's ALLOWED_HOSTS admits no host the check can use (empty without "
        "DEBUG?), so Django answers 400: pass --host"
    )
