"""``python -m asgibridge check``: severities, ``--strict``, its Host, a stock Django project.

A warning is a violation every major server tolerates (mixed-case response
header names): it is reported, cites the spec's sentence, and does not fail
the check unless ``--strict``. The check's requests carry a Host the project
accepts (Django's ALLOWED_HOSTS, or ``--host``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from asgibridge._asgi.check.findings import TOLERATED, choose_host, severity
from asgibridge._cli import main
from asgibridge.validation import RULES, run_check

MIXED_CASE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("http only")
    host = dict(scope["headers"]).get(b"host", b"")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"Content-Type", b"text/plain"), (b"x-host", host)]})
    await send({"type": "http.response.body", "body": host})
"""

ERROR_AND_WARNING_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("http only")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"Content-Type", b"text/plain")]})
    await send({"type": "http.response.body", "body": "not bytes"})
"""


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_every_tolerated_rule_exists_and_quotes_the_spec() -> None:
    assert TOLERATED
    for rule_id, tolerated in TOLERATED.items():
        assert rule_id in RULES
        assert severity(rule_id) == "warning"
        assert tolerated.spec_says.endswith(".")
        assert tolerated.why
    assert severity("http.order.body-before-start") == "error"


def test_warnings_alone_pass_and_cite_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(tmp_path, monkeypatch, "mixed_case_app", MIXED_CASE_APP)
    assert main(["check", f"{name}:app"]) == 0
    out = capsys.readouterr().out
    assert "warning: [http.response.start.headers.lowercase-names]" in out
    assert 'the spec says: "Header names must be lowercased."' in out
    assert "tolerated: HTTP header names are case-insensitive" in out
    assert "GET /                        warnings" in out
    assert out.rstrip().endswith(
        "OK: 4 violation(s): 0 error(s), 4 warning(s) (--strict fails on warnings)."
    )


def test_strict_fails_on_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(tmp_path, monkeypatch, "mixed_case_strict", MIXED_CASE_APP)
    assert main(["check", "--strict", "--json", f"{name}:app"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["strict"] is True
    assert (report["errors"], report["warnings"]) == (0, 4)
    get = next(s for s in report["scenarios"] if s["name"] == "GET /")
    assert get["status"] == "warnings"
    (finding,) = get["violations"]
    assert finding["severity"] == "warning"
    assert finding["spec_says"] == "Header names must be lowercased."


def test_an_error_fails_whatever_the_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _module(tmp_path, monkeypatch, "error_and_warning", ERROR_AND_WARNING_APP)
    assert main(["check", "--json", f"{name}:app"]) == 1
    report = json.loads(capsys.readouterr().out)
    get = next(s for s in report["scenarios"] if s["name"] == "GET /")
    assert get["status"] == "violations"
    assert {v["severity"] for v in get["violations"]} == {"error", "warning"}
    assert report["errors"] >= 1
    assert report["warnings"] >= 1


def test_host_option_is_sent_as_host_header_and_server_name() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("http only")
        seen.append((dict(scope["headers"])[b"host"], scope["server"][0]))
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    result = run_check(app, host="api.example.com")
    assert result.ok
    assert result.host == "api.example.com"
    assert seen
    assert set(seen) == {(b"api.example.com", "api.example.com")}
    assert run_check(app).host == "testserver"  # no Django loaded by this app


@pytest.mark.parametrize(
    ("allowed", "debug", "host"),
    [
        ([], True, "localhost"),
        ([".example.com"], False, "example.com"),
        (["*"], False, "testserver"),
        (["*.bad", "api.example.org"], False, "api.example.org"),
        ([], False, "testserver"),
    ],
)
def test_host_follows_django_allowed_hosts(
    monkeypatch: pytest.MonkeyPatch, allowed: list[str], debug: bool, host: str
) -> None:
    class Settings:
        configured = True
        ALLOWED_HOSTS = allowed
        DEBUG = debug

    class Conf:
        settings = Settings()

    monkeypatch.setitem(sys.modules, "django.conf", Conf)  # type: ignore[arg-type]
    chosen, source = choose_host()
    assert chosen == host
    assert "ALLOWED_HOSTS" in source


def _run_check(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asgibridge", "check", *args, "mysite.asgi:application"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def startproject(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("django", reason="Django is in the test extra")
    project = tmp_path_factory.mktemp("stock")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(project)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return project


def test_stock_django_startproject_passes_with_warnings(startproject: Path) -> None:
    proc = _run_check(startproject, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["host"] == "localhost"  # DEBUG with empty ALLOWED_HOSTS admits it
    assert report["errors"] == 0
    assert report["warnings"] >= 1
    get = next(s for s in report["scenarios"] if s["name"] == "GET /")
    assert get["notes"][0].startswith("200,"), get  # not 400 DisallowedHost
    assert {v["rule"] for v in get["violations"]} == {
        "http.response.start.headers.lowercase-names"
    }
    assert "DisallowedHost" not in proc.stderr


def test_stock_django_startproject_fails_under_strict(startproject: Path) -> None:
    proc = _run_check(startproject, "--strict")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED: 3 violation(s): 0 error(s), 3 warning(s) (--strict)." in proc.stdout


def test_stock_django_startproject_with_a_host_it_refuses(startproject: Path) -> None:
    proc = _run_check(startproject, "--json", "--host", "evil.example")
    report = json.loads(proc.stdout)
    assert report["host"] == "evil.example"
    get = next(s for s in report["scenarios"] if s["name"] == "GET /")
    assert get["notes"][0].startswith("400,"), get  # Django's DisallowedHost answer
