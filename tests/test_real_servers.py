"""WsgiToAsgi and AsgiToWsgi under real servers on 127.0.0.1, bounded, always torn down.

Each server runs as a subprocess on a listening socket this test made and
passed down (a file descriptor): connections queue in its backlog from the
first moment, so there is no start-up polling, and the port is never raced.
Every request loop is bounded in count, every wait in time, and the server
is stopped in a ``finally`` (terminate, then kill).

Covered: uvicorn (default settings, the keep-alive regression of issue 5, a
client leaving a streamed response) and hypercorn serving `WsgiToAsgi`;
gunicorn (sync and gthread, 2 workers) and waitress serving `AsgiToWsgi`;
Flask through `WsgiToAsgi` in process; Django through `WsgiToAsgi` under
uvicorn (a subprocess: it calls
``install_as_asgiref()`` before importing Django).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from asgibridge._runtime import stop_adapter_pools
from local_servers import free_listener, stop_process

WAIT = 20.0  # seconds any single request or server stop may take


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextmanager
def serving(
    tmp_path: Path, source: str, command: Callable[[int], list[str]]
) -> Iterator[tuple[str, Path]]:
    """Run ``command(fd)`` with ``source`` as ``app.py`` in ``tmp_path``; yields (url, dir)."""
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    listener = free_listener(128)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
    env.pop("ASGIBRIDGE_HANG_TIMEOUT", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        command(fd), cwd=tmp_path, env=env, pass_fds=(fd,), stdout=log, stderr=log
    )
    listener.close()  # the server has its own copy
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        stop_process(process, WAIT)
        log.close()


def _log(where: Path) -> str:
    return (where / "server.log").read_text(errors="replace")


def _statuses(url: str, requests: int, clients: int, path: str = "/") -> list[int]:
    """``clients`` keep-alive connections sending ``requests`` GETs in all."""

    def one_client(count: int) -> list[int]:
        with httpx.Client(base_url=url, timeout=WAIT) as client:
            return [client.get(path).status_code for _ in range(count)]

    with ThreadPoolExecutor(clients) as pool:
        parts = pool.map(one_client, [requests // clients] * clients)
    return [status for part in parts for status in part]


# -- WsgiToAsgi under ASGI servers ------------------------------------------------------------

WSGI_APP = """
import threading, time
from asgibridge.wsgi import WsgiToAsgi

closed = threading.Event()

class Endless:
    def __iter__(self):
        return self
    def __next__(self):
        return b"x" * 4096
    def close(self):
        closed.set()

def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/endless":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Endless()
    if path == "/endless-closed":  # waits (bounded) for the endless body's close()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"closed" if closed.wait(10) else b"still iterated"]
    if path == "/upload":
        total = 0
        while True:
            data = environ["wsgi.input"].read(65536)
            if not data:
                break
            total += len(data)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(total).encode()]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"%d," % i for i in range(100))
    if path == "/slow":
        time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]

