"""What the issue 16 probe found right in the WSGI adapters, pinned so that it stays right.

Underscore headers dropped, repeats joined (``; `` for Cookie), ``root_path``
split at a segment boundary, a short body ending in EOF, ``max_body_size``
on the declared and the streamed size, invalid statuses and
``start_response`` misuse refused, ``close()`` called when the iterable
raises, hop-by-hop headers dropped, unknown scopes refused.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from asgibridge._runtime import stop_adapter_pools
from asgibridge.asgi_to_wsgi import AsgiToWsgi
from asgibridge.exceptions import RequestBodyTooLargeError, WsgiProtocolError
from asgibridge.wsgi import WsgiToAsgi
from wsgi_harness import (  # _stop_adapter_pools: an autouse fixture
    Client,
    StartResponse,
    _call,
    _hello,
    _stop_adapter_pools,  # noqa: F401
)


def _environ_of(**scope: Any) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        seen.append(environ)
        return _hello(environ, start_response)

    asyncio.run(_call(WsgiToAsgi(app), Client(), **scope))
    return seen[0]


def test_underscore_headers_are_dropped() -> None:
    headers = [(b"x-forwarded-for", b"10.0.0.1"), (b"x_forwarded_for", b"6.6.6.6")]
    environ = _environ_of(headers=headers)
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


def test_repeated_headers_are_joined_cookies_with_a_semicolon() -> None:
    headers = [(b"cookie", b"a=1"), (b"accept", b"text/html"), (b"cookie", b"b=2")]
    headers.append((b"accept", b"*/*"))
    environ = _environ_of(headers=headers)
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["HTTP_ACCEPT"] == "text/html,*/*"


@pytest.mark.parametrize(
    ("path", "script_name", "path_info"),
    [("/app/x", "/app", "/x"), ("/app", "/app", ""), ("/application/x", "/app", "/application/x")],
)
def test_root_path_is_split_at_a_segment_boundary(
    path: str, script_name: str, path_info: str
) -> None:
    environ = _environ_of(path=path, root_path="/app")
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info)


@pytest.mark.asyncio
async def test_a_body_shorter_than_its_content_length_ends_in_eof() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [body]

    client = await _call(
        WsgiToAsgi(app), Client(b"abc"), method="POST", headers=[(b"content-length", b"10")]
    )
    assert client.content == b"abc"


@pytest.mark.asyncio
async def test_max_body_size_holds_for_declared_and_streamed_bodies() -> None:
    errors: list[BaseException] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except RequestBodyTooLargeError as exc:
            errors.append(exc)
            raise
        return _hello(environ, start_response)

    declared = await _call(
        WsgiToAsgi(app, max_body_size=5), Client(b"123456"), headers=[(b"content-length", b"6")]
    )
    assert declared.status == 413
    streamed = await _call(WsgiToAsgi(app, max_body_size=5), Client(b"123", b"456"))
    assert streamed.status == 413
    running = await _call(  # the app already reads when the limit is passed
        WsgiToAsgi(app, max_body_size=5, receive_buffer_size=1), Client(b"123", b"456")
    )
    assert running.status == 413
    assert len(errors) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", ["OK", "99 Too Low", "2000 Too High", "", b"200 OK"])
async def test_invalid_wsgi_statuses_are_refused(status: Any) -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response(status, [])
        return [b"x"]

    with pytest.raises(WsgiProtocolError):
        await _call(WsgiToAsgi(app), Client())


@pytest.mark.asyncio
async def test_start_response_misuse_is_refused() -> None:
    def twice(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("200 OK", [])
        return []

    def body_first(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return [b"no headers"]

    for app in (twice, body_first):
        with pytest.raises(WsgiProtocolError):
            await _call(WsgiToAsgi(app), Client())


@pytest.mark.asyncio
async def test_close_is_called_when_the_iterable_raises() -> None:
    closed: list[bool] = []

    class Failing:
        def __iter__(self) -> Iterator[bytes]:
            yield b"partial"
            raise RuntimeError("broken mid-body")

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Failing:
        start_response("200 OK", [])
        return Failing()

    with pytest.raises(RuntimeError, match="broken mid-body"):
        await _call(WsgiToAsgi(app), Client())
    assert closed == [True]


def test_hop_by_hop_headers_from_an_asgi_app_are_dropped() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"connection", b"close"), (b"transfer-encoding", b"chunked"), (b"x-a", b"1")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    adapter = AsgiToWsgi(app, lifespan="off")
    seen: list[Any] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SERVER_NAME": "h",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }
    try:
        body = adapter(environ, lambda status, headers, exc_info=None: seen.append(headers))
        assert b"".join(body) == b"ok"
    finally:
        adapter.close()
        stop_adapter_pools()
    assert seen == [[("x-a", "1")]]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["webtransport", "grpc", ""])
async def test_unknown_scopes_are_refused(kind: str) -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")

    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="non-HTTP scope"):
        await WsgiToAsgi(_hello)({"type": kind}, receive, send)
