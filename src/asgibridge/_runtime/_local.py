"""`Local`: asgiref's ``threading.local`` replacement that also follows tasks and the bridge.

Theory of operation:

- A default `Local` keeps each attribute in a `contextvars.ContextVar` of its
  own (made the first time the name is assigned, kept for the Local's life).
  The variable holds a *box*, the tuple ``(owner, value)``, or ``_ABSENT``
  (its default) where the attribute is unset or deleted; an assignment sets a
  new box, nothing is mutated in place. So values follow asyncio tasks (a
  task sees its creator's values, siblings never see each other's writes) and the bridge both ways:
  ``sync_to_async`` and ``async_to_sync`` run the callee in a copy of the
  caller's context and carry back every variable whose value object changed.
  The bridge needs no hook for `Local`. (One variable per attribute rather
  than one dict per Local: a write is one ``ContextVar.set``, no dict copy.)
- ``owner`` exists for one hazard: a thread that *inherits* its creator's
  context (``sys.flags.thread_inherit_context``, the default on free-threaded
  3.14, or any ``ctx.run`` in a new thread) must not see the creator's values
  in sync code, as with ``threading.local``. Owners are thread *tokens*
  (``_state.local_owner.__dict__``: one object per thread, fetched faster
  than an ident and never reused): the writer's, or, for boxes written by
  async code on behalf of a sync caller blocked in ``async_to_sync``, that
  caller's (kept by its `CurrentThreadExecutor`).
  Plain sync code (no running loop, not running a ``sync_to_async`` call)
  sees only boxes it owns; code the bridge runs (async code, sync_to_async
  calls) sees every box of its context, because the bridge only hands a
  context to such code on its owner's behalf.
- A ``thread_critical=True`` `Local` is strictly per thread: in sync code (no
  event loop running in this thread) its values live in a ``threading.local``
  (the same whatever context the code runs in, including work the bridge
  routes back to a blocked sync caller: Django's database connections rely on
  it); inside a running loop, in boxes that only the owning thread ever sees
  (per task, never across threads). Their variables are named with
  `THREAD_CRITICAL_PREFIX` so that an ``async_to_sync`` call on the calling
  thread's persistent loop can leave them behind when it returns: asgiref
  runs such a call on a new thread, whose values die with it.

Rules:

- The read path is one dict lookup (name to variable), one ``ContextVar.get``
  and one owner check inside a ``__getattribute__``: instances are tuples
  holding their storage so that it is reached with one C subscript (a slot
  descriptor costs ~30 ns more per read). The tuple API is not part of the
  public interface; non-dunder tuple methods are hidden. On Python 3.12+ the
  interpreter specializes every step of that path except ``self[0]`` (a tuple
  subclass) and ``_owner.__dict__`` (a ``threading.local``); what is left is
  mostly the cost of entering a Python ``__getattribute__`` at all, which
  docs/design.md (Local) compares with asgiref's faster 3.12+ reads.
- Nothing is mutated after being published except the name-to-variable dict,
  by ``setdefault`` (atomic): no lock, whatever the number of threads (also
  without a GIL).
- No reference cycles: a `Local` is freed by refcounting; its values are
  freed when the Local dies (``thread_critical`` sync values) or when the
  contexts holding them end (thread or task end), as for any ContextVar.
- Each distinct attribute name costs one ContextVar for the Local's life
  (Django's Locals use a handful of fixed names). A name that is *read* while
  unset gets its variable too (at most ``_MAX_PROBED`` such names per Local):
  Django reads unset Locals all the time (``getattr(_active, "value", None)``
  on every gettext without an active translation, ``get_urlconf()`` on every
  ``reverse()``), and a miss on a known variable skips an internal KeyError.
- Reading, writing or deleting never raises internally on the fast paths: the
  unset state is the ``_ABSENT`` default box, not a missing value.
- ``_data`` cannot be assigned (asgiref reserves it; code relies on that).
"""

from __future__ import annotations

import contextvars
import threading
from typing import TYPE_CHECKING, Any, final

from .._errors import LocalReservedNameError, LocalSubclassError
from . import _state
from .bridge._carry_back import THREAD_CRITICAL_PREFIX
from .host._asyncio_private import get_running_loop

__all__ = ("Local",)

