"""Django on asgibridge: a real project served through Django's ASGIHandler.

The project (tests/django_project/) has an async view using the ORM through
``sync_to_async``, a sync view, an async-only and a sync-only middleware.
``drive.py`` installs asgibridge as asgiref *before* importing Django, calls
the ASGI handler directly (no network) and prints what happened as JSON; it
runs in a subprocess because this test process may already hold the real
asgiref (imported by other tests through Django).

What Django relies on, checked here: one ThreadSensitiveContext per request
keeps all of a request's sync work (sync middleware, sync view, ORM calls
made from the async view) on one thread, with one database connection (a
thread_critical Local); the language activated by async middleware (a
default Local) is seen by every later layer; concurrent requests each get a
thread of their own (they meet at a barrier in their sync code).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

PROJECT = Path(__file__).resolve().parent / "django_project"
TIMEOUT = 120.0

Report = dict[str, Any]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    database = tmp_path_factory.mktemp("django") / "site.sqlite3"
    done = subprocess.run(
        [sys.executable, "drive.py", str(database)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"drive.py failed:\n{done.stdout}\n{done.stderr}"
    result: Report = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def responses(report: Report) -> list[Report]:
    return [*report["sequential"], *report["batches"]["sync"], *report["batches"]["async"]]


def test_asgiref_is_served_by_asgibridge_inside_django(report: Report) -> None:
    assert report["checks"] == {
        "asgiref_is_served_by_asgibridge": True,
        "sync_is_asgibridge_sync": True,
        "local_is_asgibridge_local": True,
        "django_connections_use_asgibridge_local": True,
    }


def test_every_request_got_its_response(report: Report) -> None:
    for response in responses(report):
        assert response["status"] == 200, response
        assert response["headers"]["x-async-middleware"] == "ran"
        assert response["body"]["view"] in response["id"]
    assert report["notes_in_database"] == len(responses(report))  # one note per request


def test_sequential_requests_see_each_others_writes(report: Report) -> None:
    for before, response in enumerate(report["sequential"]):
        assert response["body"]["notes_before"] == before
        assert response["body"]["notes_after"] == before + 1


def test_language_activated_in_async_middleware_reaches_every_layer(report: Report) -> None:
    for response in responses(report):
        assert response["headers"]["x-language-seen-by-sync-middleware"] == "fr"
        assert response["body"]["language_in_view"] == "fr"
        if response["body"]["view"] == "async":
            assert response["body"]["language_in_orm_call"] == "fr"


def test_each_request_ran_its_sync_work_on_one_thread_with_one_connection(
    report: Report,
) -> None:
    loop_thread = report["loop_thread"]
    for response in responses(report):
        entries = report["records"][response["id"]]
        async_entries = [e for e in entries if e["in_loop"]]
        sync_entries = [e for e in entries if not e["in_loop"]]
        expected_async = {"async middleware"}
        expected_sync = {"sync middleware, request", "sync middleware, response"}
        if response["body"]["view"] == "async":
            expected_async.add("async view")
            expected_sync.add("ORM via sync_to_async")
        else:
            expected_sync.add("sync view")
        assert {e["where"] for e in async_entries} == expected_async
        assert {e["where"] for e in sync_entries} == expected_sync
        assert {e["thread"] for e in async_entries} == {loop_thread}
        threads = {e["thread"] for e in sync_entries}
        assert len(threads) == 1, entries
        assert threads != {loop_thread}
        assert len({e["connection"] for e in sync_entries}) == 1, entries


def test_concurrent_requests_each_had_a_thread_of_their_own(report: Report) -> None:
    for kind in ("sync", "async"):
        batch = report["batches"][kind]
        threads = {
            next(e["thread"] for e in report["records"][r["id"]] if not e["in_loop"])
            for r in batch
        }
        assert len(threads) == len(batch)
