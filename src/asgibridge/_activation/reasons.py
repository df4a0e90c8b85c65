"""Which activation path aliased asgiref to asgibridge: recorded once, read by the doctor.

The value lives in ``_runtime._state.activated_by`` (all mutable state is
declared there); this module only names the paths and writes the first one
that succeeded (a later path finds the alias already in place).
"""

from __future__ import annotations

from .._runtime import _state

__all__ = ("LAUNCHER", "PYTEST_PLUGIN", "STARTUP_HOOK", "current", "record")

LAUNCHER = "the launcher: python -m asgibridge run -- ..."
STARTUP_HOOK = "ASGIBRIDGE_AS_ASGIREF is set: the start-up hook (asgibridge-as-asgiref.pth)"
PYTEST_PLUGIN = "the pytest plugin (-p asgibridge or asgibridge_as_asgiref = true)"


def record(reason: str) -> None:
    """Remember ``reason`` unless an earlier path already activated the alias."""
    if _state.activated_by is None:
        _state.activated_by = reason


def current() -> str | None:
    """The recorded activation path, or None."""
    return _state.activated_by
