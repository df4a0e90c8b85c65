"""The test client against a real Django ASGI app, run in a subprocess.

Django is configured once per process and (with ``install_as_asgiref``)
changes which asgiref the process uses, so it runs in a child interpreter;
the child prints its observations as JSON and the test checks them. Django's
ASGI handler raises on lifespan scopes: "auto" lifespan must go on without it,
"on" must say so, and `LifespanMiddleware` must make startup hooks run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

CHILD = r"""
import asyncio, json, os, sys

if os.environ.get("USE_ASGIBRIDGE_AS_ASGIREF") == "1":
    import asgibridge
    asgibridge.install_as_asgiref()

import django
from django.conf import settings

settings.configure(
    DEBUG=False, SECRET_KEY="test", ROOT_URLCONF="__main__", ALLOWED_HOSTS=["testserver"],
    MIDDLEWARE=[], INSTALLED_APPS=[], DATABASES={}, LOGGING_CONFIG=None,
)
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

RESULTS = {}

def hello(request):
    return HttpResponse("hello " + request.GET.get("name", ""))

def echo(request):
    return JsonResponse({"method": request.method, "body": request.body.decode()})

async def stream(request):
    async def numbers():
        n = 0
        try:
            while True:
                yield f"{n}\n"
                n += 1
                await asyncio.sleep(0)
        finally:
            RESULTS["stream_stopped"] = True
    return StreamingHttpResponse(numbers(), content_type="text/plain")

urlpatterns = [path("hello", hello), path("echo", echo), path("stream", stream)]
django.setup()

from django.core.asgi import get_asgi_application
from asgibridge._errors import with_notes
from asgibridge.lifespan import LifespanMiddleware, LifespanUnsupportedError
from asgibridge.testclient import TestClient

from asgibridge.exceptions import AppSpecError

app = get_asgi_application()
try:  # Django sends "Content-Type", but ASGI says header names must be lowercased
    with TestClient(app) as client:
        client.get("/hello")
except AppSpecError as exc:
    RESULTS["strict"] = exc.rule_id

with TestClient(app, validate="collect") as client:  # lifespan "auto": Django lacks it
    RESULTS["hello"] = client.get("/hello", params={"name": "django"}).text
    RESULTS["echo"] = client.post("/echo", content=b"payload").json()
    with client.stream("GET", "/stream") as response:
        lines = response.iter_lines()
        RESULTS["stream"] = [next(lines) for _ in range(3)]
    RESULTS["lifespan_state"] = client.lifespan_state
    RESULTS["broken_rules"] = sorted(set(client.app.report.rule_ids()))

try:
    with TestClient(app, lifespan="on", validate=False):
        pass
except LifespanUnsupportedError as exc:
    RESULTS["unsupported"] = with_notes(exc)

def warm_up(state):
    state["warm"] = True

with TestClient(LifespanMiddleware(app, on_startup=warm_up), validate=False) as client:
    RESULTS["middleware_state"] = client.lifespan_state
    RESULTS["middleware_hello"] = client.get("/hello").text

print(json.dumps(RESULTS))
"""


def run_child(tmp_path: Path, as_asgiref: bool) -> dict[str, Any]:
    script = tmp_path / "django_child.py"
    script.write_text(CHILD)
    env = dict(os.environ, USE_ASGIBRIDGE_AS_ASGIREF="1" if as_asgiref else "0")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "as_asgiref",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                importlib.util.find_spec("asgibridge.local") is None,
                reason="asgibridge.local (needed by Django) is not there yet",
            ),
        ),
    ],
    ids=["real-asgiref", "asgibridge-as-asgiref"],
)
def test_django_asgi_app(tmp_path: Path, as_asgiref: bool) -> None:
    results = run_child(tmp_path, as_asgiref)
    assert results["strict"] == "http.response.start.headers.lowercase-names"
    assert results["broken_rules"] == ["http.response.start.headers.lowercase-names"]
    assert results["hello"] == "hello django"
    assert results["echo"] == {"method": "POST", "body": "payload"}
    assert results["stream"] == ["0", "1", "2"]
    assert results["stream_stopped"] is True  # closing the stream disconnected Django
    assert results["lifespan_state"] is None
    assert "LifespanMiddleware" in results["unsupported"]
    assert results["middleware_state"] == {"warm": True}
    assert results["middleware_hello"] == "hello "
