"""Views of the one-hop handler's test site (sync unless the name says async)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse

VIEW_THREADS: list[str] = []
ENTERED = threading.Event()
RELEASE = threading.Event()
LEFT = threading.Event()
FILE = Path(tempfile.mkdtemp(prefix="one-hop-file-")) / "payload.bin"


def _seen() -> None:
    VIEW_THREADS.append(threading.current_thread().name)


def hello(request: HttpRequest) -> HttpResponse:
    _seen()
    response = HttpResponse(f"hello {request.method} {request.path}")
    response.set_cookie("flavour", "oat", max_age=60, httponly=True)
    response["X-Custom"] = "yes"
    return response


def boom(request: HttpRequest) -> HttpResponse:
    _seen()
    raise ValueError("boom")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    _seen()

    def parts() -> Iterator[bytes]:
        for i in range(200):
            yield f"part {i}\n".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


def astream(request: HttpRequest) -> StreamingHttpResponse:
    _seen()

    async def parts() -> AsyncIterator[bytes]:
        for i in range(5):
            await asyncio.sleep(0)
            yield f"async part {i}\n".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


def file(request: HttpRequest) -> FileResponse:
    _seen()
    return FileResponse(FILE.open("rb"), content_type="application/octet-stream")


def echo(request: HttpRequest) -> HttpResponse:
    _seen()
    # Django's ASGIRequest reads from the body file read_body filled (rolled to disk past
    # FILE_UPLOAD_MAX_MEMORY_SIZE); reading .body replaces the stream, so look first.
    rolled = bool(getattr(request._stream, "_rolled", False))  # type: ignore[attr-defined]
    body = request.body
    return HttpResponse(f"{len(body)} bytes, spooled to disk: {rolled}")


def big(request: HttpRequest) -> HttpResponse:
    _seen()
    # Past ASGIHandler.chunk_size (64 KiB): sent as two body messages.
    return HttpResponse(b"b" * (2**16 + 100))


def empty(request: HttpRequest) -> HttpResponse:
    _seen()
    return HttpResponse(status=204)


def template(request: HttpRequest) -> TemplateResponse:
    _seen()
    return TemplateResponse(request, _TEMPLATE, {"name": "one hop"})


def held(request: HttpRequest) -> HttpResponse:
    ENTERED.set()
    try:
        RELEASE.wait(5)
        return HttpResponse("too late")
    finally:
        LEFT.set()


class _Closer(HttpResponse):
    def close(self) -> None:
        super().close()
        raise OSError("close failed")


def bad_close(request: HttpRequest) -> HttpResponse:
    _seen()
    return _Closer("closing fails")


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async " + threading.current_thread().name.split("-")[0])


class _Template:
    """A template object TemplateResponse can render without a template directory."""

    def render(self, context: Any = None, request: Any = None) -> str:
        return f"rendered for {context['name']}, {context.get('added', '-')}"


_TEMPLATE = _Template()
