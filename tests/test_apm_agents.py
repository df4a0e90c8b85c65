"""Real APM agents on a Django ASGI app, asgibridge (under the alias) beside real asgiref.

Each scenario runs in a child process (agents patch globally, Django's
settings are per process): ``tests/apm_scenario.py`` serves one request to a
sync view and one to an async view, in process, with New Relic (offline,
``developer_mode``; initialised before and after ``install_as_asgiref()``),
Sentry, OpenTelemetry's Django instrumentation (in-memory exporter) or
ddtrace (agent URL on a closed port). Expected of asgibridge: no error, no
error logged, inside the sync view the agent's transaction or span is the
request's (the one async middleware code sees), and the same statuses and
visibility as the same scenario on real asgiref 3.13.0. A package that is
not installed skips its agent, saying why.

The scenario's old-style middleware also sets a ContextVar in
``process_request`` and resets it with the token in ``process_response``:
under asgibridge the reset works (each task's sync calls share one Context),
under real asgiref it fails (asgiref issue #534): see test_task_context.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

SCENARIO = Path(__file__).resolve().parent / "apm_scenario.py"

AGENTS: dict[str, tuple[str, ...]] = {
    "none": ("django",),
    "newrelic-agent-first": ("django", "newrelic"),
    "newrelic-install-first": ("django", "newrelic"),
    "sentry": ("django", "sentry_sdk"),
    "otel": ("django", "opentelemetry.sdk", "opentelemetry.instrumentation.django"),
    "ddtrace": ("django", "ddtrace"),
}
# What must be the same as on real asgiref.
COMPARED = ("status/sync", "status/async", "current/sync", "current/async", "same/sync")

_ENV = {
    "DD_TRACE_AGENT_URL": "http://127.0.0.1:9",
    "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
    "DD_REMOTE_CONFIGURATION_ENABLED": "false",
    "DD_TRACE_STARTUP_LOGS": "false",
    "DD_TRACE_ENABLED": "true",
    "NEW_RELIC_LOG_LEVEL": "error",
}


def _missing(modules: tuple[str, ...]) -> str | None:
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):
            return module
    return None


def _run(mode: str, agent: str, workdir: Path) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_ENV}
    env.pop("ASGIBRIDGE_LOOP_PER_CALL", None)
    try:
        done = subprocess.run(
            [sys.executable, str(SCENARIO), mode, agent, str(workdir)],
            check=False,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=workdir,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"errors": ["the child timed out after 180s"]}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
    return {"errors": [f"the child exited {done.returncode}: " + " | ".join(tail)]}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Every scenario that can run, in both modes, a few child processes at a time."""
    root = tmp_path_factory.mktemp("apm")
    jobs = [
        (mode, agent)
        for agent, needs in AGENTS.items()
        if _missing(needs) is None
        for mode in ("bridge", "asgiref")
    ]
    if _missing(("asgiref",)) is not None:
        jobs = [job for job in jobs if job[0] == "bridge"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            job: pool.submit(_run, job[0], job[1], root / f"{job[0]}-{job[1]}") for job in jobs
        }
        return {job: future.result() for job, future in futures.items()}


@pytest.mark.parametrize("agent", list(AGENTS))
def test_agent_sees_the_request_in_the_sync_view(
    agent: str, results: dict[tuple[str, str], Any]
) -> None:
    lacking = _missing(AGENTS[agent])
    if lacking is not None:
        print(f"SKIP {agent}: {lacking} is not installed on Python {sys.version.split()[0]}")
        pytest.skip(f"{lacking} is not installed")
    got = results["bridge", agent]
    print(f"asgibridge, {agent}: {got}")
    assert got["errors"] == []
    assert got["logged"] == []
    assert got["module"] == "asgibridge.sync"
    assert got["status/sync"] == got["status/async"] == 200
    if agent != "none":
        assert got["current/sync"], "no transaction/span current in the sync view"
        assert got["current/async"]
    assert got["same/sync"], "the sync view saw another transaction/span than the request's"
    assert got["same/async"]
    # The token made in process_request resets in process_response (#534).
    assert got["token_errors"] == []
    assert got["tenant/sync"] == "req"
    assert got["after_reset/sync"] is None
    reference = results.get(("asgiref", agent))
    if reference is None:
        print(f"no reference run for {agent}: asgiref is not installed")
        return
    print(f"real asgiref, {agent}: {reference}")
    assert reference["module"] == "asgiref.sync"
    assert reference["errors"] == []
    assert {key: got[key] for key in COMPARED} == {key: reference[key] for key in COMPARED}
