"""The thread side of one WsgiToAsgi request: call the WSGI app and turn its output into messages.

Runs on a pool thread. Implements PEP 3333's application-facing half:
``start_response`` (with ``exc_info`` semantics) returning a working
``write()``, iteration of the returned iterable, and its ``close()``, called
always: on success, on error, and when the client disconnects.

Theory of operation: the headers are held back until the first non-empty
body chunk (or ``write()``, or the end of the iterable), as PEP 3333 asks,
so an app can still replace them with ``start_response(..., exc_info)``.
Messages go to the request task through the `Channel`, which blocks this
thread when the client is slow. Two shortcuts keep the common cases cheap:

- a ``list`` or ``tuple`` body cannot block, so its messages are not pushed
  one by one but returned all at once as the *tail* (one wake-up of the loop
  for the whole response);
- a `FileWrapper` body becomes one ``http.response.pathsend`` message when
  the server offers that extension and the file can be sent whole by path.

A body longer than its ``Content-Length`` is cut there and the iterable is
not iterated further (what asgiref does; PEP 3333 "Handling the
Content-Length Header").

Header injection: ``start_response`` refuses (`WsgiProtocolError`, so a 500
if the app lets it through) a header name that is not an RFC 9110 token and
a value holding CR, LF or NUL, as gunicorn and waitress do; replacement
headers given with ``exc_info`` too. Hazard: an app that echoes request data
into a header would otherwise let a client split the response behind a
server that writes headers as it gets them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from ..._errors import RequestBodyTimeoutError, RequestBodyTooLargeError, WsgiProtocolError
from .body import FileWrapper
from .channel import Channel
from .headers import TOKEN

__all__ = ("Runner", "plain_response")

logger = logging.getLogger("asgibridge.wsgi")

_END = {"type": "http.response.body"}
_MAX_DEFERRED_EMPTY = 8


def plain_response(status: int, text: bytes) -> list[dict[str, Any]]:
    """The two messages of a short ``text/plain`` answer (asgiref's 400 shape)."""
    headers = [(b"content-type", b"text/plain")]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": text},
    ]


def _status_code(status: str) -> int:
    try:
        code = int(status.split(" ", 1)[0])
    except (AttributeError, TypeError, ValueError):  # TypeError: a bytes status
        code = 0
    if not 100 <= code <= 999:
        raise WsgiProtocolError(
            f"invalid WSGI status {status!r}",
            "PEP 3333 wants a native string like '200 OK': three digits, a space, a reason.",
        )
    return code


