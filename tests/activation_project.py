"""A stock ``django-admin startproject`` in a temp dir, plus the helpers that serve it.

Used by ``test_activation_servers.py``: each server runs in its own session
(process group) and is stopped by the PID this module started; every wait is
bounded. Servers that accept a listening socket get one this module made
(requests queue in its backlog, so there is no start-up polling); Django's
``runserver`` cannot, so its start is read from its own output.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

WAIT = 30.0  # seconds a server may take to start, answer or stop

PROBE_VIEW = """

# --- added by asgibridge's tests: which module serves asgiref.sync in this process ---
import os as _os
import sys as _sys

import asgiref.sync as _asgiref_sync
from django.http import JsonResponse as _JsonResponse


def _probe(request):
    real = sorted(
        name for name, module in list(_sys.modules.items())
        if name.split(".")[0] == "asgiref"
        and not module.__name__.startswith("asgibridge")
        and type(module).__name__ != "AsgirefPackage"  # the alias's own package object
    )
    return _JsonResponse({"sync": _asgiref_sync.__name__, "real": real, "pid": _os.getpid()})


urlpatterns.append(path("probe/", _probe))
"""

# The documented first lines, in an ASGI module of their own (daphne imports it after
# it has imported asgiref itself).
INSTALLED_ASGI = """import asgibridge

asgibridge.install_as_asgiref()

from mysite.asgi import application  # noqa: E402
"""

PYTEST_PROBE = """
import asgiref.sync


def test_probe(client):
    answer = client.get("/probe/").json()
    assert answer["sync"] == asgiref.sync.__name__
    print("PROBE", answer["sync"], answer["real"])
"""


def make_project(where: Path) -> Path:
    """``startproject mysite`` under ``where`` with a probe view; returns the project root."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite"],
        cwd=where,
        check=True,
        capture_output=True,
        timeout=WAIT,
    )
    root = where / "mysite"
    with (root / "mysite" / "urls.py").open("a") as urls:
        urls.write(PROBE_VIEW)
    (root / "mysite" / "asgi_installed.py").write_text(INSTALLED_ASGI)
    (root / "test_probe.py").write_text(PYTEST_PROBE)
    return root


def child_env(**extra: str) -> dict[str, str]:
    """This environment, its scripts first on PATH, no activation unless ``extra`` sets it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASGIBRIDGE_", "DJANGO_"))}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra)
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # the session this module started
        except ProcessLookupError:
            pass
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(WAIT)


@contextmanager
def listening_socket() -> Iterator[socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    try:
        yield listener
    finally:
        listener.close()


def probe_through_fd(root: Path, argv: list[str], fd: int, **env: str) -> dict[str, Any]:
    """Start ``argv`` (it serves on inherited ``fd``), GET /probe/, stop it."""
    log = root / f"server-{fd}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=root, env=child_env(**env), pass_fds=(fd,), stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        port = socket.socket(fileno=os.dup(fd))
        with port:
            url = f"http://127.0.0.1:{port.getsockname()[1]}/probe/"
        return _probed(
            httpx.get(url, timeout=WAIT), process, lambda: log.read_text("utf-8", "replace")
        )
    finally:
        _stop(process)


def _probed(
    answer: httpx.Response, process: subprocess.Popen[bytes], output: Callable[[], str]
) -> dict[str, Any]:
    """The probe view's JSON answer, with the server's pid; its output if it was not a 200."""
    assert answer.status_code == 200, output()
    result: dict[str, Any] = answer.json()
    result["server_pid"] = process.pid
    return result


def probe_runserver(root: Path, argv: list[str], port: int, **env: str) -> dict[str, Any]:
    """Start Django's ``runserver`` (``argv``), wait for its banner, GET /probe/, stop it."""
    env["PYTHONUNBUFFERED"] = "1"  # the banner must not wait in a pipe's buffer
    process = subprocess.Popen(
        argv, cwd=root, env=child_env(**env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    seen = ""
    try:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            deadline = time.monotonic() + WAIT
            # Raw reads: a buffered readline() could keep the banner in its buffer while
            # select() waits for more output that never comes.
            while "Quit the server" not in seen:
                left = deadline - time.monotonic()
                assert left > 0, seen
                assert selector.select(left), seen
                chunk = os.read(fd, 65536).decode(errors="replace")
                assert chunk, seen  # it exited
                seen += chunk
        # Before Django 5.1 the banner came just before the bind: retry refused connections.
        transport = httpx.HTTPTransport(retries=5)
        with httpx.Client(transport=transport, timeout=WAIT) as client:
            answer = client.get(f"http://127.0.0.1:{port}/probe/")
        return _probed(answer, process, lambda: seen)
    finally:
        _stop(process)
        if process.stdout is not None:
            process.stdout.close()


def probe_port(root: Path, argv: list[str], port: int, **env: str) -> dict[str, Any]:
    """Start a server that binds ``port`` itself, GET /probe/ (connects retried), stop it."""
    log = root / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=root, env=child_env(**env), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        # Refused connections are retried with a growing back-off (about 30 s in all).
        transport = httpx.HTTPTransport(retries=6)
        with httpx.Client(transport=transport, timeout=WAIT) as client:
            answer = client.get(f"http://127.0.0.1:{port}/probe/")
        return _probed(answer, process, lambda: log.read_text("utf-8", "replace"))
    finally:
        _stop(process)


def run_pytest(root: Path, *args: str) -> tuple[int, str]:
    """pytest + pytest-django on the project's ``test_probe.py``; (status, output)."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args,
         "test_probe.py"],
        cwd=root, env=child_env(DJANGO_SETTINGS_MODULE="mysite.settings"),
        capture_output=True, text=True, timeout=WAIT * 2, check=False,
    )  # fmt: skip
    return completed.returncode, completed.stdout + completed.stderr


def probed(output: str) -> str:
    """What the project's test printed: ``<module serving asgiref.sync> <real modules>``."""
    return next(ln for ln in output.splitlines() if "PROBE " in ln).partition("PROBE ")[2]
