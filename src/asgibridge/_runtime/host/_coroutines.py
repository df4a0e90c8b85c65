"""Detecting and marking coroutine functions, the same on Python 3.10 to 3.13.

Python 3.12 added `inspect.markcoroutinefunction` and made
`inspect.iscoroutinefunction` honour it; `asyncio.iscoroutinefunction` is
deprecated from 3.14. Before 3.12 the only marker Python knows is asyncio's
``_is_coroutine`` attribute, read by `asyncio.iscoroutinefunction`.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any, TypeVar

__all__ = (
    "COROUTINE_MARKER_ITEMS",
    "COROUTINE_MARKER_NAMES",
    "is_async_callable",
    "iscoroutinefunction",
    "markcoroutinefunction",
)

_F = TypeVar("_F", bound=Callable[..., Any])

if sys.version_info >= (3, 12):
    iscoroutinefunction = inspect.iscoroutinefunction
    markcoroutinefunction = inspect.markcoroutinefunction
else:
    _MARKER = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]

    def iscoroutinefunction(func: object) -> bool:
        """True if ``func`` is an async function or was marked as one.

        Args:
            func: any object.

        Returns:
            True for an ``async def`` function (or a method of one) and for
            anything `markcoroutinefunction` marked.

        Example:
            >>> async def fetch() -> None: ...
            >>> iscoroutinefunction(fetch), iscoroutinefunction(len)
            (True, False)
        """
        return asyncio.iscoroutinefunction(func)

    def markcoroutinefunction(func: _F) -> _F:
        """Mark ``func`` so that `iscoroutinefunction` reports True for it.

        For a sync callable that returns a coroutine (Django checks the mark
        to tell async views from sync ones).

        Args:
            func: a callable; it gets a marker attribute.

        Returns:
            ``func`` itself (usable as a decorator).

        Example:
            >>> def handler():
            ...     return asyncio.sleep(0)
            >>> iscoroutinefunction(markcoroutinefunction(handler))
            True
        """
        func._is_coroutine = _MARKER  # type: ignore[attr-defined]
        return func


_CO_COROUTINE = inspect.CO_COROUTINE
_FunctionType = FunctionType
_MethodType = MethodType


def is_async_callable(func: object) -> bool:
    """asgiref's test for "calling this gives a coroutine": async def, marked, or async __call__.

    Plain functions and bound methods without extra attributes (the common
    case, checked on every ``sync_to_async(f)`` Django makes) are answered from
    the code flags directly; anything else takes the general path.
    """
    target: Any = func.__func__ if type(func) is _MethodType else func  # type: ignore[attr-defined,unused-ignore]
    if type(target) is _FunctionType and not target.__dict__:
        return bool(target.__code__.co_flags & _CO_COROUTINE)
    return iscoroutinefunction(func) or iscoroutinefunction(getattr(func, "__call__", func))


class _Probe:
    pass


def _marker_items() -> tuple[tuple[str, Any], ...]:
    probe: Any = _Probe()
    markcoroutinefunction(probe)
    return tuple(vars(probe).items())


# The attributes markcoroutinefunction sets, so wrappers can copy them in one step.
COROUTINE_MARKER_ITEMS = _marker_items()
COROUTINE_MARKER_NAMES = frozenset(("_is_coroutine", "_is_coroutine_marker"))
