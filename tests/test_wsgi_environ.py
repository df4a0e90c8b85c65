"""Environ <-> scope translation and the WSGI stream objects (pure, no threads, no loop)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from asgibridge._asgi.wsgi.body import FileWrapper, RequestBody
from asgibridge._asgi.wsgi.environ import (
    DuplicateHeaderError,
    HeaderTooLargeError,
    build_environ,
    build_scope,
    environ_key,
    split_root_path,
)
from asgibridge.wsgi import WsgiToAsgiInstance


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [],
    }
    scope.update(changes)
    return scope


# -- scope -> environ -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        ("/app", "/app/x", ("/app", "/x")),
        ("/app", "/app", ("/app", "")),
        ("/app", "/application/x", ("/app", "/application/x")),
        ("/app/", "/app/x", ("/app", "/x")),
        ("", "/x", ("", "/x")),
        ("/", "/x", ("", "/x")),
        ("/app", "/x", ("/app", "/x")),  # an older server: path without root_path
    ],
)
def test_root_path_splits_at_segment_boundaries(
    root: str, path: str, expected: tuple[str, str]
) -> None:
    assert split_root_path(path, root) == expected
    environ = build_environ(_scope(path=path, root_path=root), None)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == expected


def test_non_ascii_paths_are_latin1_views_of_utf8() -> None:
    environ = build_environ(_scope(path="/中国/é", root_path="/中国"), None)
    assert environ["SCRIPT_NAME"].encode("latin-1").decode("utf-8") == "/中国"
    assert environ["PATH_INFO"].encode("latin-1").decode("utf-8") == "/é"


def test_header_names_with_underscores_are_dropped() -> None:
    headers = [(b"x-forwarded-for", b"10.0.0.1"), (b"x_forwarded_for", b"6.6.6.6")]
    environ = build_environ(_scope(headers=headers), None)
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
    assert environ_key(b"x_forwarded_for") is None
    assert environ_key(b"content_length") is None


def test_content_headers_have_cgi_names() -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"3"), (b"x-a", b"1")]
    environ = build_environ(_scope(headers=headers), None)
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert environ["HTTP_X_A"] == "1"


def test_repeated_headers_merge_and_cookies_join_with_semicolons() -> None:
    headers = [(b"accept", b"a"), (b"accept", b"b"), (b"cookie", b"x=1"), (b"cookie", b"y=2")]
    environ = build_environ(_scope(headers=headers), None)
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["HTTP_COOKIE"] == "x=1; y=2"


def test_101_cookie_lines_are_accepted_by_default() -> None:
    headers = [(b"cookie", f"c{i}=v".encode()) for i in range(101)]
    environ = build_environ(_scope(headers=headers), None)
    assert environ["HTTP_COOKIE"].count("; ") == 100


def test_duplicate_limit_when_asked() -> None:
    headers = [(b"x-test", b"v")] * 6
    with pytest.raises(DuplicateHeaderError):
        build_environ(_scope(headers=headers), None, duplicate_header_limit=5)
    environ = build_environ(_scope(headers=headers[:5]), None, duplicate_header_limit=5)
    assert environ["HTTP_X_TEST"] == "v,v,v,v,v"


def test_total_header_size_is_capped() -> None:
    headers = [(b"x-big", b"v" * 100)] * 10
    with pytest.raises(HeaderTooLargeError):
        build_environ(_scope(headers=headers), None, max_header_size=500)
    assert build_environ(_scope(headers=headers), None, max_header_size=None)["HTTP_X_BIG"]


@pytest.mark.parametrize(
    ("version", "protocol"),
    [("1.0", "HTTP/1.0"), ("1.1", "HTTP/1.1"), ("2", "HTTP/2"), (None, "HTTP/1.1")],
)
def test_server_protocol_follows_http_version(version: str | None, protocol: str) -> None:
    assert build_environ(_scope(http_version=version), None)["SERVER_PROTOCOL"] == protocol


def test_client_and_server_addresses() -> None:
    environ = build_environ(
        _scope(client=("10.1.2.3", 4567), server=("example.org", 8443), scheme="https"), None
    )
    assert environ["REMOTE_ADDR"] == "10.1.2.3"
    assert environ["REMOTE_PORT"] == "4567"
    assert environ["SERVER_NAME"] == "example.org"
    assert environ["SERVER_PORT"] == "8443"
    assert environ["wsgi.url_scheme"] == "https"


def test_client_and_server_absent_or_none() -> None:
    environ = build_environ(_scope(client=None, server=None), None)
    assert "REMOTE_ADDR" not in environ
    assert "REMOTE_PORT" not in environ
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("localhost", "80")
    unix = build_environ(_scope(server=("/tmp/s.sock", None)), None)
    assert (unix["SERVER_NAME"], unix["SERVER_PORT"]) == ("/tmp/s.sock", "0")


def test_pep3333_keys_present() -> None:
    body = object()
    environ = build_environ(_scope(query_string=b"a=1&b=%C3%A9"), body, file_wrapper=FileWrapper)
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert environ["wsgi.input"] is body
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.file_wrapper"] is FileWrapper
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.run_once"] is False


def test_instance_build_environ_is_asgirefs_api() -> None:
    instance = WsgiToAsgiInstance(None)
    environ = instance.build_environ(_scope(path="/base/foo/", root_path="/base"), None)
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/base", "/foo/")


# -- environ -> scope -------------------------------------------------------------------


def _environ(**changes: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/app",
        "PATH_INFO": "/x y",
        "QUERY_STRING": "q=1",
        "SERVER_NAME": "srv",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "5555",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "",
        "HTTP_X_THING": "v",
        "wsgi.url_scheme": "https",
    }
    environ.update(changes)
    return environ


def test_scope_from_environ() -> None:
    scope = build_scope(_environ(), {"db": 1})
    assert scope["type"] == "http"
    assert scope["method"] == "POST"
    assert scope["path"] == "/app/x y"
    assert scope["root_path"] == "/app"
    assert scope["query_string"] == b"q=1"
    assert scope["http_version"] == "1.0"
    assert scope["scheme"] == "https"
    assert scope["server"] == ("srv", 8080)
    assert scope["client"] == ("127.0.0.1", 5555)
    assert (b"content-type", b"text/plain") in scope["headers"]
    assert (b"x-thing", b"v") in scope["headers"]
    assert not any(name == b"content-length" for name, _ in scope["headers"])
    assert scope["state"] == {"db": 1}


def test_scope_decodes_utf8_paths_and_keeps_raw_path() -> None:
    raw = "/é".encode().decode("latin-1")
    scope = build_scope(_environ(SCRIPT_NAME="", PATH_INFO=raw, RAW_URI="/%C3%A9?q=1"))
    assert scope["path"] == "/é"
    assert scope["raw_path"] == b"/%C3%A9"
    assert "state" not in scope


def test_scope_without_client() -> None:
    environ = _environ()
    del environ["REMOTE_ADDR"], environ["REMOTE_PORT"]
    assert "client" not in build_scope(environ)


# -- wsgi.input -------------------------------------------------------------------------


class _Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.pulls = 0

    def pull(self) -> bytes:
        self.pulls += 1
        return self.chunks.pop(0) if self.chunks else b""


def test_read_sizes_across_chunks() -> None:
    body = RequestBody(_Chunks(b"abc", b"defg", b"h"))
    assert body.read(2) == b"ab"
    assert body.read(3) == b"cde"
    assert body.read(0) == b""
    assert body.read(10) == b"fgh"
    assert body.read(1) == b""
    assert body.read() == b""


def test_read_all_and_none() -> None:
    assert RequestBody(_Chunks(b"ab", b"cd")).read() == b"abcd"
    body = RequestBody(_Chunks(b"ab", b"cd"))
    assert body.read(1) == b"a"
    assert body.read(None) == b"bcd"


def test_reads_pull_lazily() -> None:
    source = _Chunks(b"abc", b"def")
    body = RequestBody(source)
    assert body.read(3) == b"abc"
    assert source.pulls == 1


def test_readline_readlines_and_iteration() -> None:
    body = RequestBody(_Chunks(b"one\ntw", b"o\nthr", b"ee"))
    assert body.readline() == b"one\n"
    assert body.readline(2) == b"tw"
    assert body.readline() == b"o\n"
    assert body.readlines() == [b"three"]
    assert list(RequestBody(_Chunks(b"a\nb\n", b"c"))) == [b"a\n", b"b\n", b"c"]
    assert RequestBody(_Chunks(b"a\nb\nc\n")).readlines(1) == [b"a\n"]


def test_read_errors_propagate() -> None:
    class Broken:
        def pull(self) -> bytes:
            raise ConnectionResetError("gone")

    with pytest.raises(OSError, match="gone"):
        RequestBody(Broken()).read()


# -- wsgi.file_wrapper ------------------------------------------------------------------


def test_file_wrapper_iterates_and_closes() -> None:
    stream = io.BytesIO(b"abcdefg")
    wrapper = FileWrapper(stream, 3)
    assert list(wrapper) == [b"abc", b"def", b"g"]
    assert wrapper.sendable_path() is None  # no name: cannot be sent by path
    wrapper.close()
    assert stream.closed


def test_file_wrapper_sendable_path(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    target.write_bytes(b"0123456789")
    with open(target, "rb") as handle:
        assert FileWrapper(handle).sendable_path() == os.fspath(target)
        handle.read(2)
        assert FileWrapper(handle).sendable_path() is None  # not at the start any more
