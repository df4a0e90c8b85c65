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
from typing import Any, TypeVar

__all__ = ("iscoroutinefunction", "markcoroutinefunction")

_F = TypeVar("_F", bound=Callable[..., Any])

if sys.version_info >= (3, 12):
    iscoroutinefunction = inspect.iscoroutinefunction
    markcoroutinefunction = inspect.markcoroutinefunction
else:
    _MARKER = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]

    def iscoroutinefunction(func: object) -> bool:
        """True if ``func`` is an async function or was marked as one."""
        return asyncio.iscoroutinefunction(func)

    def markcoroutinefunction(func: _F) -> _F:
        """Mark ``func`` so that `iscoroutinefunction` reports True for it."""
        func._is_coroutine = _MARKER  # type: ignore[attr-defined]
        return func
