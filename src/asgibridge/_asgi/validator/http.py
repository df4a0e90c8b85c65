"""The HTTP connection state machine (www spec 2.5 plus the HTTP extensions).

Theory of operation: two independent halves.

- Request (server side): ``http.request`` chunks until one has
  ``more_body=False``; after that, and after ``http.disconnect``, only
  ``http.disconnect`` may come ("Disconnect - receive event").
- Response (app side): ``http.response.debug`` (once, before start), then
  ``http.response.start``, then body events (``http.response.body``,
  ``zerocopysend``, or one ``pathsend``) with push and early hints in between,
  until the final body; then, if start said ``trailers=True``, trailers until
  ``more_trailers=False``. Then the response is complete and nothing more may
  be sent.

Each message costs a few attribute reads and writes (O(1)). Sans-I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import ConnectionValidator, OnViolation

__all__ = ("HTTPValidator",)

_BODY_LIKE = frozenset(
    ("http.response.body", "http.response.zerocopysend", "http.response.pathsend")
)
_BETWEEN = frozenset(("http.response.push", "http.response.early_hint"))


class HTTPValidator(ConnectionValidator):
    """Validates one ``http`` connection (scope, request events, response events).

    Args:
        scope: the ``http`` scope.
        on_violation: see `ConnectionValidator`.

    Example:
        >>> v = HTTPValidator({"type": "http", "asgi": {"version": "3.0"},
        ...     "http_version": "1.1", "method": "GET", "path": "/",
        ...     "query_string": b"", "headers": []})
        >>> v.receive({"type": "http.request"})
        >>> v.send({"type": "http.response.start", "status": 200})
        >>> v.send({"type": "http.response.body", "body": b"ok"})
        >>> v.complete
        True
    """

    protocol = "http"

    def __init__(self, scope: Mapping[str, Any], on_violation: OnViolation | None = None) -> None:
        self.request_done = False
        self.disconnected = False
        self.debug_sent = False
        self.started = False
        self.trailers_expected = False
        self.body_sent = False  # some body or zerocopysend chunk went out
        self.final_body = False  # the last body (or a pathsend) went out
        self.complete = False
        super().__init__(scope, on_violation)

    def _on_receive(self, etype: str, message: Mapping[str, Any]) -> None:
        if etype == "http.request":
            if self.disconnected:
                self.flag("http.order.request-after-disconnect", "http.request", etype)
            elif self.request_done:
                self.flag(
                    "http.order.request-after-body-complete",
                    "http.request after the body was complete",
                    etype,
                )
            if not message.get("more_body", False):
                self.request_done = True
        else:  # http.disconnect
            self.disconnected = True

    def _on_send(self, etype: str, message: Mapping[str, Any]) -> None:
        if etype == "http.response.start":
            self._start(message)
        elif etype in _BODY_LIKE:
            self._body(etype, message)
        elif etype in _BETWEEN:
            self._between(etype)
        elif etype == "http.response.trailers":
            self._trailers(message)
        else:  # http.response.debug
            if self.started:
                self.flag("http.response.debug.after-start", "debug after start", etype)
            elif self.debug_sent:
                self.flag("http.response.debug.twice", "second debug event", etype)
            self.debug_sent = True

    def _start(self, message: Mapping[str, Any]) -> None:
        etype = "http.response.start"
        if self.started:
            self.flag("http.order.start-twice", "http.response.start sent again", etype)
        trailers = message.get("trailers", False) is True
        if trailers and "http.response.trailers" not in self.extensions:
            self.flag(
                "http.response.start.trailers.not-offered",
                "trailers=True without the http.response.trailers extension",
                etype,
            )
        self.started = True
        self.trailers_expected = trailers

    def _body(self, etype: str, message: Mapping[str, Any]) -> None:
        if self.complete:
            self.flag("http.order.after-response-complete", f"{etype} after the end", etype)
        elif not self.started:
            # Collect mode goes on; the body is ignored so the real start still counts.
            self.flag("http.order.body-before-start", f"{etype} before the start", etype)
            return
        elif self.final_body:
            self.flag("http.order.after-final-body", f"{etype} after the final body", etype)
        if etype == "http.response.pathsend":
            if self.body_sent:
                self.flag(
                    "http.response.pathsend.mixed-with-body",
                    "pathsend after body chunks",
                    etype,
                )
            more = False
        else:
            more = message.get("more_body", False) is True
        self.body_sent = True
        if not more:
            self._final_body()

    def _final_body(self) -> None:
        self.final_body = True
        if not self.trailers_expected:
            self.complete = True

    def _between(self, etype: str) -> None:
        if self.complete:
            self.flag("http.order.after-response-complete", f"{etype} after the end", etype)
        elif not self.started:
            self.flag(f"{etype}.before-start", f"{etype} before the start", etype)
        elif self.final_body:
            self.flag("http.order.after-final-body", f"{etype} after the final body", etype)

    def _trailers(self, message: Mapping[str, Any]) -> None:
        etype = "http.response.trailers"
        if self.complete:
            self.flag("http.order.after-response-complete", f"{etype} after the end", etype)
        elif not self.trailers_expected:
            self.flag(
                "http.response.trailers.not-announced",
                "trailers sent but start had no trailers=True",
                etype,
            )
        elif not self.final_body:
            self.flag(
                "http.response.trailers.before-final-body", "trailers before the final body", etype
            )
        if not message.get("more_trailers", False):
            self.complete = True
            self.final_body = True

    def _on_return(self) -> None:
        if self.complete or self.disconnected:
            return
        if self.started:
            self.flag(
                "http.return.incomplete-response",
                "returned before the response was complete",
                None,
            )
        else:
            self.flag("http.return.no-response", "returned without sending a response", None)

    def _closed_by_server(self) -> None:
        self.disconnected = True