class Runner:
    """Calls the WSGI app once, on the thread that calls `run`."""

    __slots__ = (
        "_app",
        "_channel",
        "_content_length",
        "_deferred_empty",
        "_environ",
        "_headers_sent",
        "_pathsend",
        "_release",
        "_sent",
        "_start",
        "lane",
    )

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        environ: dict[str, Any],
        channel: Channel,
        pathsend: bool,
        release: Callable[[int], None] | None = None,
    ) -> None:
        self._app = app
        self._release = release  # gives the adapter's thread slot back (see `run`)
        self.lane = 0  # which of the adapter's pools runs it (set by its admission)
        self._environ = environ
        self._channel = channel
        self._pathsend = pathsend
        self._start: dict[str, Any] | None = None
        self._headers_sent = False
        self._content_length: int | None = None
        self._sent = 0
        self._deferred_empty = 0

    # -- PEP 3333 callables given to the app ------------------------------------

    def start_response(
        self, status: str, headers: Iterable[Any], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """PEP 3333 ``start_response``: store the status and headers, return ``write``."""
        if exc_info is not None:
            try:
                if self._headers_sent:
                    # Too late to replace what the client already has: re-raise.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a frame <-> traceback cycle
        elif self._start is not None:
            raise WsgiProtocolError(
                "You cannot call start_response a second time without exc_info",
                "(PEP 3333: a second call must pass sys.exc_info() of the error being handled).",
            )
        content_length = None
        encoded = []
        for name, value in headers:
            try:
                bad = "\r" in value or "\n" in value or "\x00" in value
            except TypeError:  # not str
                bad = True
            if (
                bad
                or not isinstance(name, str)
                or (name not in _GOOD_NAMES and not _good_name(name))
            ):
                _refuse_header(name, value)
            lowered = name.lower()
            if lowered == "content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
            encoded.append((lowered.encode("latin-1"), value.encode("latin-1")))
        self._start = {
            "type": "http.response.start",
            "status": _status_code(status),
            "headers": encoded,
        }
        self._content_length = content_length
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333 ``write()``: send ``data`` now (after the headers if not sent yet)."""
        messages: list[dict[str, Any]] = []
        nbytes = self._add_chunk(data, messages)
        if messages:
            self._channel.push(messages, nbytes)

    # -- running ----------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        """Run the app; returns the messages still to send (the tail).

        Raises:
            Whatever the app raised (the server answers 500 if nothing was sent).
        """
        iterable: Any = None
        try:
            if self._channel.failed:
                return []  # cancelled (the client left) while it waited for a thread
            iterable = self._app(self._environ, self.start_response)
            return self._drain(iterable)
        except RequestBodyTooLargeError:
            if self._headers_sent:
                raise
            return plain_response(413, b"Request body too large")
        except RequestBodyTimeoutError:
            if self._headers_sent:
                raise
            return plain_response(408, b"Request Timeout: the request body stopped arriving")
        except ConnectionError:  # ClientDisconnected is one
            if not self._channel.failed:
                raise
            logger.debug("client left before the response was complete", exc_info=True)
            return []
        finally:
            try:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
            finally:
                # On this thread, before the outcome reaches the loop: the next
                # queued request starts at once (see `admission`).
                if self._release is not None:
                    self._release(self.lane)

    def _drain(self, iterable: Any) -> list[dict[str, Any]]:
        kind = type(iterable)
        if kind is list or kind is tuple:
            # Nothing here can block: build the whole response as the tail.
            tail: list[dict[str, Any]] = []
            empties = 0
            for chunk in iterable:
                if not chunk and self._headers_sent:
                    # Nothing here waits for the client, so empty chunks are
                    # capped as for the deferred ones (a list of millions of
                    # b"" would make as many messages at once).
                    empties += 1
                    if empties > _MAX_DEFERRED_EMPTY:
                        continue
                self._add_chunk(chunk, tail)
                if self._complete():
                    break
            return self._finish(tail)
        if kind is FileWrapper and self._pathsend and not self._headers_sent:
            sent = self._send_path(iterable)
            if sent is not None:
                return sent
        for chunk in iterable:
            self.write(chunk)
            if self._complete():
                break
        return self._finish([])

    def _complete(self) -> bool:
        length = self._content_length
        return length is not None and self._sent >= length

    def _send_path(self, wrapper: FileWrapper) -> list[dict[str, Any]] | None:
        path = wrapper.sendable_path()
        start = self._start
        if path is None or start is None:
            return None
        length = self._content_length
        if length is not None and os.path.getsize(path) != length:
            return None  # the header disagrees with the file: stream (and cut) instead
        self._headers_sent = True
        return [start, {"type": "http.response.pathsend", "path": path}]

    def _add_chunk(self, chunk: Any, out: list[dict[str, Any]]) -> int:
        """Append the message(s) for one body chunk to ``out``; returns body bytes added."""
        if type(chunk) is not bytes:
            chunk = _as_bytes(chunk)
        if not self._headers_sent:
            if not chunk:
                # PEP 3333: headers wait for a non-empty chunk. But not for
                # ever: past a few empty ones they go out (as gunicorn and
                # asgiref send them at the first chunk), so that an app that
                # only yields b"" is held back by the client like any other
                # instead of spinning on its thread unchecked.
                self._deferred_empty += 1
                if self._deferred_empty <= _MAX_DEFERRED_EMPTY or self._start is None:
                    return 0
                self._add_start(out)
                out.append({"type": "http.response.body", "body": b"", "more_body": True})
                return 0
            self._add_start(out)
        length = self._content_length
        if length is not None:
            allowed = length - self._sent
            if allowed <= 0:
                return 0
            if len(chunk) > allowed:
                chunk = chunk[:allowed]
        out.append({"type": "http.response.body", "body": chunk, "more_body": True})
        self._sent += len(chunk)
        return len(chunk)

    def _add_start(self, out: list[dict[str, Any]]) -> None:
        start = self._start
        if start is None:
            raise WsgiProtocolError(
                "the WSGI application produced a body before calling start_response",
                "(PEP 3333: call start_response(status, headers) before returning or "
                "yielding the first body chunk).",
            )
        self._headers_sent = True
        out.append(start)
        # Empty chunks held back with the headers go out after them (as
        # asgiref sends every chunk), a few at most: they carry nothing, and
        # an app may yield millions of them while it has nothing yet.
        for _ in range(min(self._deferred_empty, _MAX_DEFERRED_EMPTY)):
            out.append({"type": "http.response.body", "body": b"", "more_body": True})
        self._deferred_empty = 0

    def _finish(self, tail: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._headers_sent:
            self._add_start(tail)
        tail.append(dict(_END))
        return tail


# Header names seen valid (a few dozen in practice): a set lookup instead
# of a regex per header on every response. Bounded: past the cap, names are
# checked each time.
_GOOD_NAMES: set[str] = set()


def _good_name(name: str) -> bool:
    if TOKEN.fullmatch(name) is None:
        return False
    if len(_GOOD_NAMES) < 1024:
        _GOOD_NAMES.add(name)
    return True


def _refuse_header(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not isinstance(value, str):
        raise WsgiProtocolError(
            f"response header {name!r}: names and values must be str, "
            f"not {type(name).__name__} and {type(value).__name__}",
            "(PEP 3333: headers are a list of (name, value) native strings).",
        )
    what = "name" if TOKEN.fullmatch(name) is None else "value"
    raise WsgiProtocolError(
        f"response header {name[:40]!r} has an invalid {what} "
        f"(CR, LF, NUL or another character a header {what} may not hold)",
        "Refused as a header injection (RFC 9110 5.5): strip or encode request data "
        "before echoing it into a response header.",
    )


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise WsgiProtocolError(
        f"the WSGI application yielded {type(chunk).__name__}, not bytes",
        "(PEP 3333: body chunks are bytestrings; encode text first).",
    )
