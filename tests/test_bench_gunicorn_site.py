"""The Django + Channels site serves either library: asgibridge by default, asgiref on request.

benchmarks/bench_gunicorn.py compares the two under gunicorn by starting the
site with ``CHSITE_IMPL=asgiref``; a site that installed asgibridge anyway
would compare asgibridge with itself. Each case imports the site's ASGI module
in a fresh interpreter (the alias is process-wide) and reports which module
Django's ``asgiref.sync`` is.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SITE = Path(__file__).parent / "django_channels_site"
_MISSING = [m for m in ("django", "channels", "channels_redis") if not importlib.util.find_spec(m)]

pytestmark = pytest.mark.skipif(bool(_MISSING), reason=f"not importable: {', '.join(_MISSING)}")

_PROBE = (
    "import chsite.asgi, asgiref.sync, django.core.handlers.asgi as h; "
    "print(asgiref.sync.sync_to_async.__module__, h.ThreadSensitiveContext.__module__)"
)


def _modules(tmp_path: Path, impl: str | None) -> list[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(SITE), *sys.path]),
        CHSITE_DB=str(tmp_path / "db.sqlite3"),
        CHSITE_REDIS="redis://127.0.0.1:1",  # never connected: no view runs
        DJANGO_SETTINGS_MODULE="chsite.settings",
    )
    env.pop("CHSITE_IMPL", None)
    if impl is not None:
        env["CHSITE_IMPL"] = impl
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_site_installs_asgibridge_by_default(tmp_path: Path) -> None:
    modules = _modules(tmp_path, None)
    assert all(m.startswith("asgibridge.") for m in modules), modules


def test_site_keeps_the_real_asgiref_when_asked(tmp_path: Path) -> None:
    modules = _modules(tmp_path, "asgiref")
    assert modules == ["asgiref.sync", "asgiref.sync"], modules
