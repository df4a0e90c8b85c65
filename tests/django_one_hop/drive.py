"""Serve the same scenarios through asgibridge.django's handler and Django's, print what happened.

Run by tests/test_django_one_hop.py in a child process (Django is configured
once per process, and asgibridge must be installed as asgiref before Django
is imported). Prints one JSON object as its last line:
``{scenario: {"one-hop": observation, "django": observation}}`` plus the
fallback reasons the one-hop handler logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import asgibridge

asgibridge.install_as_asgiref()

import django  # noqa: E402
from django.conf import settings  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="one-hop-"))
settings.configure(
    DEBUG=False,
    SECRET_KEY="tests-only-" * 5,
    ROOT_URLCONF="urls_one_hop",
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "middleware_one_hop.OldStyle",
    ],
    INSTALLED_APPS=[],
    DATABASES={},
    LOGGING_CONFIG=None,
    FILE_UPLOAD_MAX_MEMORY_SIZE=1000,
    DATA_UPLOAD_MAX_MEMORY_SIZE=None,
)
sys.path.insert(0, str(Path(__file__).resolve().parent))
django.setup()

import views_one_hop as views  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.signals import (  # noqa: E402
    got_request_exception,
    request_finished,
    request_started,
)
from django.test.utils import override_settings  # noqa: E402

import asgibridge.django  # noqa: E402
from asgibridge.instrumentation import add_hop_listener  # noqa: E402
from asgibridge.testing import ApplicationCommunicator  # noqa: E402

REASONS: list[str] = []


class Reasons(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        REASONS.append(record.getMessage())


fallback_log = logging.getLogger("asgibridge.django")
fallback_log.setLevel(logging.DEBUG)
fallback_log.addHandler(Reasons())
logging.getLogger("django").addHandler(logging.NullHandler())
logging.getLogger("django").propagate = False

SEEN: dict[str, list[Any]] = {}


def _record(name: str) -> Any:
    def receiver(sender: Any, **kwargs: Any) -> None:
        SEEN.setdefault(name, []).append(threading.current_thread().name)

    return receiver


_receivers = [_record(n) for n in ("started", "finished", "exception")]
request_started.connect(_receivers[0])
request_finished.connect(_receivers[1])
got_request_exception.connect(_receivers[2])


def scope(path: str, method: str = "GET", query: bytes = b"", headers: Any = ()) -> Any:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }


async def serve(app: Any, request_scope: Any, body: bytes = b"", chunk: int = 0) -> Any:
    """One request; the observation: messages, signals, hops, the app's error."""
    SEEN.clear()
    views.VIEW_THREADS.clear()
    hops = 0

    def started(info: Any) -> None:
        nonlocal hops
        hops += 1

    communicator = ApplicationCommunicator(app, request_scope)
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    for i, piece in enumerate(pieces):
        await communicator.send_input(
            {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        )
    messages = []
    with add_hop_listener(on_start=started, on_end=lambda info, state: None):
        error = None
        try:
            while True:
                message = await communicator.receive_output(5)
                messages.append(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    break
            await communicator.wait(5)
        except Exception as exc:
            error = type(exc).__name__
    start = messages[0] if messages else {}
    threads = {*SEEN.get("started", []), *SEEN.get("finished", []), *views.VIEW_THREADS}
    return {
        "status": start.get("status"),
        "headers": sorted([k.decode().lower(), v.decode()] for k, v in start.get("headers", [])),
        "body": b"".join(m.get("body", b"") for m in messages[1:]).decode("latin1")[:3000],
        "body_messages": len(messages) - 1,
        "started": len(SEEN.get("started", [])),
        "finished": len(SEEN.get("finished", [])),
        "exceptions": len(SEEN.get("exception", [])),
        "one_thread": len(threads) == 1 and "MainThread" not in threads,
        "error": error,
        "hops": hops,
    }


async def disconnect_during_view(app: Any) -> Any:
    """The client leaves while a sync view runs: no response, request_finished once.

    request_finished's sync receivers queue behind the view on the request's
    thread, so the view is released once the handler has begun sending it
    (``request_finished.asend``, wrapped here, says when).
    """
    SEEN.clear()
    views.RELEASE.clear()
    views.ENTERED.clear()
    finishing = asyncio.Event()

    asend = request_finished.asend

    async def announced(*args: Any, **kwargs: Any) -> Any:
        finishing.set()
        return await asend(*args, **kwargs)

    request_finished.asend = announced  # type: ignore[method-assign]
    communicator = ApplicationCommunicator(app, scope("/held"))
    await communicator.send_input({"type": "http.request"})
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, views.ENTERED.wait, 5)
    await communicator.send_input({"type": "http.disconnect"})
    await asyncio.wait_for(finishing.wait(), 5)
    views.RELEASE.set()
    await communicator.wait(5)
    await loop.run_in_executor(None, views.LEFT.wait, 5)
    views.LEFT.clear()
    del request_finished.asend
    sent = not communicator.output_queue.empty()
    return {
        "finished": len(SEEN.get("finished", [])),
        "started": len(SEEN.get("started", [])),
        "sent": sent,
    }


def _subclass(base: Any) -> Any:
    class Subclassed(base):  # type: ignore[misc,valid-type]
        chunk_size = 1000

        async def send_response(self, response: Any, send: Any) -> None:
            response["X-Sent-By"] = "subclass"
            await super().send_response(response, send)

    return Subclassed


async def tasks_made(app: Any, request_scope: Any) -> Any:
    """serve()'s observation, plus whether the loop's factory made the disconnect watch.

    (Django's handler makes more tasks than the one-hop handler: only the watch is compared.)
    """
    loop = asyncio.get_running_loop()
    made: list[str] = []

    def factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
        made.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        observation = await serve(app, request_scope)
    finally:
        loop.set_task_factory(None)
    return {**observation, "watch_by_factory": "ASGIHandler.listen_for_disconnect" in made}


SCENARIOS: dict[str, Any] = {
    "hello with a cookie": lambda: (scope("/hello"),),
    "sync view raising: 500": lambda: (scope("/boom"),),
    "404": lambda: (scope("/missing"),),
    "HEAD": lambda: (scope("/hello", method="HEAD"),),
    "non-UTF-8 query string: 400": lambda: (scope("/hello", query=b"\xff"),),
    "streaming, 200 parts (several batches)": lambda: (scope("/stream"),),
    "streaming, async iterator from a sync view": lambda: (scope("/astream"),),
    "FileResponse, 300 KiB": lambda: (scope("/file"),),
    "POST body spooled to disk": lambda: (
        scope("/echo", method="POST", headers=[(b"content-type", b"application/octet-stream")]),
        b"x" * 50_000,
        4096,
    ),
    "template response + view middleware": lambda: (scope("/template"),),
    "body past chunk_size: two messages": lambda: (scope("/big"),),
    "empty body (204)": lambda: (scope("/empty"),),
    "close() raising": lambda: (scope("/bad-close"),),
    "CSRF rejection": lambda: (scope("/hello", method="POST"),),
    "async view (falls back)": lambda: (scope("/async"),),
}


async def main() -> None:
    views.FILE.write_bytes(os.urandom(300 * 1024))
    apps = {"one-hop": asgibridge.django.get_asgi_application(), "django": ASGIHandler()}
    report: dict[str, Any] = {}
    for name, make in SCENARIOS.items():
        report[name] = {}
        for handler, app in apps.items():
            report[name][handler] = await serve(app, *make())
    with override_settings(DEBUG=True):
        report["DEBUG page"] = {h: await serve(app, scope("/boom")) for h, app in apps.items()}
        for observation in report["DEBUG page"].values():
            # The technical page names the exception; the rest holds addresses and times.
            title = observation["body"].split("<title>", 1)[-1].split("</title>", 1)[0]
            observation["body"] = " ".join(title.split()) == "ValueError at /boom"
            headers = observation["headers"]
            observation["headers"] = [h for h in headers if h[0] != "content-length"]

    # A subclass's send_response and chunk_size are used, as Django's handler uses them.
    subclassed = {
        "one-hop": _subclass(asgibridge.django.OneHopASGIHandler)(),
        "django": _subclass(ASGIHandler)(),
    }
    report["subclass overriding send_response and chunk_size"] = {
        h: await serve(app, scope("/big")) for h, app in subclassed.items()
    }
    # A loop's task factory sees the disconnect watch's task, as it sees Django's.
    report["disconnect watch made by the loop's task factory"] = {
        h: await tasks_made(app, scope("/hello")) for h, app in apps.items()
    }

    report["disconnect during a sync view"] = {
        h: await disconnect_during_view(app) for h, app in apps.items()
    }

    async def async_receiver(sender: Any, **kwargs: Any) -> None:
        SEEN.setdefault("async started", []).append(1)

    request_started.connect(async_receiver)
    report["async request_started receiver (falls back)"] = {
        h: await serve(app, scope("/hello")) for h, app in apps.items()
    }
    request_started.disconnect(async_receiver)

    with override_settings(MIDDLEWARE=["middleware_one_hop.AsyncOnly"]):
        built = {"one-hop": asgibridge.django.get_asgi_application(), "django": ASGIHandler()}
        report["async-only middleware (falls back)"] = {
            h: await serve(app, scope("/hello")) for h, app in built.items()
        }
    report["fallback reasons"] = REASONS
    report["python"] = list(sys.version_info[:2])
    print(json.dumps(report))


asyncio.run(main())