app = WsgiToAsgi(wsgi)
"""


# uvicorn's ``--fd`` wraps the socket as AF_UNIX, so asyncio never sets
# TCP_NODELAY on its connections (Nagle + delayed ACK: 40 ms per response).
# ``Server.run(sockets=...)`` takes the socket as it is; the config is the default.
_UVICORN_RUNNER = (
    "import socket, sys, uvicorn; "
    "sock = socket.socket(fileno=int(sys.argv[1])); "
    "uvicorn.Server(uvicorn.Config('app:app', log_level='warning')).run(sockets=[sock])"
)


def _uvicorn(fd: int) -> list[str]:
    return [sys.executable, "-c", _UVICORN_RUNNER, str(fd)]


def _pipelined(url: str, count: int) -> list[bytes]:
    """Send ``count`` GETs in one write on one connection; the status codes read back."""
    host, port = url.removeprefix("http://").split(":")
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        sock.sendall(request * count)
        data = b""
        while data.count(b"HTTP/1.1 ") < count or not data.endswith(b"hello"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return re.findall(rb"HTTP/1.1 (\d{3})", data)


def test_uvicorn_default_keep_alive_regression(tmp_path: Path) -> None:
    # asgiref answers every other pipelined keep-alive request with 500 here.
    with serving(tmp_path, WSGI_APP, _uvicorn) as (url, where):
        assert _pipelined(url, 20) == [b"200"] * 20, _log(where)
        statuses = _statuses(url, requests=200, clients=4)
        assert [s for s in statuses if not 200 <= s < 300] == [], _log(where)
        assert len(statuses) == 200


def test_uvicorn_streams_and_uploads(tmp_path: Path) -> None:
    with serving(tmp_path, WSGI_APP, _uvicorn) as (url, _):
        with httpx.Client(base_url=url, timeout=WAIT) as client:
            body = os.urandom(1 << 20)
            assert client.post("/upload", content=body).text == str(len(body))
            chunked = client.post("/upload", content=iter([body[:1000], body[1000:]]))
            assert chunked.text == str(len(body))
            with client.stream("GET", "/stream") as response:
                text = b"".join(response.iter_bytes())
            assert text == b"".join(b"%d," % i for i in range(100))


def test_uvicorn_serves_slow_views_in_parallel(tmp_path: Path) -> None:
    with serving(tmp_path, WSGI_APP, _uvicorn) as (url, _):
        statuses = _statuses(url, requests=64, clients=16, path="/slow")
        assert statuses == [200] * 64


def test_uvicorn_client_disconnect_stops_a_stream(tmp_path: Path) -> None:
    # uvicorn drops sends after a disconnect silently: only receive() tells.
    with serving(tmp_path, WSGI_APP, _uvicorn) as (url, where):
        with httpx.Client(base_url=url, timeout=WAIT) as client:
            with client.stream("GET", "/endless") as response:
                received = 0
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if received > 1 << 20:
                        break  # leaving early closes the connection
            assert client.get("/endless-closed").text == "closed", _log(where)


@pytest.mark.skipif(not _have("hypercorn"), reason="hypercorn is not installed")
def test_hypercorn(tmp_path: Path) -> None:
    def command(fd: int) -> list[str]:
        return [sys.executable, "-m", "hypercorn", "--bind", f"fd://{fd}", "app:app"]

    with serving(tmp_path, WSGI_APP, command) as (url, where):
        assert _statuses(url, requests=40, clients=4) == [200] * 40, _log(where)
        with httpx.Client(base_url=url, timeout=WAIT) as client:
            assert client.post("/upload", content=b"x" * 300_000).text == "300000"
            assert client.get("/stream").text.startswith("0,1,2,")


# -- AsgiToWsgi under WSGI servers --------------------------------------------------------------

ASGI_APP = """
import asyncio, os
from pathlib import Path
from asgibridge.asgi_to_wsgi import AsgiToWsgi

startups = []