_get_running_loop = get_running_loop
_object_getattribute = object.__getattribute__
_tls = _state.tls
_owner = _state.local_owner  # ``_owner.__dict__`` is this thread's token
_current_executor = _state.current_executor
_RESERVED = "_data"

_Box = tuple[Any, Any]  # (owner: the writer's or a blocked sync caller's token, value)
_Var = contextvars.ContextVar[_Box]
# Every variable's default, and what a delete sets: "no value here". Its owner
# (None) is nobody's token, so the fast paths fall through to the slow ones,
# which test for it by identity before asking `_can_see`.
_ABSENT: _Box = (None, None)
_MAX_PROBED = 64  # variables made for names only ever read (bounds memory on probes)
_NOTHING: Any = object()  # "no visible value" from the slow read path (never stored)


def _is_dunder(name: str) -> bool:
    return name[:2] == "__" and name[-2:] == "__"


def _bridged() -> bool:
    """Is this thread running code the bridge hands contexts to (async code, a hop)?"""
    return _tls.hop is not None or _get_running_loop() is not None


def _can_see(owner: Any) -> bool:
    """May this code see a box owned by ``owner``? (Slow path of every read.)

    Plain sync code sees only its own thread's token: another thread's box is
    never its to share (the inherited-context hazard), and what async code
    wrote for it while it was blocked in async_to_sync already carries its
    token (`_write_owner`).
    """
    return owner is _owner.__dict__ or _bridged()


def _write_owner() -> Any:
    """The owner of a box this code writes."""
    if _bridged():
        executor = _current_executor.get()
        if executor is not None:
            # Async code (or a hop) working for a sync caller blocked in
            # async_to_sync: the box must be that caller's when carried back.
            return executor.root_owner
    return _owner.__dict__


def _no_attribute(local: Local, name: str) -> AttributeError:
    # name/obj set as attributes: passing them as keywords costs ~8x more, and
    # Django reads unset Locals through getattr(..., default) on hot paths.
    exc = AttributeError(f"'Local' object has no attribute {name!r}")
    exc.name = name
    exc.obj = local
    return exc


def _reserved(name: str) -> LocalReservedNameError:
    return LocalReservedNameError(
        f"Cannot set attribute {name!r} on Local",
        "(asgiref reserves this name for its internals, and code written for asgiref "
        "relies on the assignment failing); use another attribute name.",
    )


def _var_for(variables: dict[str, _Var], name: str, prefix: str = "asgibridge.local.") -> _Var:
    """The variable of attribute ``name``, made on first use (setdefault: race-free)."""
    var = variables.get(name)
    if var is None:
        made = contextvars.ContextVar(prefix + name, default=_ABSENT)
        var = variables.setdefault(name, made)
    return var


def _visible(var: _Var | None) -> _Box | None:
    """The box this code may see in ``var``, or None (slow paths)."""
    if var is None:
        return None
    box = var.get()
    if box is _ABSENT or not _can_see(box[0]):
        return None
    return box


@final
class Local:
    """A namespace whose attributes are local to the thread, or to the task in async code.

    Like ``threading.local`` in sync threads; inside asyncio each task has its
    own values (a new task starts with a copy of its creator's); and values
    follow `asgibridge.sync`: a function run by ``sync_to_async`` sees the
    awaiting task's values and the task sees the function's writes afterwards,
    and the same for ``async_to_sync``.

    Args:
        thread_critical: keep values strictly per thread, never across the
            bridge: in sync code exactly a ``threading.local`` of the thread
            (whatever context the code runs in), in async code per task and
            per thread. For objects that must stay on their thread (database
            connections).

    Raises:
        LocalSubclassError: on instantiating a subclass (a TypeError).
        LocalReservedNameError: on assigning ``_data`` (an AttributeError).
        AttributeError: on reading or deleting an attribute that is not set here.

    Example:
        >>> local = Local()
        >>> local.user = "ada"
        >>> local.user, getattr(local, "missing", None)
        ('ada', None)
        >>> del local.user
        >>> hasattr(local, "user")
        False
    """

    __slots__ = ()

    def __new__(cls, thread_critical: bool = False) -> Local:
        if cls is not Local:
            raise LocalSubclassError(
                "asgiref.local.Local cannot be subclassed",
                f"({cls.__qualname__} derives from it); hold a Local in an attribute "
                "of your class instead.",
            )
        if thread_critical:
            return tuple.__new__(_ThreadCriticalLocal, ({}, threading.local()))
        return tuple.__new__(_DefaultLocal, ({},))

    def __init__(self, thread_critical: bool = False) -> None:
        """Nothing to do: `__new__` built the storage."""

    def __repr__(self) -> str:
        critical = type(self) is _ThreadCriticalLocal
        return f"<asgibridge.local.Local thread_critical={critical} at {id(self):#x}>"

    # Identity semantics, like any object (not the tuple's).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    if TYPE_CHECKING:
        # Mark the namespace as dynamic for type checkers; the real methods
        # live in the concrete classes (a runtime __getattr__ would cost every
        # miss a second call).
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...
        def __delattr__(self, name: str) -> None: ...


