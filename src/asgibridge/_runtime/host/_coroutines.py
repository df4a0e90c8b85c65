"""Detecting and marking coroutine functions, the same on Python 3.10 to 3.13.

Python 3.12 added `inspect.markcoroutinefunction` and made
`inspect.iscoroutinefunction` honour it; `asyncio.iscoroutinefunction` is
deprecated from 3.14. Before 3.12 the only marker Python knows is asyncio's
``_is_coroutine`` attribute, read by `asyncio.iscoroutinefunction`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any, TypeVar

__all__ = (
    "COROUTINE_MARKER_ITEMS",
    "COROUTINE_MARKER_NAMES",
    "WrapperMeta",
    "bind_method",
    "copy_metadata",
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

_ASSIGNED = functools.WRAPPER_ASSIGNMENTS


def copy_metadata(wrapper: object, wrapped: object) -> None:
    """What `functools.update_wrapper` does, in one pass over the wrapper's ``__dict__``.

    Plain functions (the hot case) are copied directly; anything else goes
    through `functools.update_wrapper` itself. ``__annotations__`` is copied
    too, as `functools.update_wrapper` does: `typing.get_type_hints` reads it
    from the wrapper, and without it a subclass's own class annotations would
    stand in for the function's.
    """
    if type(wrapped) is not _FunctionType:
        functools.update_wrapper(wrapper, wrapped)  # type: ignore[arg-type]
        return
    target = wrapper.__dict__
    for name in _ASSIGNED:
        target[name] = getattr(wrapped, name)
    target.update(wrapped.__dict__)
    target["__wrapped__"] = wrapped


# Python 3.14+ (PEP 649/749): functions evaluate ``__annotations__`` lazily
# from ``__annotate__``, which is what `functools.update_wrapper` now copies;
# an instance (our wrappers) or a partial has no ``__annotations__`` of its own.
_LAZY_ANNOTATIONS = sys.version_info >= (3, 14)


class _WrappedAnnotations:
    """``wrapper.__annotations__`` on 3.14+: the wrapped callable's, evaluated when read.

    Evaluating at wrap time would fail for annotations naming something defined
    later (a forward reference), which PEP 649 made legal, and would cost every
    wrapper Django builds per request; reading through ``__wrapped__`` keeps
    them lazy. On the class itself it gives the class's own annotations.
    """

    def __init__(self, own: Any) -> None:
        self.own = own  # the class body's eager annotations (``from __future__``), if any

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            annotate = getattr(owner, "__annotate__", None)
            return annotate(1) if annotate is not None else dict(self.own or {})
        wrapped = vars(obj).get("__wrapped__")
        return getattr(wrapped, "__annotations__", {}) if wrapped is not None else {}


if TYPE_CHECKING or not _LAZY_ANNOTATIONS:
    WrapperMeta = type
else:

    class WrapperMeta(type):
        """The wrapper classes' metaclass on 3.14+: instances show the wrapped annotations.

        An instance's ``__annotations__`` would otherwise be missing, or be the
        class body's annotations of a subclass (Channels' DatabaseSyncToAsync);
        each class keeps its own under the class-level read. Older Pythons
        copy ``__annotations__`` into the instance and use plain `type`.
        """

        def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
            ns["__annotations__"] = _WrappedAnnotations(ns.pop("__annotations__", None))
            return super().__new__(mcs, name, bases, ns, **kw)


def bind_method(
    call: Callable[..., Any], parent: object, wrapped: object, *, is_async: bool
) -> Callable[..., Any]:
    """``call`` bound to ``parent``, looking like ``wrapped`` (a wrapper used as a method).

    A `functools.partial` before 3.14; from 3.14 a function, whose
    ``__annotations__`` come lazily from the ``__annotate__`` copied to it.
    """
    if not _LAZY_ANNOTATIONS:
        return functools.update_wrapper(functools.partial(call, parent), wrapped)  # type: ignore[arg-type]

    def bound(*args: Any, **kwargs: Any) -> Any:
        return call(parent, *args, **kwargs)

    functools.update_wrapper(bound, wrapped)  # type: ignore[arg-type]
    if is_async:
        markcoroutinefunction(bound)
    return bound
