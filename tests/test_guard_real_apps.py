"""The guard over real frameworks and real servers, in this process.

Starlette (test dependency) is checked with the ``check`` scenarios and under
httpx's ASGI transport; uvicorn serves a guarded Starlette app on 127.0.0.1 so
the server side of the rules meets a real server. Only async endpoints are
used here: Starlette runs sync endpoints on anyio worker threads that outlive
the test. Django and Channels run in a subprocess (tests/test_cli_real_apps.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asgibridge.validation import check_app, guard

starlette = pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.base import BaseHTTPMiddleware  # noqa: E402
from starlette.middleware.gzip import GZipMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import (  # noqa: E402
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402

HERE = Path(__file__).resolve()


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"method": request.method, "size": len(body), "state": request.state.tag})


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[str]:
        for i in range(3):
            yield f"chunk {i}\n"

    return StreamingResponse(chunks(), media_type="text/plain")


async def file(request: Request) -> Response:
    # stat_result given: no anyio worker thread is needed to stat the file.
    return FileResponse(HERE, stat_result=HERE.stat())


async def redirect(request: Request) -> Response:
    return RedirectResponse("/")


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


async def ws_reject(websocket: WebSocket) -> None:
    await websocket.close(code=4403)


class Stamp(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-stamp"] = "1"
        return response


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    yield {"tag": "from-lifespan"}


def make_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/", echo, methods=["GET", "HEAD", "POST"]),
            Route("/stream", stream, methods=["GET", "HEAD", "POST"]),
            Route("/file", file, methods=["GET", "HEAD", "POST"]),
            Route("/redirect", redirect, methods=["GET", "HEAD", "POST"]),
            WebSocketRoute("/", ws_echo),
            WebSocketRoute("/reject", ws_reject),
        ],
        middleware=[Middleware(Stamp), Middleware(GZipMiddleware)],
        lifespan=lifespan,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "ws_path"),
    [("/", "/"), ("/stream", "/reject"), ("/file", "/nowhere"), ("/redirect", "/"), ("/404", "/")],
)
async def test_starlette_passes_every_check_scenario(path: str, ws_path: str) -> None:
    result = await check_app(make_app(), path=path, websocket_path=ws_path, timeout=10)
    assert result.violation_count == 0, result.format()
    assert result.ok, result.format()
    statuses = {s.name: s.status for s in result.scenarios}
    assert statuses["lifespan startup"] == "ok"
    assert statuses["lifespan shutdown"] == "ok"


@pytest.mark.asyncio
async def test_starlette_under_httpx_asgi_transport_passes_in_raise_mode() -> None:
    # httpx's transport sends server=("testserver", None) without declaring
    # spec_version 2.2 (the version that allowed a None port, for unix sockets):
    # a server-side finding about httpx, not about Starlette.
    guarded = guard(make_app(), ignore=["http.scope.server.unix-socket-since-2.2"])
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        # httpx's transport sends no lifespan; the app's state is empty then.
        for method, path in [("GET", "/stream"), ("POST", "/redirect"), ("HEAD", "/404")]:
            response = await client.request(method, path, content=b"data")
            assert response.status_code in (200, 307, 404)
    assert guarded.report.ok


@pytest.mark.asyncio
async def test_uvicorn_and_starlette_break_no_rule_over_real_http() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    guarded = guard(make_app(), mode="collect")
    # A socket bound and listening before uvicorn starts: the client's connection
    # waits in the backlog until uvicorn serves it, so nothing polls for readiness.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(guarded, lifespan="on", log_level="warning", ws="none")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))

    async def requests() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for method, path in [
                ("GET", "/"),
                ("POST", "/"),
                ("GET", "/stream"),
                ("HEAD", "/file"),
                ("GET", "/404"),
            ]:
                response = await client.request(method, path, content=b"x" * 10)
                assert response.status_code in (200, 404)

    try:
        await asyncio.wait_for(requests(), 30)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        sock.close()
    assert guarded.report.ok, guarded.report.format()
