"""Translating request metadata between WSGI and ASGI: scope -> environ and environ -> scope.

Pure functions over dicts (sans-I/O): no asyncio, no threads, no reading of
bodies. `build_environ` serves `WsgiToAsgi`, `build_scope` serves `AsgiToWsgi`.

Rules (PEP 3333 "environ Variables"; ASGI HTTP spec "Connection Scope"):

- Native strings in the environ are latin-1 "bytes as text": ASGI's decoded
  ``path`` is encoded to UTF-8 and read back as latin-1, and the reverse on
  the way in.
- ``root_path`` is taken off ``path`` only at a segment boundary: ``/app``
  mounts ``/app`` and ``/app/x``, never ``/application`` (which would give a
  ``PATH_INFO`` of ``lication``).
- Header names containing ``_`` are dropped: ``X_Forwarded_For`` would
  otherwise land on the same environ key as ``X-Forwarded-For`` and let a
  client spoof what a proxy set (the CGI header-smuggling hazard).
- Repeated headers are joined in linear time (``,``, or ``; `` for cookies,
  RFC 6265 section 5.4); the total header size is capped instead of the count
  of repeats, so 101 ``Cookie`` lines from an HTTP/2 client are fine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = (
    "DuplicateHeaderError",
    "HeaderTooLargeError",
    "build_environ",
    "build_scope",
    "environ_key",
    "split_root_path",
)

_SEPARATOR = {"HTTP_COOKIE": "; "}

# Environ keys of the common header names, computed once (read-only).
_KNOWN_KEYS: MappingProxyType[bytes, str] = MappingProxyType(
    {
        name: ("" if name in (b"content-type", b"content-length") else "HTTP_")
        + name.decode("latin-1").upper().replace("-", "_")
        for name in (
            b"host",
            b"user-agent",
            b"accept",
            b"accept-encoding",
            b"accept-language",
            b"connection",
            b"content-type",
            b"content-length",
            b"cookie",
            b"authorization",
            b"cache-control",
            b"referer",
            b"origin",
            b"x-forwarded-for",
            b"x-forwarded-proto",
            b"x-request-id",
            b"transfer-encoding",
            b"expect",
            b"if-none-match",
            b"if-modified-since",
            b"upgrade",
        )
    }
)

_PROTOCOLS: MappingProxyType[str, str] = MappingProxyType(
    {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2", "2.0": "HTTP/2", "3": "HTTP/3"}
)


class DuplicateHeaderError(ValueError):
    """More repeats of one header than ``duplicate_header_limit`` (answered with 400)."""


class HeaderTooLargeError(ValueError):
    """The request headers add up to more than ``max_header_size`` (answered with 431)."""


def environ_key(name: bytes) -> str | None:
    """The environ key of a lower-case ASGI header name, or None to drop the header.

    Example:
        >>> environ_key(b"x-forwarded-for"), environ_key(b"x_forwarded_for")
        ('HTTP_X_FORWARDED_FOR', None)
    """
    key = _KNOWN_KEYS.get(name)
    if key is not None:
        return key
    if b"_" in name:
        return None
    text = name.decode("latin-1").upper().replace("-", "_")
    if text in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return text
    return "HTTP_" + text


def _wsgi_str(text: str) -> str:
    """A decoded path as a WSGI native string (UTF-8 bytes read as latin-1)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def split_root_path(path: str, root_path: str) -> tuple[str, str]:
    """Split an ASGI ``path`` into (SCRIPT_NAME, PATH_INFO) at a segment boundary.

    The ASGI spec's ``path`` includes ``root_path``; older servers sent it
    without. Either way the result keeps ``SCRIPT_NAME + PATH_INFO == path``
    whenever ``path`` starts with the mount point.

    Example:
        >>> split_root_path("/app/x", "/app"), split_root_path("/application/x", "/app")
        (('/app', '/x'), ('/app', '/application/x'))
    """
    root = root_path.rstrip("/")
    if not root:
        return "", path
    if path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return root, path[len(root) :]
    return root, path


def _merge_headers(
    environ: dict[str, Any],
    headers: Iterable[tuple[bytes, bytes]],
    duplicate_header_limit: int | None,
    max_header_size: int | None,
) -> None:
    total = 0
    repeated: dict[str, list[str]] | None = None
    for name, value in headers:
        total += len(name) + len(value)
        key = _KNOWN_KEYS.get(name) or environ_key(name)
        if key is None:
            continue
        text = value.decode("latin-1")
        if key not in environ:
            environ[key] = text
            continue
        # A repeat: collect, join once at the end (linear, not quadratic).
        if repeated is None:
            repeated = {}
        values = repeated.get(key)
        if values is None:
            values = repeated[key] = [environ[key]]
        if duplicate_header_limit and len(values) >= duplicate_header_limit:
            raise DuplicateHeaderError(
                f"Too many duplicate headers: {key} exceeds limit of {duplicate_header_limit}"
            )
        values.append(text)
    if max_header_size is not None and total > max_header_size:
        raise HeaderTooLargeError(
            f"request headers total {total} bytes, more than max_header_size={max_header_size}"
        )
    if repeated:
        for key, values in repeated.items():
            environ[key] = _SEPARATOR.get(key, ",").join(values)


