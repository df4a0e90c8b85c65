"""Response header and status rules shared by both WSGI adapters: what may cross to the other side.

`WsgiToAsgi` (thread side, `runner`) checks what a WSGI app passes to
``start_response`` before it becomes an ASGI ``http.response.start``;
`AsgiToWsgi` (`exchange`) checks what an ASGI app sends before it is
passed to the WSGI server's ``start_response``.

Hazard (response splitting, RFC 9110 5.5): a CR or LF in a header name or
value, or in the status, written as given by a server, starts a new header
or a new response chosen by whoever controlled the value (often a client
whose input the app echoed). NUL is refused too (servers disagree on it).
Header names must be RFC 9110 tokens. gunicorn 27 and waitress refuse the
same in their ``start_response``; uvicorn and hypercorn (h11) refuse them
at the socket, but not every server does.

Sans-I/O: regular expressions and string work only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from ..._errors import AppSpecError

__all__ = ("BAD_VALUE", "HOP_BY_HOP", "TOKEN", "positive_timeout", "status_line", "wsgi_headers")

# RFC 9110 5.1 / 5.6.2: a field name is a token; a value holds no CR, LF or NUL.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
BAD_VALUE = re.compile(r"[\r\n\x00]")

# PEP 3333: an application must not send hop-by-hop headers (waitress refuses them).
HOP_BY_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
     b"trailers", b"transfer-encoding", b"upgrade")
)  # fmt: skip

_STATUS_LINES: Mapping[int, str] = MappingProxyType(
    {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
)
_SECTION = "https://asgi.readthedocs.io/en/latest/specs/www.html#response-start-send-event"


def status_line(status: object) -> str:
    """The WSGI status line for an ASGI status code.

    Raises:
        AppSpecError: the status is not an int from 100 to 999 (a str could
            carry CR/LF into the status line).

    Example:
        >>> status_line(404), status_line(599)
        ('404 Not Found', '599 Unknown')
    """
    if type(status) is not int or not 100 <= status <= 999:
        raise AppSpecError(
            f"[http.response.start.status.type] status {str(status)[:40]!r} is not an "
            "HTTP status code",
            "ASGI wants an int from 100 to 599; AsgiToWsgi refuses anything else "
            "rather than pass it to the WSGI server's status line.",
            rule_id="http.response.start.status.type",
            section_url=_SECTION,
        )
    return _STATUS_LINES.get(status) or f"{status} Unknown"


def wsgi_headers(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The WSGI headers for an ``http.response.start``: hop-by-hop ones dropped, all checked.

    Raises:
        AppSpecError: a name that is not a token, or a value with CR, LF or NUL.

    Example:
        >>> wsgi_headers({"headers": [(b"x-a", b"1"), (b"connection", b"close")]})
        [('x-a', '1')]
    """
    headers = []
    for name, value in message.get("headers", ()):
        if name.lower() in HOP_BY_HOP:
            continue
        text_name, text_value = name.decode("latin-1"), value.decode("latin-1")
        if TOKEN.fullmatch(text_name) is None or BAD_VALUE.search(text_value) is not None:
            raise AppSpecError(
                f"[http.response.start.headers.no-ctl] header {name[:40]!r} holds CR, LF, "
                "NUL or (in its name) a character that is not a token character",
                "Refused as a header injection (RFC 9110 5.5) instead of being passed to "
                "the WSGI server: strip or encode data echoed into response headers.",
                rule_id="http.response.start.headers.no-ctl",
                section_url=_SECTION,
            )
        headers.append((text_name, text_value))
    return headers


def positive_timeout(option: str, value: object) -> float | None:
    """Validate a timeout option of the adapters: a positive number of seconds, or None.

    Raises:
        TypeError: not a number (a bool is refused too).
        ValueError: zero, negative, or not finite.

    Example:
        >>> positive_timeout("body_timeout", 30)
        30.0
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{option} must be a number of seconds or None, not {type(value).__name__}"
        )
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{option} must be a positive, finite number of seconds, not {value!r}")
    return seconds
