"""The bridge's static types: ParamSpec keeps the wrapped signature through both wrappers.

The snippet files in ``tests/typing_bridge/`` are checked by mypy (once, with
the project's configuration and ``--strict``). Every file must be clean except
``wrong_arguments.py``, where each line marked ``# E: code[, code]`` must fail
with exactly those error codes and no other line may fail.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = Path(__file__).resolve().parent / "typing_bridge"
WRONG = SNIPPETS / "wrong_arguments.py"
ERROR_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")
MARKER = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")

Errors = dict[str, dict[int, set[str]]]


@pytest.fixture(scope="module")
def mypy_errors() -> tuple[Errors, str]:
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--strict",
            "--show-error-codes",
            "--no-pretty",
            "--no-error-summary",
            "--cache-dir",
            str(Path(tempfile.gettempdir()) / "asgibridge-typing-bridge-mypy-cache"),
            str(SNIPPETS),
        ]
    )
    assert stderr == "", stderr
    assert status in (0, 1), stdout
    errors: Errors = defaultdict(lambda: defaultdict(set))
    for line in stdout.splitlines():
        match = ERROR_LINE.match(line)
        if match:
            name = Path(match["path"]).name
            errors[name][int(match["line"])].add(match["code"])
        else:
            assert ": note: " in line, f"unexpected mypy output: {line}"
    return errors, stdout


def expected_errors() -> dict[int, set[str]]:
    expected: dict[int, set[str]] = {}
    for number, text in enumerate(WRONG.read_text().splitlines(), start=1):
        match = MARKER.search(text)
        if match:
            expected[number] = {code.strip() for code in match["codes"].split(",")}
    return expected


def test_snippet_folder_holds_the_expected_files() -> None:
    names = {path.name for path in SNIPPETS.glob("*.py")}
    assert {"sync_to_async_forms.py", "async_to_sync_forms.py", "wrong_arguments.py"} <= names


def test_correct_uses_type_check_with_the_asserted_types(mypy_errors: tuple[Errors, str]) -> None:
    errors, stdout = mypy_errors
    unexpected = {name: dict(lines) for name, lines in errors.items() if name != WRONG.name}
    assert unexpected == {}, stdout


def test_wrong_argument_types_are_rejected(mypy_errors: tuple[Errors, str]) -> None:
    errors, stdout = mypy_errors
    expected = expected_errors()
    assert len(expected) >= 10  # the markers were found
    assert dict(errors[WRONG.name]) == expected, stdout
