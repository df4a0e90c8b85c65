"""Serve the bridge_site Django project through asgibridge and print what happened as JSON.

Usage: ``python drive.py DB_FILE`` (run by tests/test_django_integration.py).

asgibridge is installed as asgiref *before* Django is imported, so Django's
``asgiref.sync`` and ``asgiref.local`` are asgibridge's. The ASGI application
is ``django.core.handlers.asgi.ASGIHandler`` called directly with HTTP scopes
(no server, no network): first a few requests one after the other, then
batches of concurrent requests that meet at a barrier in their sync code.
The last line of stdout is one JSON object; a crash exits non-zero.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import Any

import asgibridge

asgibridge.install_as_asgiref()

import asgiref  # noqa: E402
import asgiref.local  # noqa: E402
import asgiref.sync  # noqa: E402
import django  # noqa: E402

os.environ["BRIDGE_SITE_DB"] = sys.argv[1]
os.environ["DJANGO_SETTINGS_MODULE"] = "bridge_site.settings"
django.setup()

from bridge_site import trace, views  # noqa: E402
from bridge_site.models import Note  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.db import connection, connections  # noqa: E402

BATCH = 4


def scope(path: str, query: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"x-request-id", request_id.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call(app: ASGIHandler, path: str, request_id: str, query: str = "") -> dict[str, Any]:
    """One request; the response's status, headers and JSON body."""
    received = False
    never = asyncio.Event()  # no disconnect: Django cancels its listener when done
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope(path, query, request_id), receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    try:
        payload = json.loads(body)
    except ValueError:
        payload = {"raw": body.decode(errors="replace")}
    return {"id": request_id, "status": start["status"], "headers": headers, "body": payload}


async def serve(app: ASGIHandler) -> dict[str, Any]:
    sequential = [
        await call(app, "/async/", "seq-async-1"),
        await call(app, "/sync/", "seq-sync-1"),
        await call(app, "/async/", "seq-async-2"),
    ]
    batches: dict[str, list[dict[str, Any]]] = {}
    for kind in ("sync", "async"):
        views.BARRIERS[kind] = threading.Barrier(BATCH)
        batches[kind] = list(
            await asyncio.gather(
                *(
                    call(app, f"/{kind}/", f"{kind}-batch-{n}", f"batch={kind}")
                    for n in range(BATCH)
                )
            )
        )
    return {"sequential": sequential, "batches": batches, "loop_thread": threading.get_ident()}


def main() -> None:
    with connection.schema_editor() as editor:
        editor.create_model(Note)
    checks = {
        "asgiref_is_served_by_asgibridge": type(asgiref).__module__
        == "asgibridge._activation.alias",
        "sync_is_asgibridge_sync": asgiref.sync is asgibridge.sync,
        "local_is_asgibridge_local": asgiref.local is asgibridge.local,
        "django_connections_use_asgibridge_local": isinstance(
            connections._connections, asgibridge.local.Local
        ),
    }
    served = asyncio.run(serve(ASGIHandler()))
    result = {
        "checks": checks,
        **served,
        "records": trace.RECORDS,
        "notes_in_database": Note.objects.count(),
    }
    asgibridge.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
