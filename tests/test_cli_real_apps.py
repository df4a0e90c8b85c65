"""Django's ASGI handler and a Channels consumer, checked in a subprocess.

They run with the real asgiref (no install_as_asgiref) in their own process, so
Django's settings and asgiref's threads stay out of the test process. One
subprocess per framework runs the check scenarios over several paths.

Finding: Django's ASGIHandler sends response header names as it got them
(``Content-Type``), while the spec says "Header names must be lowercased"
(servers lowercase them, so nobody notices). Every other rule passes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

DJANGO_SETTINGS = """
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="not-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=INSTALLED,
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    )
    django.setup()

    from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
    from django.urls import path


    def index(request):
        return JsonResponse({"size": len(request.body), "method": request.method})


    async def stream(request):
        async def chunks():
            for part in (b"a", b"b", b"c"):
                yield part
        return StreamingHttpResponse(chunks())


    async def async_view(request):
        return HttpResponse(b"async")


    urlpatterns = [path("", index), path("stream", stream), path("async", async_view)]
"""

DJANGO_APP = """
    from django.core.asgi import get_asgi_application

    application = get_asgi_application()
"""

CHANNELS_APP = """
    from channels.generic.websocket import AsyncWebsocketConsumer, WebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.core.asgi import get_asgi_application


    class Echo(AsyncWebsocketConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data)


    class SyncEcho(WebsocketConsumer):
        def receive(self, text_data=None, bytes_data=None):
            self.send(text_data=text_data)


    class Refuse(AsyncWebsocketConsumer):
        async def connect(self):
            await self.close(code=4403)


    application = ProtocolTypeRouter({
        "http": get_asgi_application(),
        "websocket": URLRouter([
            path("", Echo.as_asgi()),
            path("sync", SyncEcho.as_asgi()),
            path("refuse", Refuse.as_asgi()),
        ]),
    })
"""

DRIVER = """
    import json, sys
    from asgibridge.validation import run_check
    from {module} import application

    out = []
    for path, ws_path, ignore in json.loads(sys.argv[1]):
        result = run_check(application, path=path, websocket_path=ws_path, timeout=20,
                           ignore=ignore)
        out.append(result.as_dict())
    print(json.dumps(out))
"""

LOWERCASE = "http.response.start.headers.lowercase-names"


def _check(
    tmp_path: Path, module: str, installed: list[str], app: str, runs: list[Any]
) -> list[dict[str, Any]]:
    source = f"INSTALLED = {installed!r}\n"
    source += textwrap.dedent(DJANGO_SETTINGS) + textwrap.dedent(app)
    (tmp_path / f"{module}.py").write_text(source)
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER.format(module=module)))
    done = subprocess.run(
        [sys.executable, "driver.py", json.dumps(runs)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reports: list[dict[str, Any]] = json.loads(done.stdout)
    return reports


def _rules(report: dict[str, Any]) -> set[str]:
    return {v["rule"] for s in report["scenarios"] for v in s["violations"]}


def test_django_asgi_handler(tmp_path: Path) -> None:
    pytest.importorskip("django")
    runs = [
        ["/", None, []],
        ["/", None, [LOWERCASE]],
        ["/stream", None, [LOWERCASE]],
        ["/async", None, [LOWERCASE]],
        ["/missing", None, [LOWERCASE]],
    ]
    first, *clean = _check(tmp_path, "django_site", [], DJANGO_APP, runs)
    assert _rules(first) == {LOWERCASE}
    for report in clean:
        assert report["ok"], report
        names = {s["name"]: s for s in report["scenarios"]}
        # Django answers lifespan and websocket scopes with an exception, as the spec asks.
        assert names["lifespan startup"]["status"] == "skipped"
        assert next(s for n, s in names.items() if n.startswith("websocket"))["status"] == (
            "skipped"
        )


def test_channels_consumers(tmp_path: Path) -> None:
    pytest.importorskip("channels")
    runs = [["/", "/", [LOWERCASE]], ["/", "/sync", [LOWERCASE]], ["/", "/refuse", [LOWERCASE]]]
    reports = _check(tmp_path, "channels_site", ["channels"], CHANNELS_APP, runs)
    notes = []
    for report in reports:
        assert report["ok"], report
        ws = next(s for s in report["scenarios"] if s["name"].startswith("websocket"))
        assert ws["status"] == "ok"
        notes.append(ws["notes"][0])
    assert notes[0].startswith("accepted; 1 message(s) back")
    assert notes[1].startswith("accepted; 1 message(s) back")
    assert notes[2].startswith("closed before accept (code 4403)")
