"""How a bridge wrapper looks like the callable it wraps (what `functools.update_wrapper` gives).

Two forms, one observable result:

- *eager* (`copy_metadata`): the wrapper's ``__dict__`` gets ``__module__``,
  ``__name__``, ``__qualname__``, ``__doc__``, the annotations, ``__type_params__``,
  the wrapped callable's own ``__dict__`` and ``__wrapped__``, as
  `functools.update_wrapper` would set them;
- *lazy* (`LAZY_NAMES` read through the wrapper class's ``__getattr__`` and the
  descriptors `WrapperMeta` installs): only ``__module__`` and the wrapped
  callable's own ``__dict__`` (usually empty) are copied; the other names are
  read from the wrapped callable when someone asks. Django builds a new
  `SyncToAsync` around a bound method for every middleware call of every
  request (``MiddlewareMixin.__acall__``) and nobody reads its name: copying six
  attributes through a bound method's attribute forwarding was most of the
  wrapper's cost (issue 18).

Theory of operation: an instance attribute always wins over a non-data
descriptor and ``__getattr__`` runs only when lookup failed, so a wrapper that
was filled eagerly, or an attribute a user assigns, is read as before; a
lazily filled wrapper falls through to the wrapped callable. At class level
(``SyncToAsync.__doc__``, ``SyncToAsync.__annotations__``) the descriptors give
the class's own values: `type` calls them with no instance.

Rules: ``__module__`` is never lazy (a class's ``__module__`` must stay a string
in the class ``__dict__``: pickling and reprs read it there); a name the
wrapped callable lacks is missing on the wrapper too (update_wrapper skips it).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any

from ..host._coroutines import COROUTINE_MARKER_ITEMS, markcoroutinefunction

__all__ = (
    "LAZY_NAMES",
    "WrapperMeta",
    "bind_method",
    "copy_metadata",
    "copy_metadata_lazily",
    "fill_plain",
    "lazy_attribute",
)

_ASSIGNED = functools.WRAPPER_ASSIGNMENTS
_CO_COROUTINE = inspect.CO_COROUTINE
_FunctionType = FunctionType
_MethodType = MethodType

# Python 3.14+ (PEP 649/749): functions evaluate ``__annotations__`` lazily
# from ``__annotate__``, which is what `functools.update_wrapper` now copies;
# an instance (our wrappers) or a partial has no ``__annotations__`` of its own.
_LAZY_ANNOTATIONS = sys.version_info >= (3, 14)

# What a lazily filled wrapper reads from its wrapped callable on demand
# (``__doc__`` and the annotations go through `WrapperMeta`'s descriptors: the
# class ``__dict__`` holds both, so ``__getattr__`` would never see them).
LAZY_NAMES = frozenset(
    name for name in _ASSIGNED if name not in ("__module__", "__doc__", "__annotations__")
)


def copy_metadata(wrapper: object, wrapped: object) -> None:
    """What `functools.update_wrapper` does, in one pass over the wrapper's ``__dict__``.

    Plain functions are copied directly; anything else goes through
    `functools.update_wrapper` itself.
    """
    if type(wrapped) is not _FunctionType:
        functools.update_wrapper(wrapper, wrapped)  # type: ignore[arg-type]
        return
    target = wrapper.__dict__
    for name in _ASSIGNED:
        target[name] = getattr(wrapped, name)
    target.update(wrapped.__dict__)
    target["__wrapped__"] = wrapped


def copy_metadata_lazily(wrapper: object, wrapped: object) -> None:
    """Fill ``wrapper`` for lazy reads of ``wrapped``; eagerly where laziness would show.

    Plain functions and methods of plain functions (what Django wraps) copy
    only ``__module__`` and their own ``__dict__``; any other callable (a
    partial, a callable object, a builtin) is copied eagerly, because its
    ``__dict__`` may hold anything.
    """
    kind = type(wrapped)
    if kind is not _FunctionType and (
        kind is not _MethodType or type(wrapped.__func__) is not _FunctionType  # type: ignore[attr-defined]
    ):
        copy_metadata(wrapper, wrapped)
        return
    target = wrapper.__dict__
    target["__module__"] = wrapped.__module__
    own = wrapped.__dict__  # a method forwards to its function's
    if own:
        target.update(own)
        # update_wrapper sets __wrapped__ last: the wrapped callable, not its own
        target.pop("__wrapped__", None)


def fill_plain(wrapper: Any, func: object) -> bool:
    """The per-request case in one step: ``func`` is a plain sync function or method of one.

    Then ``wrapper`` gets ``func``, ``__module__``, ``__self__`` for a method,
    and the coroutine marker, and True is returned. For anything else (an async
    function, a function with attributes of its own, a partial, a callable
    object) nothing is stored and False sends the caller down its general path.

    Plain attribute stores, not ``wrapper.__dict__[...]``: on 3.11+ a new
    instance keeps its attributes inline, and asking for its ``__dict__``
    builds one (a third of the wrapper's cost).
    """
    kind = type(func)
    if kind is _MethodType:
        function = func.__func__  # type: ignore[attr-defined]
        if type(function) is not _FunctionType or function.__dict__:
            return False
    elif kind is _FunctionType and not func.__dict__:
        function = func
    else:
        return False
    if function.__code__.co_flags & _CO_COROUTINE:
        return False
    wrapper.func = func
    wrapper.__module__ = function.__module__
    if function is not func:
        wrapper.__self__ = func.__self__  # type: ignore[attr-defined]
    if _MARK_NEW:
        wrapper._is_coroutine_marker = _MARK
    else:
        wrapper._is_coroutine = _MARK
    return True


# The coroutine marker markcoroutinefunction sets on this Python (see _coroutines).
((_MARK_NAME, _MARK),) = COROUTINE_MARKER_ITEMS
_MARK_NEW = _MARK_NAME == "_is_coroutine_marker"


def lazy_attribute(wrapped: object, name: str, owner: object) -> Any:
    """``getattr(wrapper, name)`` after lookup failed: from ``wrapped`` if it is metadata."""
    if name == "__wrapped__":
        return wrapped
    if name in LAZY_NAMES:
        return getattr(wrapped, name)
    raise AttributeError(f"{type(owner).__name__!r} object has no attribute {name!r}")


class _Doc:
    """``wrapper.__doc__``: the wrapped callable's; on the class, the class's docstring."""

    def __init__(self, own: str | None) -> None:
        self.own = own

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self.own
        try:
            wrapped = obj.__wrapped__  # type: ignore[attr-defined]
        except AttributeError:  # not filled yet (a subclass before super().__init__)
            return self.own
        return wrapped.__doc__


class _Annotations:
    """``wrapper.__annotations__``: the wrapped callable's, read when asked.

    Evaluating at wrap time would fail on 3.14+ for annotations naming
    something defined later (a forward reference, legal since PEP 649), and a
    subclass's own class annotations must never stand in for the function's
    (Channels' DatabaseSyncToAsync). On the class itself: the class's own.
    """

    def __init__(self, own: dict[str, Any] | None) -> None:
        self.own = own if own is not None else {}

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            annotate = getattr(owner, "__annotate__", None) if _LAZY_ANNOTATIONS else None
            return annotate(1) if annotate is not None else self.own
        wrapped = getattr(obj, "__wrapped__", None)
        return getattr(wrapped, "__annotations__", {}) if wrapped is not None else {}


if TYPE_CHECKING:
    WrapperMeta = type
else:

    class WrapperMeta(type):
        """The wrapper classes' metaclass: installs the `_Doc` and `_Annotations` reads.

        Every class body gets its own ``__doc__`` (None without a docstring)
        and maybe ``__annotations__``; replacing them in each class, subclasses
        included, keeps the lazy reads working for subclass instances.
        """

        def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any):
            ns["__doc__"] = _Doc(ns.get("__doc__"))
            ns["__annotations__"] = _Annotations(ns.pop("__annotations__", None))
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
