"""Interpreters for ``run.py --python``: find them, and make them able to run the suites.

A ``--python`` value is a path to an interpreter or a version ``X.Y``. A version
resolves, first match wins, to: a pyenv build (``$(pyenv root)/versions/X.Y.*``,
newest patch first), ``pythonX.Y`` on PATH, or ``../shared/scripts/get-python X.Y``
next to the checkout (Debian's builds for 3.14+). Every candidate is run once to
check that it is that version.

The suites need asgiref (and, for the wsgi suite, a2wsgi and uvicorn) importable
in the interpreter; asgibridge always comes from this checkout (``run.py`` puts
``src/`` first on the child's ``PYTHONPATH``, so an interpreter whose own
asgibridge is another tree's still measures this one). An interpreter without
asgiref gets a virtualenv of its own in the cache folder (``--venv-dir``,
default ``$XDG_CACHE_HOME/asgibridge-bench``), made once and reused:
``python -m venv`` then ``pip install -e '<checkout>[test]'``. Where ``-m venv``
cannot work (Debian's interpreters lack ``ensurepip``) a version's venv is made
by ``get-python X.Y --venv DIR``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
GET_PYTHON = CHECKOUT.parent / "shared" / "scripts" / "get-python"
_VERSION = re.compile(r"^3\.\d+$")


class PythonNotFound(Exception):
    """A ``--python`` value that names no usable interpreter (the message says why)."""


def default_venv_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "asgibridge-bench"


def _probe(python: str, code: str) -> str | None:
    """``python -c code``'s last output line, or None if it fails."""
    try:
        out = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[-1] if out.returncode == 0 and lines else None


def _version_of(python: str) -> str | None:
    return _probe(python, "import sys; print('%d.%d' % sys.version_info[:2])")


def _can_run_suites(python: str) -> bool:
    return _probe(python, "import asgiref.local, asgiref.sync; print('ok')") == "ok"


def _pyenv_candidates(version: str) -> list[str]:
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        root = _probe_command(["pyenv", "root"])
    if not root:
        root = str(Path.home() / ".pyenv")
    builds = Path(root, "versions").glob(f"{version}.*/bin/python")

    def patch(path: Path) -> int:
        tail = path.parent.parent.name.removeprefix(version + ".")
        return int(tail) if tail.isdigit() else -1

    return [str(path) for path in sorted(builds, key=patch, reverse=True)]


def _probe_command(command: list[str]) -> str | None:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _base_interpreter(version: str) -> str:
    candidates = _pyenv_candidates(version)
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if _version_of(candidate) == version:
            return candidate
    if GET_PYTHON.exists():
        out = _probe_command([str(GET_PYTHON), version])
        if out and _version_of(out.splitlines()[-1]) == version:
            return out.splitlines()[-1]
    raise PythonNotFound(
        f"Python {version}: not in pyenv, no python{version} on PATH, "
        f"and {GET_PYTHON} could not provide it"
    )


def _make_venv(base: str, version: str | None, venv_dir: Path) -> str:
    """A venv (made once, then reused) where ``base``'s version can run the suites."""
    key = hashlib.sha256(f"{CHECKOUT}\0{base}".encode()).hexdigest()[:10]
    target = venv_dir / f"py{version or _version_of(base) or 'x'}-{key}"
    python = target / "bin" / "python"
    if python.exists() and _can_run_suites(str(python)):
        return str(python)
    print(f"run.py: making a venv for {base} in {target} (once)", file=sys.stderr, flush=True)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([base, "-m", "venv", str(target)], capture_output=True, check=False)
    if made.returncode != 0:
        if version is None or not GET_PYTHON.exists():
            raise PythonNotFound(
                f"{base} -m venv failed: {made.stderr.decode(errors='replace').strip()}"
            )
        shutil.rmtree(target, ignore_errors=True)
        via = subprocess.run(
            [str(GET_PYTHON), version, "--venv", str(target)], capture_output=True, check=False
        )
        if via.returncode != 0:
            raise PythonNotFound(f"get-python {version} --venv {target} failed")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", f"{CHECKOUT}[test]"], check=False
    )
    if install.returncode != 0 or not _can_run_suites(str(python)):
        raise PythonNotFound(f"pip install -e '{CHECKOUT}[test]' into {target} failed")
    return str(python)


def resolve(spec: str, venv_dir: Path) -> str:
    """The interpreter to run the suites with for one ``--python`` value."""
    if _VERSION.match(spec):
        version: str | None = spec
        base = _base_interpreter(spec)
    else:
        version = None
        found = shutil.which(spec) if os.sep not in spec else spec
        if not found or _version_of(found) is None:
            raise PythonNotFound(f"{spec}: not an interpreter that runs")
        base = found
    if _can_run_suites(base):
        return base
    return _make_venv(base, version, venv_dir)


def split_specs(values: list[str]) -> list[str]:
    """``--python`` values, repeated and/or comma-separated, in order, without repeats."""
    specs: list[str] = []
    for value in values:
        for part in value.split(","):
            spec = part.strip()
            if spec and spec not in specs:
                specs.append(spec)
    return specs


def full_version(python: str) -> str | None:
    """``X.Y.Z`` of an interpreter, or None."""
    return _probe(python, "import platform; print(platform.python_version())")
