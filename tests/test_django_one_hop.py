"""asgibridge.django's one-hop handler serves what Django's ASGIHandler serves, in fewer hops.

``django_one_hop/drive.py`` (a child process: Django is configured once per
process and asgibridge is installed as asgiref before Django loads) sends the
same requests through both handlers and reports, per scenario, the messages
sent (status, headers, body), the signals (``request_started``,
``request_finished``, ``got_request_exception``), the threads they and the
view ran on, the error the application raised, and the sync_to_async hops.
Everything but the hop count must be equal; the hop count must be one for a
sync request (plus one per further batch of a streaming response).
Django's own test modules run on this handler too: ``scripts/compat-django``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("django")

SITE = Path(__file__).resolve().parent / "django_one_hop"
TIMEOUT = 120.0

# Scenarios served by the one hop (falls back: the handler's own reason says so).
ONE_HOP = {
    "hello with a cookie": 1,
    "sync view raising: 500": 1,
    "404": 1,
    "HEAD": 1,
    "non-UTF-8 query string: 400": 1,
    "template response + view middleware": 1,
    "body past chunk_size: two messages": 1,
    "empty body (204)": 1,
    "subclass overriding send_response and chunk_size": 1,
    "disconnect watch made by the loop's task factory": 1,
    "close() raising": 1,
    "CSRF rejection": 1,
    "DEBUG page": 1,
    # 200 parts, 64 per batch: the first batch comes with the response, three more hops.
    "streaming, 200 parts (several batches)": 4,
    # an async iterator is sent from the loop, then one hop closes the response.
    "streaming, async iterator from a sync view": 2,
    # 300 KiB read in 64 KiB blocks: one batch of four and the last one.
    "FileResponse, 300 KiB": 2,
}
FALLBACKS = {
    "async view (falls back)": "/async served by Django's ASGI path: the view is async",
    "async request_started receiver (falls back)": (
        "/hello served by Django's ASGI path: a request_started receiver is async"
    ),
    "async-only middleware (falls back)": (
        "/hello served by Django's ASGI path: "
        "middleware middleware_one_hop.AsyncOnly is async-only"
    ),
}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "drive.py"],
        cwd=SITE,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"drive.py failed:\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _one_hop_available(report: dict[str, Any]) -> bool:
    return tuple(report["python"]) >= (3, 11)  # 3.10: every request takes Django's path


SCENARIOS = [*ONE_HOP, *FALLBACKS, "disconnect during a sync view"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_one_hop_handler_serves_what_djangos_serves(
    report: dict[str, Any], scenario: str
) -> None:
    ours, django = dict(report[scenario]["one-hop"]), dict(report[scenario]["django"])
    ours.pop("hops", None)
    django.pop("hops", None)
    assert _without_cookie_dates(ours) == _without_cookie_dates(django)


def _without_cookie_dates(outcome: dict[str, Any]) -> dict[str, Any]:
    """A cookie's ``expires`` is "now + Max-Age": the two requests may straddle a second."""
    headers = outcome.get("headers")
    if headers is None:
        return outcome
    return {
        **outcome,
        "headers": [
            [name, re.sub(r"expires=[^;]*; ", "", value) if name == "set-cookie" else value]
            for name, value in headers
        ],
    }


def test_the_scenarios_cover_what_the_issue_lists(report: dict[str, Any]) -> None:
    hello = report["hello with a cookie"]["one-hop"]
    assert hello["status"] == 200
    assert any(name == "set-cookie" and "flavour=oat" in v for name, v in hello["headers"])
    assert hello["one_thread"], "view and both signals on one thread, not the loop's"
    assert (hello["started"], hello["finished"]) == (1, 1)
    boom = report["sync view raising: 500"]["one-hop"]
    assert (boom["status"], boom["exceptions"]) == (500, 1)
    assert report["DEBUG page"]["one-hop"]["body"] is True
    assert report["HEAD"]["one-hop"]["status"] == 200
    assert report["non-UTF-8 query string: 400"]["one-hop"]["status"] == 400
    assert report["CSRF rejection"]["one-hop"]["status"] == 403
    assert report["close() raising"]["one-hop"]["error"] == "OSError"
    assert report["close() raising"]["one-hop"]["status"] == 200  # sent before the error
    assert report["POST body spooled to disk"]["one-hop"]["body"] == (
        "50000 bytes, spooled to disk: True"
    )
    stream = report["streaming, 200 parts (several batches)"]["one-hop"]
    assert stream["body"].startswith("part 0\npart 1\n")
    assert stream["body_messages"] == 201  # one message per part and the closing one
    assert report["FileResponse, 300 KiB"]["one-hop"]["status"] == 200
    template = report["template response + view middleware"]["one-hop"]
    assert template["body"] == "rendered for one hop, by middleware"
    assert report["body past chunk_size: two messages"]["one-hop"]["body_messages"] == 2
    assert report["empty body (204)"]["one-hop"]["body_messages"] == 1
    subclassed = report["subclass overriding send_response and chunk_size"]["one-hop"]
    assert ["x-sent-by", "subclass"] in subclassed["headers"]
    assert subclassed["body_messages"] == 66  # 65636 bytes in 1000-byte chunks
    watched = report["disconnect watch made by the loop's task factory"]["one-hop"]
    assert watched["watch_by_factory"] is True
    disconnect = report["disconnect during a sync view"]["one-hop"]
    assert disconnect == {"started": 1, "finished": 1, "sent": False}


@pytest.mark.parametrize("scenario", list(ONE_HOP))
def test_a_sync_request_takes_one_hop(report: dict[str, Any], scenario: str) -> None:
    if not _one_hop_available(report):
        pytest.skip("Python 3.10: the one-hop handler serves every request by Django's path")
    assert report[scenario]["one-hop"]["hops"] == ONE_HOP[scenario]
    assert report[scenario]["django"]["hops"] > ONE_HOP[scenario]


def test_a_spooled_body_adds_only_djangos_own_disk_writes(report: dict[str, Any]) -> None:
    # Django's read_body writes each chunk past the memory limit from a worker
    # thread (sync_to_async, not thread-sensitive); the request itself is one hop.
    if not _one_hop_available(report):
        pytest.skip("Python 3.10: the one-hop handler serves every request by Django's path")
    posted = report["POST body spooled to disk"]
    assert posted["django"]["hops"] - posted["one-hop"]["hops"] >= 10


@pytest.mark.parametrize("scenario", list(FALLBACKS))
def test_a_fallback_is_logged_with_its_reason(report: dict[str, Any], scenario: str) -> None:
    if not _one_hop_available(report):
        pytest.skip("Python 3.10: every request falls back for the same reason")
    assert FALLBACKS[scenario] in report["fallback reasons"]
    assert report[scenario]["one-hop"]["status"] == 200


def test_importing_asgibridge_django_does_not_import_django() -> None:
    code = (
        "import sys, asgibridge, asgibridge.django; "
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
