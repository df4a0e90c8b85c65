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
  in sync code, as with ``threading.local`` (asgiref 3.13 checks the thread
  ident for the same reason). Owners are thread *tokens*
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
- Reads go through *properties*: the first assignment of a name on any Local
  of a kind adds a `property` for that name to the kind's class
  (`_DefaultLocal` or `_ThreadCriticalLocal`), whose getter reads the
  instance's variable. The classes define no ``__getattribute__`` nor
  ``__getattr__``, so from Python 3.12 on a ``local.name`` call site is
  specialized to ``LOAD_ATTR_PROPERTY`` (the getter's frame is pushed inline,
  no C call) and the getter's own ``self.<slot>`` read to ``LOAD_ATTR_SLOT``;
  a name no Local of the kind ever had is a plain miss of the object
  machinery (``getattr(local, name, default)`` then raises nothing at all).
  Writes and deletes go through ``__setattr__`` / ``__delattr__``.
- Instances are plain objects (like asgiref's): not containers, not
  copyable or picklable (`LocalCopyError`, a TypeError, as asgiref's raise
  TypeError). Their storage is in two slots with reserved names.
- Names that cannot be properties (dunder names, which the class may also
  define, and names beyond `_MAX_PROPERTIES` per class, so as not to use up
  a class's type versions, which 3.12+ caps) are still stored the same way;
  the first such write moves that instance to an *overflow* subclass whose
  ``__getattr__`` serves them (same slots, so ``__class__`` can be assigned).

Rules:

- The read path is the getter's slot read, one dict lookup (name to
  variable), one ``ContextVar.get`` and one owner check. What the owner check
  costs (~20-30 ns: a ``threading.local`` lookup) is what keeps a pure-Python
  read above 0.10x of asgiref's on 3.12+; docs/design.md (Local) has the figures.
- Nothing is mutated after being published except the name-to-variable dict,
  by ``setdefault`` (atomic), and the classes' dicts, by ``type.__setattr__``
  (adding a property that any racing thread would add identically): no lock,
  whatever the number of threads (also without a GIL).
- No reference cycles: a `Local` is freed by refcounting; its values are
  freed when the Local dies (``thread_critical`` sync values) or when the
  contexts holding them end (thread or task end), as for any ContextVar.
  The properties hold names only, never a Local or a value.
- Each distinct attribute name costs one ContextVar for the Local's life
  (Django's Locals use a handful of fixed names). A name that is *read* while
  unset but has a property (some Local of the kind had it) gets its variable
  too (at most ``_MAX_PROBED`` such names per Local): Django reads unset
  Locals all the time (``getattr(_active, "value", None)`` on every gettext
  without an active translation, ``get_urlconf()`` on every ``reverse()``),
  and a miss on a known variable skips an internal KeyError.
- ``_data`` cannot be assigned (asgiref reserves it; code relies on that),
  nor can the two slot names (`_SLOT_NAMES`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, final

from .._errors import LocalCopyError, LocalReservedNameError, LocalSubclassError
from . import _state
from .bridge._carry_back import THREAD_CRITICAL_PREFIX
from .host._asyncio_private import get_running_loop

__all__ = ("Local",)

_get_running_loop = get_running_loop
_set_slot = object.__setattr__  # bypasses the classes' __setattr__ (slots, __class__)
_tls = _state.tls
_owner = _state.local_owner  # ``_owner.__dict__`` is this thread's token
_current_executor = _state.current_executor
_RESERVED = "_data"
_SLOT_NAMES = frozenset({"_asgibridge_vars", "_asgibridge_tl"})

_Box = tuple[Any, Any]  # (owner: the writer's or a blocked sync caller's token, value)
_Var = contextvars.ContextVar[_Box]
# Every variable's default, and what a delete sets: "no value here". Its owner
# (None) is nobody's token, so the fast paths fall through to the slow ones,
# which test for it by identity before asking `_can_see`.
_ABSENT: _Box = (None, None)
_MAX_PROBED = 64  # variables made for names only ever read (bounds memory on probes)
# Entries in a class's dict (its properties, and ~10 of its own). Each property
# added changes the class, and 3.12+ gives a class at most 1000 type versions
# (then nothing on it is specialized again); each costs ~0.3 KB.
_MAX_PROPERTIES = 512
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
        "(asgiref reserves '_data' for its internals, and code written for asgiref "
        "relies on the assignment failing; asgibridge keeps its storage under "
        "'_asgibridge_vars' and '_asgibridge_tl'); use another attribute name.",
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


def _expose(local: Local, name: str, base: type, make: Callable[[str], property]) -> None:
    """Make ``local.<name>`` readable: a property on ``base``, or the overflow class."""
    if type(base.__dict__.get(name)) is property or type(local) is not base:
        return  # a property exists, or ``local`` already overflowed (its __getattr__ serves)
    if _is_dunder(name) or name in base.__dict__ or len(base.__dict__) >= _MAX_PROPERTIES:
        _set_slot(local, "__class__", _OVERFLOW[base])
        return
    setattr(base, name, make(name))  # type.__setattr__: racing threads add equal properties


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
        LocalCopyError: on ``copy.copy``, ``copy.deepcopy`` or pickling (a TypeError).
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
        local: Local
        if thread_critical:
            local = object.__new__(_ThreadCriticalLocal)
            _set_slot(local, "_asgibridge_tl", threading.local())
        else:
            local = object.__new__(_DefaultLocal)
        _set_slot(local, "_asgibridge_vars", {})
        return local

    def __init__(self, thread_critical: bool = False) -> None:
        """Nothing to do: `__new__` built the storage."""

    def __repr__(self) -> str:
        critical = isinstance(self, _ThreadCriticalLocal)
        return f"<asgibridge.local.Local thread_critical={critical} at {id(self):#x}>"

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.copy, copy.deepcopy and pickle all ask this first. asgiref's
        # Local fails all three with a TypeError (its lock and variables cannot
        # be copied); a copy here would share or drop per-context values.
        raise LocalCopyError(
            "cannot pickle 'Local' object",
            "(a Local's values belong to contexts and threads, so a Local cannot "
            "be copied or pickled, as in asgiref); copy the values you need instead.",
        )

    if TYPE_CHECKING:
        # Mark the namespace as dynamic for type checkers; the real methods
        # live in the concrete classes (a runtime __getattr__ would cost every
        # miss a second call, and would stop 3.12+ specializing the reads).
        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...
        def __delattr__(self, name: str) -> None: ...


# -- Local(thread_critical=False) ------------------------------------------------


class _DefaultLocal(Local):  # type: ignore[misc]
    """``Local(thread_critical=False)``: ``_asgibridge_vars`` maps names to ContextVars."""

    __slots__ = ("__weakref__", "_asgibridge_vars")  # weakly referenceable, as asgiref's
    _asgibridge_vars: dict[str, _Var]

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            var = self._asgibridge_vars[name]
            owner = var.get()[0]
            if owner is _owner.__dict__:
                var.set((owner, value))
                return
        except KeyError:
            pass
        if name == _RESERVED or name in _SLOT_NAMES:
            raise _reserved(name)
        var = _var_for(self._asgibridge_vars, name)
        _expose(self, name, _DefaultLocal, _default_property)
        var.set((_write_owner(), value))

    def __delattr__(self, name: str) -> None:
        var = self._asgibridge_vars.get(name)
        if var is None or _visible(var) is None:
            raise _no_attribute(self, name)
        var.set(_ABSENT)

    def __dir__(self) -> list[str]:
        variables = list(self._asgibridge_vars.items())
        names = {name for name, var in variables if _visible(var) is not None}
        return sorted({n for n in object.__dir__(self) if _is_dunder(n)} | names)


def _default_get_slow(local: _DefaultLocal, name: str) -> Any:
    """The value this code may see, or ``_NOTHING``."""
    variables = local._asgibridge_vars
    var = variables.get(name)
    box = _visible(var)
    if box is not None:
        return box[1]
    if var is None and len(variables) < _MAX_PROBED and not _is_dunder(name):
        _var_for(variables, name)  # the next miss on this name raises no KeyError
    return _NOTHING


def _default_property(name: str) -> property:
    def read(self: _DefaultLocal) -> Any:
        try:
            owner, value = self._asgibridge_vars[name].get()
            if owner is _owner.__dict__:
                return value
            if owner is None:  # _ABSENT: unset here (Django's usual miss), no slow path
                raise _no_attribute(self, name)
        except KeyError:  # a name this Local never set nor read: no variable yet
            pass
        value = _default_get_slow(self, name)
        if value is _NOTHING:
            # Raised here, not in a helper: each frame the error unwinds costs a
            # traceback entry, and getattr(local, name, default) pays for them.
            raise _no_attribute(self, name)
        return value

    return property(read, doc=f"Local attribute {name!r}")


class _DefaultLocalOverflow(_DefaultLocal):  # type: ignore[misc]
    """A default Local holding a name that has no property (a dunder, or one too many)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        value = _default_get_slow(self, name)
        if value is _NOTHING:
            raise _no_attribute(self, name)
        return value


# -- Local(thread_critical=True) -------------------------------------------------


class _ThreadCriticalLocal(Local):  # type: ignore[misc]
    """``Local(thread_critical=True)``: ContextVars in async code, a thread-local in sync code."""

    __slots__ = ("__weakref__", "_asgibridge_tl", "_asgibridge_vars")
    _asgibridge_tl: threading.local
    _asgibridge_vars: dict[str, _Var]

    def __setattr__(self, name: str, value: Any) -> None:
        if _get_running_loop() is None:
            values = self._asgibridge_tl.__dict__
            if name in values:  # set before on this thread: already readable
                values[name] = value
                return
        else:
            try:  # a variable exists: the name was exposed when it was made
                self._asgibridge_vars[name].set((_owner.__dict__, value))
                return
            except KeyError:
                pass
        if name == _RESERVED or name in _SLOT_NAMES:
            raise _reserved(name)
        _expose(self, name, _ThreadCriticalLocal, _critical_property)
        if _get_running_loop() is None:
            self._asgibridge_tl.__dict__[name] = value
        else:
            var = _var_for(self._asgibridge_vars, name, THREAD_CRITICAL_PREFIX)
            var.set((_owner.__dict__, value))

    def __delattr__(self, name: str) -> None:
        if _get_running_loop() is None:
            values = self._asgibridge_tl.__dict__
            if name in values:
                del values[name]
                return
        elif name in _critical_async_names(self):
            self._asgibridge_vars[name].set(_ABSENT)
            return
        raise _no_attribute(self, name)

    def __dir__(self) -> list[str]:
        if _get_running_loop() is None:
            names = set(self._asgibridge_tl.__dict__)
        else:
            names = _critical_async_names(self)
        return sorted({n for n in object.__dir__(self) if _is_dunder(n)} | names)


def _critical_get(local: _ThreadCriticalLocal, name: str) -> Any:
    """This thread's (sync) or this task's (async) value, or ``_NOTHING``."""
    if _get_running_loop() is None:
        return local._asgibridge_tl.__dict__.get(name, _NOTHING)
    var = local._asgibridge_vars.get(name)
    if var is None:
        return _NOTHING
    owner, value = var.get()
    return value if owner is _owner.__dict__ else _NOTHING


def _critical_property(name: str) -> property:
    def read(self: _ThreadCriticalLocal) -> Any:
        if _get_running_loop() is None:
            try:
                return self._asgibridge_tl.__dict__[name]
            except KeyError:
                pass
        else:
            try:
                owner, value = self._asgibridge_vars[name].get()
                if owner is _owner.__dict__:
                    return value
            except KeyError:
                pass
        # Raised here, not in a helper (see _default_property).
        raise _no_attribute(self, name)

    return property(read, doc=f"Local attribute {name!r} (thread-critical)")


class _ThreadCriticalLocalOverflow(_ThreadCriticalLocal):  # type: ignore[misc]
    """A thread-critical Local holding a name that has no property."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        value = _critical_get(self, name)
        if value is _NOTHING:
            raise _no_attribute(self, name)
        return value


def _critical_async_names(local: _ThreadCriticalLocal) -> set[str]:
    """Names with a value for this task on this thread (async code)."""
    token = _owner.__dict__
    names = set()
    for name, var in list(local._asgibridge_vars.items()):
        if var.get()[0] is token:
            names.add(name)
    return names


# Each class's overflow class (see `_expose`).
_OVERFLOW: dict[type, type] = {
    _DefaultLocal: _DefaultLocalOverflow,
    _ThreadCriticalLocal: _ThreadCriticalLocalOverflow,
}
# The name the object machinery uses in its AttributeError messages ("'Local'
# object has no attribute 'x'"), as the messages raised here say.
for _cls in (*_OVERFLOW, *_OVERFLOW.values()):
    _cls.__name__ = "Local"
del _cls
