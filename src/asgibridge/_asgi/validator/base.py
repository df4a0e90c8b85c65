"""What every per-connection validator shares: scope check, dispatch, reporting.

A validator is fed one connection: the scope at construction, then every
message in order, each through `send` (the app sent it) or `receive` (the
server delivered it), then `app_returned` when the application callable
finished. Subclasses (`http`, `websocket`,
`lifespan`) hold the state machine of their protocol in
`_on_send` / `_on_receive` / `_on_return`.

Rules:

- Sans-I/O: no asyncio, no threading, no clock. The caller owns the I/O.
- O(1) per message: a fixed number of dict lookups and flag updates per
  event, plus the keys of that one event; nothing grows with the history.
- Not thread-safe on purpose: one connection's messages are fed in order by
  one caller (the guard does so from the connection's task). Sharing a
  validator between threads without a lock is a data race.
- Reporting: with no ``on_violation`` the first violation raises
  (`AppSpecError` / `ServerSpecError`) and the state is left as it was before
  the message; with a callback every violation is passed to it and the
  machine moves on as if the message had been accepted, so later rules still
  see a sensible state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from ..spec.tables import EVENTS, PROTOCOLS, events_for, parse_version
from .check_context import shorten
from .checks import EVENT_PLANS, SCOPE_PLANS, TLS_PLANS, KeyPlan, check_keys, describe
from .rules import RULES, Violation

__all__ = ("ConnectionValidator", "OnViolation")

OnViolation = Callable[[Violation], None]

_Table = Mapping[str, "tuple[tuple[KeyPlan, ...], str | None]"]


def _table(protocol: str, sender: str) -> _Table:
    events = events_for(protocol, "app" if sender == "app" else "server")
    return MappingProxyType({t: (EVENT_PLANS[t], e.extension) for t, e in events.items()})


_SEND: Mapping[str, _Table] = MappingProxyType({p: _table(p, "app") for p in PROTOCOLS})
_RECEIVE: Mapping[str, _Table] = MappingProxyType({p: _table(p, "server") for p in PROTOCOLS})
_NAMESPACES = tuple(f"{p}." for p in PROTOCOLS)
_DEFAULT_SPEC_VERSION = {"http": (2, 0), "websocket": (2, 0), "lifespan": (1, 0)}


class ConnectionValidator:
    """Base class of the per-protocol validators (see the module docstring).

    Args:
        scope: the connection scope, checked at once (server rules).
        on_violation: called with each `Violation`; None (default) raises the
            first one as `AppSpecError` / `ServerSpecError`.

    Raises:
        ServerSpecError: the scope breaks the spec (with no ``on_violation``).

    Example:
        >>> from asgibridge.validation import validator_for
        >>> v = validator_for({"type": "lifespan", "asgi": {"version": "3.0"}})
        >>> v.receive({"type": "lifespan.startup"})
        >>> v.send({"type": "lifespan.startup.complete"})
    """

    protocol: ClassVar[str] = ""

    def __init__(self, scope: Mapping[str, Any], on_violation: OnViolation | None = None) -> None:
        self.scope = scope
        self.index = 0
        self._sink = on_violation
        asgi = scope.get("asgi")
        raw = asgi.get("spec_version") if isinstance(asgi, dict) else None
        self.spec_version = parse_version(raw, _DEFAULT_SPEC_VERSION[self.protocol])
        extensions = scope.get("extensions")
        self.extensions: Mapping[str, object] = extensions if isinstance(extensions, dict) else {}
        self._send_table = _SEND[self.protocol]
        self._receive_table = _RECEIVE[self.protocol]
        check_keys(SCOPE_PLANS[self.protocol], scope, self, None)
        if "tls" in self.extensions:
            self._check_tls(scope)

    # -- reporting -------------------------------------------------------------

    def flag(self, rule_id: str, detail: str, event_type: str | None) -> None:
        """Report a broken rule: raise it, or hand it to ``on_violation``."""
        violation = Violation(RULES[rule_id], detail, self.protocol, event_type, self.index)
        if self._sink is None:
            raise violation.error()
        self._sink(violation)

    # -- feeding -----------------------------------------------------------------

    def send(self, message: Mapping[str, Any]) -> None:
        """Feed an event the application passed to ``send``.

        Raises:
            AppSpecError: the event breaks a rule (with no ``on_violation``).
        """
        self.index += 1
        etype = self._dispatch(message, self._send_table, "send")
        if etype is not None:
            self._on_send(etype, message)

    def receive(self, message: Mapping[str, Any]) -> None:
        """Feed an event the server returned from ``receive``.

        Raises:
            ServerSpecError: the event breaks a rule (with no ``on_violation``).
        """
        self.index += 1
        etype = self._dispatch(message, self._receive_table, "receive")
        if etype is not None:
            self._on_receive(etype, message)

    def app_returned(self, exc: BaseException | None = None) -> None:
        """The application callable finished: normally (``exc`` None) or by raising.

        An exception is how an app gives up on a connection; the spec lets the
        server clean up, so only a normal return is held to the protocol's
        "finished properly" rules.

        Raises:
            AppSpecError: the app returned in a state the spec forbids.
        """
        if exc is None:
            self._on_return()

    def connection_closed(self) -> None:
        """The server reported the connection gone (its ``send`` raised ``OSError``).

        From then on the app may stop half-way without breaking a rule.
        """
        self._closed_by_server()

    # -- protocol hooks ------------------------------------------------------------

    def _on_send(self, etype: str, message: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _on_receive(self, etype: str, message: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _on_return(self) -> None:
        raise NotImplementedError

    def _closed_by_server(self) -> None:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------

    def _dispatch(self, message: object, table: _Table, direction: str) -> str | None:
        if not isinstance(message, dict):
            self.flag(f"{self.protocol}.{direction}.not-a-dict", describe(message), None)
            return None
        etype = message.get("type")
        # Hazard: a list or dict as the type is unhashable; looking it up
        # would raise TypeError out of the validator (and the guard).
        entry = table.get(etype) if isinstance(etype, str) else None
        if entry is None:
            if (
                direction == "receive"
                and isinstance(etype, str)
                and not etype.startswith(_NAMESPACES)
            ):
                return None  # a custom event ("Events": apps may invent their own)
            where = "not a send" if direction == "send" else "not a receive"
            known = EVENTS.get(etype) if isinstance(etype, str) else None
            detail = f"type {shorten(etype)} is " + (
                f"{where} event of {self.protocol}" if known else "unknown"
            )
            self.flag(f"{self.protocol}.{direction}.unknown-type", detail, None)
            return None
        plans, extension = entry
        if extension is not None and extension not in self.extensions:
            self.flag(
                f"{etype}.extension-not-offered",
                f"{etype} sent but the scope does not offer {extension!r}",
                etype,
            )
        if plans:
            check_keys(plans, message, self, etype)
        return etype

    def _check_tls(self, scope: Mapping[str, Any]) -> None:
        tls = self.extensions["tls"]
        if isinstance(tls, dict):
            check_keys(TLS_PLANS[self.protocol], tls, self, None)
        scheme = scope.get("scheme", "http" if self.protocol == "http" else "ws")
        if scheme not in ("https", "wss"):
            self.flag("tls.non-tls-scheme", f"tls offered with scheme {shorten(scheme)}", None)
