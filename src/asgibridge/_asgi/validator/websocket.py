"""The WebSocket connection state machine (www spec 2.5 plus the denial extension).

Theory of operation: the app-side state walks

    HANDSHAKE --accept--> OPEN --close--> CLOSED
              --close-----------------> CLOSED
              --http.response.start--> DENIAL --final body--> CLOSED

and the server side adds two flags: ``connected`` (``websocket.connect`` came,
and it must come first and once) and ``disconnected``, set by
``websocket.disconnect`` (after which only more ``websocket.disconnect`` may
come). The app may answer before it has *read* ``websocket.connect``: the
server sent it when the client arrived, and the spec asks only that it be
answered (Starlette's router closes unrouted sockets that way).
``websocket.receive`` is legal only once the app accepted ("Connect - receive
event": the server must not pass messages before Accept). Sends after the
server's disconnect are not flagged: that race is the spec's own "Disconnected
Client - send exception" case. Sans-I/O, O(1) per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .base import ConnectionValidator, OnViolation
from .check_context import shorten

__all__ = ("WebSocketValidator",)

HANDSHAKE = "handshake"
OPEN = "open"
DENIAL = "denial"
CLOSED = "closed"


def _exactly_one(message: Mapping[str, Any]) -> bool:
    return (message.get("bytes") is None) != (message.get("text") is None)


class WebSocketValidator(ConnectionValidator):
    """Validates one ``websocket`` connection.

    Args:
        scope: the ``websocket`` scope.
        on_violation: see `ConnectionValidator`.

    Example:
        >>> v = WebSocketValidator({"type": "websocket", "asgi": {"version": "3.0"},
        ...     "path": "/", "headers": []})
        >>> v.receive({"type": "websocket.connect"})
        >>> v.send({"type": "websocket.accept"})
        >>> v.state
        'open'
    """

    protocol = "websocket"

    def __init__(self, scope: Mapping[str, Any], on_violation: OnViolation | None = None) -> None:
        self.state = HANDSHAKE
        self.connected = False
        self.disconnected = False
        super().__init__(scope, on_violation)
        offered = scope.get("subprotocols", ())
        # None: the offer cannot be read without consuming it (a one-shot iterator).
        self.subprotocols: frozenset[object] | None = (
            frozenset(offered)
            if isinstance(offered, Iterable) and not isinstance(offered, (str, bytes, Iterator))
            else None
        )

    def _on_receive(self, etype: str, message: Mapping[str, Any]) -> None:
        if etype == "websocket.connect":
            if self.connected:
                self.flag("websocket.order.connect-twice", "second websocket.connect", etype)
            self.connected = True
            return
        if not self.connected:
            self.flag("websocket.order.first-not-connect", f"{etype} came first", etype)
            self.connected = True  # collect mode: flagged once, then go on as if it came
        if etype == "websocket.receive":
            if self.disconnected:
                self.flag(
                    "websocket.order.receive-after-disconnect", "receive after disconnect", etype
                )
            elif self.state in (HANDSHAKE, DENIAL):
                self.flag("websocket.order.receive-before-accept", "receive before accept", etype)
            if not _exactly_one(message):
                self.flag(
                    "websocket.receive.exactly-one", "bytes and text both set or unset", etype
                )
        else:  # websocket.disconnect
            self.disconnected = True

    def _on_send(self, etype: str, message: Mapping[str, Any]) -> None:
        if etype == "websocket.send":
            self._send_data(message)
        elif etype.startswith("websocket.http.response."):
            self._denial(etype, message)
        else:  # accept or close: answers to the handshake
            self._reply(etype, message)

    def _reply(self, etype: str, message: Mapping[str, Any]) -> None:
        state = self.state
        if state == DENIAL:
            self.flag("websocket.order.message-during-denial", f"{etype} during denial", etype)
        elif state == CLOSED:
            rule = (
                "websocket.order.accept-after-close"
                if etype == "websocket.accept"
                else "websocket.order.after-close"
            )
            self.flag(rule, f"{etype} after close", etype)
        elif state == OPEN and etype == "websocket.accept":
            self.flag("websocket.order.accept-twice", "second websocket.accept", etype)
        if etype == "websocket.accept":
            chosen = message.get("subprotocol")
            offered = self.subprotocols
            if isinstance(chosen, str) and offered is not None and chosen not in offered:
                self.flag(
                    "websocket.accept.subprotocol.not-offered",
                    f"subprotocol {shorten(chosen)} not in {shorten(sorted(map(str, offered)))}",
                    etype,
                )
            if state == HANDSHAKE:
                self.state = OPEN
        else:
            self.state = CLOSED

    def _send_data(self, message: Mapping[str, Any]) -> None:
        etype = "websocket.send"
        state = self.state
        if state == HANDSHAKE:
            self.flag("websocket.order.send-before-accept", "send before accept", etype)
        elif state == DENIAL:
            self.flag("websocket.order.message-during-denial", "send during denial", etype)
        elif state == CLOSED:
            self.flag("websocket.order.after-close", "send after close", etype)
        if not _exactly_one(message):
            self.flag("websocket.send.exactly-one", "bytes and text both set or unset", etype)

    def _denial(self, etype: str, message: Mapping[str, Any]) -> None:
        state = self.state
        if etype == "websocket.http.response.start":
            if state == OPEN:
                self.flag("websocket.order.denial-after-accept", "denial after accept", etype)
            elif state == DENIAL:
                self.flag("websocket.order.denial-start-twice", "second denial start", etype)
            elif state == CLOSED:
                self.flag("websocket.order.after-close", f"{etype} after close", etype)
            self.state = DENIAL
            return
        if state == CLOSED:
            self.flag("websocket.order.after-close", f"{etype} after close", etype)
        elif state != DENIAL:
            self.flag(
                "websocket.order.denial-body-before-start", "denial body before start", etype
            )
        if message.get("more_body", False) is not True:
            self.state = CLOSED

    def _on_return(self) -> None:
        if self.disconnected:
            return
        if self.state == HANDSHAKE:
            self.flag("websocket.return.no-reply", "returned without answering connect", None)
        elif self.state == DENIAL:
            self.flag("websocket.return.incomplete-denial", "returned mid denial response", None)

    def _closed_by_server(self) -> None:
        self.disconnected = True
