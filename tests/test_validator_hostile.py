"""The guard, the validator and ``check`` against apps built to crash or exhaust them (§5).

Unhashable event types, values whose full ``repr()`` recurses or is huge,
one rule broken on every message of a long stream, an endless stream under
``check``, and an app that swallows its cancellation.
"""

from __future__ import annotations

import asyncio
import tracemalloc
import warnings
from typing import Any

import pytest

from asgibridge._asgi.validator.check_context import describe, shorten
from asgibridge.exceptions import AppSpecError, AsgiSpecWarning
from asgibridge.validation import Report, guard, run_check

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [],
    "client": ("127.0.0.1", 40000),
    "server": ("127.0.0.1", 8000),
}


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


def _deep(levels: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(levels):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def _sending(*messages: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        for message in messages:
            await send(message)

    return app


# -- unhashable types -------------------------------------------------------------------------


@pytest.mark.parametrize("etype", [["http.response.start"], {"http": 1}, {1, 2}, None, 7])
@pytest.mark.parametrize("mode", ["collect", "warn"])
def test_a_bad_event_type_is_recorded(etype: Any, mode: Any) -> None:
    guarded = guard(_sending({"type": etype, "status": 200, "headers": []}), mode=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AsgiSpecWarning)
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
    assert "http.send.unknown-type" in guarded.report.rule_ids()


@pytest.mark.parametrize("etype", [["http.response.start"], {"http": 1}])
def test_a_bad_event_type_raises_app_spec_error(etype: Any) -> None:
    guarded = guard(_sending({"type": etype}), mode="raise")
    with pytest.raises(AppSpecError) as caught:
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
    assert caught.value.rule_id == "http.send.unknown-type"


def test_a_bad_type_from_the_server_is_reported() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": ["http.request"]}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = guard(app, mode="collect")
    asyncio.run(guarded(dict(SCOPE), receive, _send))
    assert guarded.report.rule_ids() == ["http.receive.unknown-type"]


# -- bounded descriptions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "rule"),
    [
        ({"status": _deep(5000), "headers": []}, "http.response.start.status.type"),
        ({"status": 200, "headers": [(b"x", _deep(5000))]}, "http.response.start.headers.type"),
        ({"status": 200, "headers": _deep(5000)}, "http.response.start.headers.type"),
        ({"status": (_deep(5000),), "headers": []}, "http.response.start.status.type"),
    ],
)
def test_deeply_nested_values_are_described_not_recursed(start: Any, rule: str) -> None:
    message = {"type": "http.response.start", **start}
    guarded = guard(_sending(message, {"type": "http.response.body"}), mode="collect")
    asyncio.run(guarded(dict(SCOPE), _receive, _send))
    assert rule in guarded.report.rule_ids()
    assert all(len(v.detail) < 200 for v in guarded.report)


def test_a_huge_bytearray_body_costs_no_copy_to_describe() -> None:
    body = bytearray(20 * 2**20)
    tracemalloc.start()
    try:
        text = describe(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert text.startswith("bytearray b'\\x00")
    assert len(text) < 100
    assert peak < 2**20


class _Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


@pytest.mark.parametrize(
    "value",
    [
        "s" * 1_000_000,
        b"b" * 1_000_000,
        memoryview(b"m" * 1000),
        _Hostile(),
        [_Hostile()] * 3,
        {"k": _deep(3000)},
        type("Big", (str,), {})("x" * 100_000),
    ],
)
def test_shorten_is_bounded_and_never_raises(value: object) -> None:
    assert len(shorten(value)) <= 60
    assert type(value).__name__ in describe(value)


def test_a_huge_string_in_a_checked_key_is_cut_in_the_detail() -> None:
    scope = dict(SCOPE, method="get" * 1_000_000)  # breaks the uppercase rule

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    guarded = guard(app, mode="collect")
    asyncio.run(guarded(scope, _receive, _send))
    assert guarded.report.rule_ids() == ["http.scope.method.uppercase"]
    assert len(guarded.report.violations[0].detail) < 120


# -- the report ---------------------------------------------------------------------------------


def _str_chunks(count: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(count):
            await send({"type": "http.response.body", "body": "tick", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def test_the_report_keeps_the_first_repeats_per_rule_and_connection() -> None:
    guarded = guard(_str_chunks(50_000), mode="collect")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    report = guarded.report
    assert report.rule_ids() == ["http.response.body.body.type"] * report.keep
    assert report.omitted == {(1, "http.response.body.body.type"): 50_000 - report.keep}
    assert report.omitted_count == 50_000 - report.keep
    assert held < 2**20
    assert "49997 more time(s) on connection #1" in report.format()


def test_each_connection_keeps_its_own_first_repeats() -> None:
    guarded = guard(_str_chunks(5), mode="collect", report=Report(keep=2))
    for _ in range(2):
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
    assert len(guarded.report) == 4
    assert guarded.report.omitted == {
        (1, "http.response.body.body.type"): 3,
        (2, "http.response.body.body.type"): 3,
    }
    guarded.report.clear()
    assert guarded.report.ok
    assert guarded.report.omitted_count == 0


def test_warn_mode_warns_only_for_kept_violations() -> None:
    guarded = guard(_str_chunks(100), mode="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
    assert len([w for w in caught if w.category is AsgiSpecWarning]) == guarded.report.keep


def test_a_long_lived_guard_keeps_a_bounded_report() -> None:
    guarded = guard(_str_chunks(3), mode="collect", report=Report(keep=1, limit=5))
    for _ in range(20):
        asyncio.run(guarded(dict(SCOPE), _receive, _send))
    report = guarded.report
    assert len(report) == 5
    assert len(report.omitted) <= 6
    assert report.omitted_count == 20 * 3 - 5
    assert "on later connections" in report.format()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"keep": 0}, ValueError),
        ({"keep": -1}, ValueError),
        ({"keep": 2.0}, TypeError),
        ({"limit": 0}, ValueError),
        ({"limit": "9"}, TypeError),
    ],
)
def test_report_options_are_validated(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(options))):
        Report(**options)


# -- check: deadlines that hold -------------------------------------------------------------


async def _endless(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("http only")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        await send({"type": "http.response.body", "body": "str, so every chunk breaks a rule",
                    "more_body": True})  # fmt: skip


def test_check_stops_an_endless_stream_at_its_timeout() -> None:
    result = run_check(_endless, timeout=0.2)
    http = [s for s in result.scenarios if s.name.split()[0] in ("GET", "HEAD", "POST")]
    assert [s.status for s in http] == ["timeout"] * 4
    for scenario in http:
        assert "the app was stopped (cancelled)" in scenario.notes
        assert len(scenario.violations) <= 3
        assert any("more time(s)" in note for note in scenario.notes)


async def _stubborn(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("http only")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except BaseException:  # swallows its cancellation, and everything else
            continue


def test_check_abandons_an_app_that_swallows_its_cancellation() -> None:
    result = run_check(_stubborn, timeout=0.2)  # a hang here is caught by pytest-timeout
    get = next(s for s in result.scenarios if s.name.startswith("GET"))
    assert get.status == "timeout"
    assert any("ignored its cancellation" in note for note in get.notes)
    assert not result.ok


async def _stubborn_lifespan(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})
        return
    await receive()
    while True:
        try:
            await asyncio.get_running_loop().create_future()  # never answers startup
        except BaseException:
            continue


def test_check_abandons_a_lifespan_that_swallows_its_cancellation() -> None:
    result = run_check(_stubborn_lifespan, timeout=0.2)
    startup = result.scenarios[0]
    assert startup.status == "timeout"
    assert any("ignored its cancellation" in note for note in startup.notes)