class _DefaultLocal(Local, tuple[Any, ...]):  # type: ignore[misc]
    """``Local(thread_critical=False)``: ``self[0]`` maps names to their ContextVars."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        try:
            owner, value = self[0][name].get()
            if owner is _owner.__dict__:
                return value
        except KeyError:  # a name never set nor read: no variable yet
            pass
        value = _default_get_slow(self, name)
        if value is _NOTHING:
            # Raised here, not in a helper: each frame the error unwinds costs a
            # traceback entry, and getattr(local, name, default) pays for them.
            if _is_dunder(name):
                return _object_getattribute(self, name)
            raise _no_attribute(self, name)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            var = self[0][name]
            owner = var.get()[0]
            if owner is _owner.__dict__:
                var.set((owner, value))
                return
        except KeyError:
            pass
        if name == _RESERVED:
            raise _reserved(name)
        _var_for(self[0], name).set((_write_owner(), value))

    def __delattr__(self, name: str) -> None:
        var = self[0].get(name)
        if _visible(var) is None:
            raise _no_attribute(self, name)
        var.set(_ABSENT)  # (var is not None: _visible(None) is None)

    def __dir__(self) -> list[str]:
        names = {name for name, var in list(self[0].items()) if _visible(var) is not None}
        return sorted({n for n in object.__dir__(self) if _is_dunder(n)} | names)


def _default_get_slow(local: _DefaultLocal, name: str) -> Any:
    """The value this code may see, or ``_NOTHING``."""
    variables = local[0]
    var = variables.get(name)
    box = _visible(var)
    if box is not None:
        return box[1]
    if var is None and len(variables) < _MAX_PROBED and not _is_dunder(name):
        _var_for(variables, name)  # the next miss on this name raises no KeyError
    return _NOTHING


class _ThreadCriticalLocal(Local, tuple[Any, ...]):  # type: ignore[misc]
    """``Local(thread_critical=True)``: ``self[0]`` name->ContextVar, ``self[1]`` thread-local."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if _get_running_loop() is None:
            try:
                return self[1].__dict__[name]
            except KeyError:
                pass
        else:
            try:
                owner, value = self[0][name].get()
                if owner is _owner.__dict__:
                    return value
            except KeyError:
                pass
        # No value here: dunders come from the class, the rest raise (from this
        # frame: see _DefaultLocal.__getattribute__).
        if _is_dunder(name):
            return _object_getattribute(self, name)
        raise _no_attribute(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == _RESERVED:
            raise _reserved(name)
        if _get_running_loop() is None:
            self[1].__dict__[name] = value
        else:
            _var_for(self[0], name, THREAD_CRITICAL_PREFIX).set((_owner.__dict__, value))

    def __delattr__(self, name: str) -> None:
        if _get_running_loop() is None:
            values = self[1].__dict__
            if name in values:
                del values[name]
                return
        elif name in _critical_async_names(self):
            self[0][name].set(_ABSENT)
            return
        raise _no_attribute(self, name)

    def __dir__(self) -> list[str]:
        if _get_running_loop() is None:
            names = set(self[1].__dict__)
        else:
            names = _critical_async_names(self)
        return sorted({n for n in object.__dir__(self) if _is_dunder(n)} | names)


def _critical_async_names(local: _ThreadCriticalLocal) -> set[str]:
    """Names with a value for this task on this thread (async code)."""
    token = _owner.__dict__
    names = set()
    for name, var in list(local[0].items()):
        if var.get()[0] is token:
            names.add(name)
    return names
