"""Users' typed code is clean under mypy --strict and pyright strict; typing imports no asyncio.

``tests/typing/`` holds what servers, apps, middleware and tests write against
asgibridge's types (see its README). Each checker runs once over the corpus
plus a canary file with one known mistake: the canary's error must be found
(the harness sees errors) and the corpus must have none.

pyright comes from the ``pyright`` PyPI package with Node from
``pyright[nodejs]`` (the dev extra). Where it cannot run, the test skips and
says why; in CI (``CI`` set) it fails instead, since CI installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "typing"
# Per checkout: mypy's cache replays a module's errors under the path it was
# first checked at, so neither the cache nor the canary may be shared.
_SCRATCH = Path(tempfile.gettempdir()) / (
    "asgibridge-typing-corpus-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
)

CANARY = """\
from asgibridge.typing import HTTPScope


def port(scope: HTTPScope) -> int:
    return scope["server"][1]  # server is NotRequired and may be None: an error
"""
CANARY_LINE = 5


@pytest.fixture(scope="module")
def canary_dir() -> Path:
    where = _SCRATCH / "canary"
    where.mkdir(parents=True, exist_ok=True)
    (where / "canary.py").write_text(CANARY)
    return where


def test_corpus_holds_a_snippet_for_each_kind_of_user() -> None:
    names = {path.stem for path in CORPUS.glob("*.py")}
    assert {
        "server_side",
        "http_app",
        "websocket_app",
        "lifespan_app",
        "adapters",
        "communicator",
        "bridge",
    } <= names


def test_corpus_is_clean_under_mypy_strict(canary_dir: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is in the dev extra: install it")
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--show-error-codes",
            "--no-pretty",
            "--no-error-summary",
            "--cache-dir",
            str(_SCRATCH / "mypy-cache"),
            str(CORPUS),
            str(canary_dir / "canary.py"),
        ]
    )
    assert stderr == "", stderr
    errors = [line for line in stdout.splitlines() if ": error: " in line]
    corpus_errors = [line for line in errors if not line.startswith(str(canary_dir))]
    assert corpus_errors == [], stdout
    canary = [line for line in errors if line.startswith(str(canary_dir))]
    assert len(canary) >= 1, stdout
    assert all(f"canary.py:{CANARY_LINE}:" in line for line in canary), stdout
    assert status == 1  # the canary's error, and only it


def _pyright_unavailable() -> str | None:
    """Why pyright cannot run here (None when it can)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pyright", "--version"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pyright did not start: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return f"`python -m pyright` failed (exit {proc.returncode}): {' / '.join(tail)}"
    return None


def test_corpus_is_clean_under_pyright_strict(canary_dir: Path) -> None:
    why = _pyright_unavailable()
    if why is not None:
        message = f"pyright is needed (pip install -e '.[dev]', which has pyright[nodejs]): {why}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing checker is a failure there
        pytest.skip(message)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--outputjson",
            "--project",
            str(CORPUS / "pyrightconfig.json"),
            "--pythonpath",
            sys.executable,
            str(CORPUS),
            str(canary_dir / "canary.py"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    report = json.loads(proc.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    shown = "\n".join(
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']}" for d in errors
    )
    corpus_errors = [d for d in errors if Path(d["file"]).parent == CORPUS]
    assert corpus_errors == [], shown
    canary = [d for d in errors if Path(d["file"]).name == "canary.py"]
    assert canary, shown
    assert {d["range"]["start"]["line"] + 1 for d in canary} == {CANARY_LINE}, shown
    assert report["summary"]["filesAnalyzed"] == len(list(CORPUS.glob("*.py"))) + 1


@pytest.mark.parametrize("module", ["asgibridge.typing", "asgibridge", "asgibridge.asgi_types"])
def test_type_modules_do_not_import_asyncio(module: str) -> None:
    # Servers, CLIs and type-only helpers import these at start-up: like
    # asgiref.typing, they must not pay for asyncio (~100 modules).
    code = (
        f"import sys; import {module}; "
        "heavy = sorted(m for m in ('asyncio', 'threading', 'concurrent.futures') "
        "if m in sys.modules); print(','.join(heavy) or 'clean')"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "clean", out.stdout + out.stderr


def test_package_names_still_load_on_first_use() -> None:
    code = (
        "import sys, asgibridge; "
        "assert 'asgibridge._runtime._lifecycle' not in sys.modules; "
        "print(asgibridge.configure.__module__, asgibridge.install_as_asgiref.__module__, "
        "sorted({'configure', 'shutdown', 'runtime_stats', 'install_as_asgiref'} - "
        "set(dir(asgibridge))))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == [
        "asgibridge._runtime._lifecycle",
        "asgibridge._activation.install",
        "[]",
    ]
    import asgibridge

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        asgibridge.nope  # type: ignore[attr-defined]
