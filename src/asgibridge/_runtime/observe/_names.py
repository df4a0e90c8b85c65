"""Names of user objects for statistics, logs and hang reports, never from ``repr()``.

A name comes from ``__module__`` and ``__qualname__`` (of the object's type
for callable objects and iterables without one of their own). ``repr()`` is
never called: it may raise (a lazy proxy), run code with side effects (a
queryset's repr runs the query), or embed an object id, so that names taken
from it would grow a statistics table without bound.

Rules: every function here returns a str and never raises, whatever the
object does in its attribute hooks.
"""

from __future__ import annotations

from typing import Any

__all__ = ("function_name", "iterable_name", "safe_name")


def _attr(obj: Any, name: str) -> Any:
    # Hazard: a hostile __getattr__ may raise anything; names must never fail.
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _qualified(obj: Any) -> str | None:
    qualname = _attr(obj, "__qualname__")
    if not isinstance(qualname, str):
        return None
    module = _attr(obj, "__module__")
    return f"{module}.{qualname}" if isinstance(module, str) and module else qualname


def safe_name(obj: Any) -> str:
    """``module.qualname`` of ``obj`` if it has one, else of its type."""
    name = _qualified(obj)
    if name is not None:
        return name
    return _qualified(type(obj)) or "<unnamed>"


def function_name(func: Any) -> str:
    """``module.qualname`` of a callable (looking through ``functools.partial``)."""
    if _qualified(func) is None:
        inner = _attr(func, "func")  # functools.partial, bound wrappers
        if inner is not None and callable(inner):
            return safe_name(inner)
    return safe_name(func)


def iterable_name(iterable: object) -> str:
    """``module.qualname`` of a generator's function, else of the iterable's type.

    Read it before the generator ends (its module is read from its frame).
    """
    qualname = _attr(iterable, "__qualname__")
    if not isinstance(qualname, str):
        return safe_name(type(iterable))
    frame = _attr(iterable, "gi_frame") or _attr(iterable, "ag_frame")
    module = frame.f_globals.get("__name__") if frame is not None else None
    return f"{module}.{qualname}" if module else qualname