def build_environ(
    scope: Mapping[str, Any],
    wsgi_input: Any,
    *,
    duplicate_header_limit: int | None = None,
    max_header_size: int | None = 65536,
    file_wrapper: Any = None,
) -> dict[str, Any]:
    """Build a PEP 3333 environ from an ASGI ``http`` scope.

    Args:
        scope: the ASGI scope (``type`` ``http``).
        wsgi_input: the object to put at ``wsgi.input``.
        duplicate_header_limit: most repeats of one header (None: no limit).
        max_header_size: most bytes of header names and values together.
        file_wrapper: the ``wsgi.file_wrapper`` callable (left out if None).

    Returns:
        The environ dict (``asgi.scope`` holds the scope itself).

    Raises:
        DuplicateHeaderError: a header repeats more than the limit.
        HeaderTooLargeError: the headers are larger than ``max_header_size``.

    Example:
        >>> env = build_environ({"type": "http", "method": "GET", "path": "/a b",
        ...     "query_string": b"x=1", "headers": [(b"host", b"h")]}, None)
        >>> env["PATH_INFO"], env["QUERY_STRING"], env["HTTP_HOST"], env["SERVER_NAME"]
        ('/a b', 'x=1', 'h', 'localhost')
    """
    script_name, path_info = split_root_path(scope["path"], scope.get("root_path") or "")
    version = scope.get("http_version") or "1.1"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _wsgi_str(script_name),
        "PATH_INFO": _wsgi_str(path_info),
        "QUERY_STRING": (scope.get("query_string") or b"").decode("latin-1"),
        "SERVER_PROTOCOL": _PROTOCOLS.get(version) or f"HTTP/{version}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme") or "http",
        "wsgi.input": wsgi_input,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "asgi.scope": scope,
    }
    if file_wrapper is not None:
        environ["wsgi.file_wrapper"] = file_wrapper
    server = scope.get("server")
    if server is not None:
        environ["SERVER_NAME"] = str(server[0])
        environ["SERVER_PORT"] = str(server[1] if server[1] is not None else 0)
    else:
        environ["SERVER_NAME"] = "localhost"
        environ["SERVER_PORT"] = "80"
    client = scope.get("client")
    if client is not None:
        environ["REMOTE_ADDR"] = str(client[0])
        if len(client) > 1 and client[1] is not None:
            environ["REMOTE_PORT"] = str(client[1])
    _merge_headers(environ, scope.get("headers") or (), duplicate_header_limit, max_header_size)
    return environ


def _asgi_str(text: str) -> str:
    """A WSGI native string (latin-1 "bytes") as decoded text (UTF-8, lenient)."""
    if text.isascii():
        return text
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:  # a server put real text there: keep it
        return text
    return raw.decode("utf-8", "replace")


def _raw_path(environ: dict[str, Any]) -> bytes | None:
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not uri:
        return None
    target = uri.split("?", 1)[0]
    if "://" in target:  # absolute-form request target (proxies)
        return None
    try:
        return str(target).encode("latin-1")
    except UnicodeEncodeError:
        return None


def _scope_headers(environ: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    append = headers.append
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue  # the CGI names below are authoritative
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").lower()
        else:
            continue
        append((name.encode("latin-1"), str(value).encode("latin-1", "replace")))
    return headers


def build_scope(environ: dict[str, Any], state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build an ASGI ``http`` scope from a PEP 3333 environ.

    Args:
        environ: the WSGI environ of the request.
        state: the lifespan state; a shallow copy goes to ``scope["state"]``.

    Returns:
        The scope (``path`` includes ``root_path``, as the ASGI spec says).

    Example:
        >>> scope = build_scope({"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app",
        ...     "PATH_INFO": "/x", "SERVER_NAME": "h", "SERVER_PORT": "80",
        ...     "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "h"})
        >>> scope["path"], scope["root_path"], scope["headers"]
        ('/app/x', '/app', [(b'host', b'h')])
    """
    root_path = _asgi_str(environ.get("SCRIPT_NAME", ""))
    protocol = environ.get("SERVER_PROTOCOL") or "HTTP/1.1"
    port = environ.get("SERVER_PORT")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": protocol[5:] if protocol[:5].upper() == "HTTP/" else "1.1",
        "method": environ["REQUEST_METHOD"],
        "scheme": environ.get("wsgi.url_scheme") or "http",
        "path": root_path + _asgi_str(environ.get("PATH_INFO", "")),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1", "replace"),
        "root_path": root_path,
        "headers": _scope_headers(environ),
        "server": (environ.get("SERVER_NAME", "localhost"), int(port) if port else None),
        "extensions": {},
        "wsgi.environ": environ,
    }
    raw_path = _raw_path(environ)
    if raw_path is not None:
        scope["raw_path"] = raw_path
    address = environ.get("REMOTE_ADDR")
    if address:
        remote_port = environ.get("REMOTE_PORT")
        scope["client"] = (address, int(remote_port) if remote_port else 0)
    if state is not None:
        scope["state"] = dict(state)
    return scope
