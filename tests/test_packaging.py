"""The distribution's metadata tells the truth: license file, Python versions, typing marker."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # mypy's own dependency on 3.10 (the dev extra)
        tomllib = pytest.importorskip("tomli", reason="tomli reads pyproject.toml on 3.10")
    with (ROOT / "pyproject.toml").open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return data["project"]


def test_license_file_is_the_declared_license(project: dict[str, Any]) -> None:
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License")
    # The three clauses, the third being the non-endorsement clause of BSD-3.
    assert re.search(r"^1\. Redistributions of source code", text, re.M)
    assert re.search(r"^2\. Redistributions in binary form", text, re.M)
    assert re.search(r"^3\. Neither the name of the copyright holder", text, re.M)


def test_classifiers_name_every_supported_python(project: dict[str, Any]) -> None:
    assert project["requires-python"] == ">=3.10"
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == {f"3.{minor}" for minor in range(10, 16)}
    assert "Typing :: Typed" in project["classifiers"]
    assert (ROOT / "src" / "asgibridge" / "py.typed").is_file()


def test_project_urls_are_https(project: dict[str, Any]) -> None:
    assert project["urls"]
    assert all(url.startswith("https://") for url in project["urls"].values())
