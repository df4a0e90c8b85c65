"""``python -m asgibridge check``: exit statuses, the text and JSON reports, timeouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from asgibridge._asgi.check.report import HTTP_EXTENSIONS, ClientGone
from asgibridge._cli import main
from asgibridge.validation import RULES, run_check

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))  # restored after the test


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_the_ok_example_passes(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "examples.check_ok_app:app"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("asgibridge check examples.check_ok_app:app")
    assert f"({len(RULES)} rules;" in out
    assert "OK: 0 violation(s)." in out
    for scenario in (
        "lifespan startup",
        "GET /",
        "HEAD /",
        "POST streamed body /",
        "POST client disconnect /",
        "websocket /",
        "lifespan shutdown",
    ):
        assert scenario in out


def test_the_broken_example_fails_with_rule_ids_and_sections(
    in_repo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "examples.check_broken_app:app"]) == 1
    out = capsys.readouterr().out
    for rule in (
        "lifespan.return.startup-unanswered",
        "http.order.body-before-start",
        "http.response.start.headers.lowercase-names",
        "http.response.body.body.type",
        "websocket.accept.subprotocol.not-offered",
        "websocket.send.exactly-one",
    ):
        assert f"[{rule}]" in out
        assert RULES[rule].section.url in out
    assert "FAILED:" in out


def test_json_output(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "examples.check_broken_app:app", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["rules"] == len(RULES)
    assert report["spec_versions"]["http"] == "2.5"
    by_name = {s["name"]: s for s in report["scenarios"]}
    assert by_name["websocket /"]["status"] == "violations"
    rules = {v["rule"] for s in report["scenarios"] for v in s["violations"]}
    assert "http.order.body-before-start" in rules
    assert report["violations"] == sum(len(s["violations"]) for s in report["scenarios"])
    one = by_name["GET /"]["violations"][0]
    assert set(one) >= {"rule", "side", "detail", "expected", "section", "url"}


def test_ignore_option(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "check",
                "examples.check_broken_app:app",
                "--json",
                "--ignore",
                "http.*",
                "--ignore",
                "websocket.*",
                "--ignore",
                "lifespan.*",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert "http.order.body-before-start" in report["ignored_rules"]
    assert main(["check", "examples.check_ok_app:app", "--ignore", "no.such.rule"]) == 2


def test_load_errors_exit_2(in_repo: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no_such_module_anywhere:app"]) == 2
    assert main(["check", "examples.check_ok_app:no_such_attribute"]) == 2
    assert "cannot load" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_a_hanging_app_times_out_with_a_named_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(
        tmp_path,
        monkeypatch,
        "cli_hanging_app",
        """
        import asyncio

        async def app(scope, receive, send):
            if scope["type"] != "http":
                raise ValueError("http only")
            await asyncio.Event().wait()  # never answers
    """,
    )
    assert main(["check", f"{name}:app", "--timeout", "0.2", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    get = next(s for s in report["scenarios"] if s["name"] == "GET /")
    assert get["status"] == "timeout"
    assert "no end after 0.2s: the app was not sending a response" in get["notes"]
    lifespan = report["scenarios"][0]
    assert lifespan["status"] == "skipped"
    assert "no lifespan support" in lifespan["notes"][0]


def test_a_lifespan_that_never_answers_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(
        tmp_path,
        monkeypatch,
        "cli_slow_lifespan_app",
        """
        import asyncio

        async def app(scope, receive, send):
            if scope["type"] == "lifespan":
                await receive()
                await asyncio.Event().wait()
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})
    """,
    )
    assert main(["check", f"{name}:app", "--timeout", "0.2", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["scenarios"][0]["status"] == "timeout"
    assert report["scenarios"][0]["notes"] == ["no reply to lifespan.startup after 0.2s"]


def test_an_http_exception_is_an_error_but_a_websocket_one_is_a_rejection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(
        tmp_path,
        monkeypatch,
        "cli_raising_app",
        """
        async def app(scope, receive, send):
            raise RuntimeError(f"cannot serve {scope['type']}")
    """,
    )
    assert main(["check", f"{name}:app"]) == 1
    out = capsys.readouterr().out
    assert "the app raised RuntimeError: cannot serve http" in out
    assert "the app rejects websockets (RuntimeError: cannot serve websocket)" in out
    assert "no lifespan support" in out


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asgibridge", "check", "examples.check_ok_app:app", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_the_scenarios_play_a_spec_following_server() -> None:
    """What the app sees: lifespan around everything, the four HTTP requests, one websocket."""
    seen: list[tuple[str, list[Any]]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        events: list[Any] = []
        seen.append((scope["type"] + " " + scope.get("method", ""), events))
        if scope["type"] == "lifespan":
            for reply in ("lifespan.startup.complete", "lifespan.shutdown.complete"):
                events.append((await receive())["type"])
                scope["state"]["ready"] = True
                await send({"type": reply})
            return
        if scope["type"] == "websocket":
            events.append(await receive())
            await send({"type": "websocket.accept"})
            events.append(await receive())
            events.append(await receive())
            return
        events.append(scope["state"])
        events.append(sorted(scope["extensions"]))
        while True:
            message = await receive()
            events.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        try:
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"done"})
        except OSError as exc:  # spec 2.4: the client is gone
            events.append(type(exc))
            return
        events.append(await receive())  # after the response: the server says it is over

    result = run_check(app, timeout=5)
    assert result.ok, result.format()
    names = [name for name, _ in seen]
    assert names == ["lifespan ", "http GET", "http HEAD", "http POST", "http POST", "websocket "]
    lifespan, get, head, post, gone, ws = (events for _, events in seen)
    assert lifespan == ["lifespan.startup", "lifespan.shutdown"]
    done = {"type": "http.disconnect"}
    for events in (get, head):
        assert events[0] == {"ready": True}  # a copy of the lifespan state
        assert events[1] == sorted(HTTP_EXTENSIONS)
        assert events[2:] == [{"type": "http.request", "body": b"", "more_body": False}, done]
    assert [(m["body"], m["more_body"]) for m in post[2:5]] == [
        (b"first,", True),
        (b"second,", True),
        (b"third", False),
    ]
    assert post[5:] == [done]
    # The client leaves mid-body: one chunk, then http.disconnect, then send() raises OSError.
    assert gone[2:] == [
        {"type": "http.request", "body": b"partial", "more_body": True},
        done,
        ClientGone,
    ]
    assert issubclass(ClientGone, OSError)
    assert ws == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello from asgibridge check"},
        {"type": "websocket.disconnect", "code": 1000, "reason": ""},
    ]
    statuses = [(s.name, s.status) for s in result.scenarios]
    assert statuses == [
        ("lifespan startup", "ok"),
        ("GET /", "ok"),
        ("HEAD /", "ok"),
        ("POST streamed body /", "ok"),
        ("POST client disconnect /", "ok"),
        ("websocket /", "ok"),
        ("lifespan shutdown", "ok"),
    ]


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    read, write = os.pipe()
    os.close(read)  # `| head` that has already quit: every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "asgibridge", "check", "examples.check_broken_app:app"],
            cwd=REPO,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr, done.stderr
