"""The lifespan state machine (lifespan spec 2.0).

Theory of operation: the server sends ``lifespan.startup`` once; the app
answers it once (``.complete`` or ``.failed``); after a successful startup
the server may send ``lifespan.shutdown`` once, and the app answers that once.

    IDLE --startup--> STARTING --complete--> STARTED --shutdown--> STOPPING --reply--> STOPPED
                               --failed----> FAILED (the server should exit: no shutdown)

An app that raises instead of answering startup says "lifespan not
supported" (allowed); one that returns normally with a question unanswered
breaks the spec. Sans-I/O, O(1) per message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ConnectionValidator, OnViolation

__all__ = ("LifespanValidator",)

IDLE = "idle"
STARTING = "starting"
STARTED = "started"
FAILED = "failed"
STOPPING = "stopping"
STOPPED = "stopped"


class LifespanValidator(ConnectionValidator):
    """Validates one ``lifespan`` connection.

    Args:
        scope: the ``lifespan`` scope.
        on_violation: see `ConnectionValidator`.

    Example:
        >>> v = LifespanValidator({"type": "lifespan", "asgi": {"version": "3.0"}})
        >>> v.receive({"type": "lifespan.startup"})
        >>> v.send({"type": "lifespan.startup.failed", "message": "no database"})
        >>> v.state
        'failed'
    """

    protocol = "lifespan"

    def __init__(self, scope: Mapping[str, Any], on_violation: OnViolation | None = None) -> None:
        self.state = IDLE
        super().__init__(scope, on_violation)

    def _on_receive(self, etype: str, message: Mapping[str, Any]) -> None:
        state = self.state
        if etype == "lifespan.startup":
            if state != IDLE:
                self.flag("lifespan.order.startup-twice", "second lifespan.startup", etype)
            self.state = STARTING
            return
        # lifespan.shutdown
        if state in (IDLE, STARTING):
            self.flag(
                "lifespan.order.shutdown-before-startup-reply",
                f"shutdown while the lifespan is {state}",
                etype,
            )
        elif state == FAILED:
            self.flag(
                "lifespan.order.shutdown-after-startup-failed", "shutdown after failure", etype
            )
        elif state in (STOPPING, STOPPED):
            self.flag("lifespan.order.shutdown-twice", "second lifespan.shutdown", etype)
        self.state = STOPPING

    def _on_send(self, etype: str, message: Mapping[str, Any]) -> None:
        state = self.state
        if etype.startswith("lifespan.startup."):
            if state == IDLE:
                self.flag("lifespan.order.startup-reply-unasked", f"{etype} unasked", etype)
            elif state != STARTING:
                self.flag("lifespan.order.startup-reply-twice", f"{etype} again", etype)
            if state in (IDLE, STARTING):
                self.state = STARTED if etype.endswith(".complete") else FAILED
            return
        if state == STOPPED:
            self.flag("lifespan.order.shutdown-reply-twice", f"{etype} again", etype)
        elif state != STOPPING:
            self.flag("lifespan.order.shutdown-reply-unasked", f"{etype} unasked", etype)
        if state == STOPPING:
            self.state = STOPPED

    def _on_return(self) -> None:
        if self.state == STARTING:
            self.flag(
                "lifespan.return.startup-unanswered", "returned without answering startup", None
            )
        elif self.state == STOPPING:
            self.flag(
                "lifespan.return.shutdown-unanswered", "returned without answering shutdown", None
            )

    def _closed_by_server(self) -> None:
        """Lifespan has no connection to lose; nothing changes."""