async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        startups.append(os.getpid())
        scope["state"]["pid"] = os.getpid()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        Path(f"shutdown-{os.getpid()}").write_text("done")
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    if scope["path"] == "/stream":
        for i in range(50):
            await send({"type": "http.response.body", "body": b"%d," % i, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body"})
        return
    text = f"{os.getpid()} {len(startups)} {scope['state']['pid']} {len(body)}"
    await send({"type": "http.response.body", "body": text.encode()})

app = AsgiToWsgi(asgi)
"""


def _check_asgi_to_wsgi(url: str, where: Path) -> set[str]:
    """Requests on fresh connections; returns the worker pids that answered."""
    pids = set()
    for _ in range(20):
        response = httpx.post(url + "/", content=b"abc", timeout=WAIT)
        assert response.status_code == 200, _log(where)
        pid, startups, state_pid, length = response.text.split()
        assert startups == "1"  # lifespan startup ran once in this worker
        assert state_pid == pid  # its state reached the request scope
        assert length == "3"
        pids.add(pid)
    with httpx.Client(base_url=url, timeout=WAIT) as client:
        big = client.post("/", content=b"y" * 500_000)
        assert big.text.split()[-1] == "500000"
        streamed = client.get("/stream").text
        assert streamed == "".join(f"{i}," for i in range(50))
    return pids


@pytest.mark.skipif(not _have("gunicorn"), reason="gunicorn is not installed")
@pytest.mark.parametrize("worker", ["sync", "gthread"])
def test_gunicorn_two_workers(tmp_path: Path, worker: str) -> None:
    def command(fd: int) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "-w", "2",
                "-k", worker, "--threads", "4", "--graceful-timeout", "5", "app:app"]  # fmt: skip

    with serving(tmp_path, ASGI_APP, command) as (url, where):
        pids = _check_asgi_to_wsgi(url, where)
    for pid in pids:  # lifespan shutdown ran in each worker that served
        assert (where / f"shutdown-{pid}").exists(), _log(where)


@pytest.mark.skipif(not _have("waitress"), reason="waitress is not installed")
def test_waitress(tmp_path: Path) -> None:
    runner = tmp_path / "run_waitress.py"
    runner.write_text(
        textwrap.dedent(
            """
            import socket, sys
            import waitress
            from app import app
            sock = socket.socket(fileno=int(sys.argv[1]))
            waitress.serve(app, sockets=[sock], threads=4, _quiet=True)
            """
        )
    )

    def command(fd: int) -> list[str]:
        return [sys.executable, str(runner), str(fd)]

    with serving(tmp_path, ASGI_APP, command) as (url, where):
        pids = _check_asgi_to_wsgi(url, where)
    assert len(pids) == 1


# -- frameworks ---------------------------------------------------------------------------------


@pytest.mark.skipif(not _have("flask"), reason="flask is not installed")
@pytest.mark.asyncio
async def test_flask_through_wsgi_to_asgi() -> None:
    import flask

    from asgibridge.wsgi import WsgiToAsgi

    flask_app = flask.Flask("wsgi_test")

    @flask_app.post("/form")
    def form() -> dict[str, str]:
        return {"name": flask.request.form["name"], "agent": flask.request.user_agent.string}

    @flask_app.get("/stream")
    def stream() -> flask.Response:
        return flask.Response(b"%d;" % i for i in range(5))

    transport = httpx.ASGITransport(app=WsgiToAsgi(flask_app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            posted = await client.post("/form", data={"name": "ada"}, headers={"User-Agent": "x"})
            assert posted.json() == {"name": "ada", "agent": "x"}
            assert (await client.get("/stream")).text == "0;1;2;3;4;"
            assert (await client.get("/missing")).status_code == 404
    finally:
        stop_adapter_pools()


DJANGO_APP = """
import asgibridge
asgibridge.install_as_asgiref()

import threading
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    INSTALLED_APPS=[],
    DATABASES={},
)
django.setup()

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

def hello(request):
    return HttpResponse(f"hello {request.GET.get('who', 'world')}")

@csrf_exempt
def echo(request):
    return HttpResponse(request.body[::-1], content_type="application/octet-stream")

def stream(request):
    return StreamingHttpResponse(b"%d." % i for i in range(10))

def thread(request):
    return HttpResponse(threading.current_thread().name)

urlpatterns = [path("", hello), path("echo", echo), path("stream", stream),
               path("thread", thread)]

from django.core.wsgi import get_wsgi_application
import asgiref
import asgibridge.sync
assert asgiref.sync is asgibridge.sync, "Django must run on asgibridge here"
from asgibridge.wsgi import WsgiToAsgi
app = WsgiToAsgi(get_wsgi_application())
"""


@pytest.mark.skipif(not _have("django"), reason="django is not installed")
def test_django_through_wsgi_to_asgi(tmp_path: Path) -> None:
    with serving(tmp_path, DJANGO_APP, _uvicorn) as (url, where):
        with httpx.Client(base_url=url, timeout=WAIT) as client:
            hello = client.get("/?who=django")
            assert (hello.status_code, hello.text) == (200, "hello django"), _log(where)
            payload = os.urandom(100_000)
            assert client.post("/echo", content=payload).content == payload[::-1]
            assert client.get("/stream").text == "".join(f"{i}." for i in range(10))
            assert client.get("/thread").text.startswith("asgibridge-")
            assert client.get("/nowhere").status_code == 404
        assert _statuses(url, requests=40, clients=4) == [200] * 40


def test_serving_helper_stops_the_server(tmp_path: Path) -> None:
    with serving(tmp_path, WSGI_APP, _uvicorn) as (url, _):
        assert httpx.get(url, timeout=WAIT).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2.0)
