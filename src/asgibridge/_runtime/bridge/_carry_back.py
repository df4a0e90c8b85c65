"""Carrying contextvar changes back from a callee's context to the caller's.

Both bridges run the callee in a copy of the caller's context, so the callee
sees the caller's values. When it returns, whatever it set must become visible
to the caller, as asgiref does.

Theory of operation: `contextvars.copy_context()` shares the caller's
immutable mapping (a HAMT) instead of copying it, and any ``set`` inside the
copy replaces that mapping. So "did the callee set anything?" is "is the
copy's mapping still the very object it started with?". Python exposes no
accessor for it, but `gc.get_referents` returns what a Context references,
and that is its mapping (plus its parent context while it is entered). The
identity check costs ~0.1 us whatever the number of variables.

Shared hop contexts (asgiref issue #534): consecutive sync_to_async calls
awaited by the same task run in one `Context` object, the task's *hop
context* (`TaskContext`), so that a ContextVar token made in one call (a
middleware's ``process_request``) can be reset in a later one
(``process_response``), as under WSGI. Each call still sees exactly its
caller's values: before it runs, `take_hop_context` brings into the hop
context what the caller changed since the last call. Nothing changed (the
caller's mapping is still the one snapshotted when the last call's changes
were carried back): the hop context is used as it is, O(1). Else each of the
caller's variables whose value object differs is set in it (one pass over
the caller's variables, sets only for the changed ones). When the hop
context holds a variable the caller no longer has (the caller reset it to
"unset"), it cannot be made equal (a Context has no delete): that call gets
a fresh copy, which becomes the task's hop context after it. A hop context
is *taken* while a call runs in it and given back only by a call that
ended (`give_back`): an abandoned call may still run in it on its thread,
and a Context can be entered by one thread at a time, so the next call gets
a fresh copy; calls of one task that overlap (only by driving coroutines by
hand: ``gather`` makes a task per call) never share one either.

Rules:

- Never compare Contexts with ``==``: it compares changed *values* with their
  ``__eq__``, which may be slow, may raise, or may call equal-but-distinct
  objects the same. Values are compared by identity only.
- If the interpreter does not behave as described (checked once at import),
  fall back to walking every variable: correct, just slower.
- Without the GIL (free-threaded builds) ``gc.get_referents`` stops the
  world (every thread pauses while it runs): far too costly per hop, so
  there the walk is used from the start.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from typing import Any

from .. import _state
from ..host._process import GIL_ENABLED

__all__ = (
    "THREAD_CRITICAL_PREFIX",
    "TaskContext",
    "bring_in",
    "carry_back",
    "give_back",
    "take_hop_context",
)

# Name prefix of the ContextVars behind ``Local(thread_critical=True)`` (see
# `_local`): `carry_back` can leave them out where their thread is not the
# caller's to keep.
THREAD_CRITICAL_PREFIX = "asgibridge.local.critical."

_MISSING = object()
_referents = gc.get_referents
_copy_context = contextvars.copy_context
_task_contexts = _state.task_contexts


def _mapping_identity_works() -> bool:
    probe: contextvars.ContextVar[int] = contextvars.ContextVar("asgibridge.probe")
    first, second = contextvars.copy_context(), contextvars.copy_context()
    a, b = _referents(first), _referents(second)
    if not a or not b or a[-1] is not b[-1]:
        return False
    first.run(probe.set, 1)
    return _referents(first)[-1] is not b[-1]


# With the GIL only: ``sys._is_gil_enabled`` exists from 3.13; the GIL, once
# on, is never turned off again, so checking at import is enough.
_FAST = GIL_ENABLED and _mapping_identity_works()


def carry_back(
    callee: contextvars.Context, before: contextvars.Context, *, thread_critical: bool = True
) -> bool:
    """Set in the current context every variable that ``callee`` holds differently.

    ``before`` is a copy of ``callee`` taken before the callee ran (both share
    one mapping then); when they still share it, nothing changed. With
    ``thread_critical=False``, thread-critical `Local` variables stay behind.
    Returns False when the current context is sure to be unchanged.
    """
    if _FAST and _referents(callee)[-1] is _referents(before)[-1]:
        return False
    changed = False
    for var, value in callee.items():
        if var.get(_MISSING) is not value:
            if not thread_critical and var.name.startswith(THREAD_CRITICAL_PREFIX):
                continue
            var.set(value)
            changed = True
    return changed


def bring_in(target: contextvars.Context, source: contextvars.Context) -> bool:
    """Make ``target`` hold ``source``'s values (by identity); False if it cannot.

    It cannot when ``target`` holds a variable ``source`` does not (no delete
    exists). ``target`` must not be entered anywhere.
    """
    get = target.get
    changed = [(var, value) for var, value in source.items() if get(var, _MISSING) is not value]
    if changed:
        target.run(_set_all, changed)
    return len(target) == len(source)


def _set_all(changed: list[tuple[contextvars.ContextVar[Any], Any]]) -> None:
    for var, value in changed:
        var.set(value)


class TaskContext:
    """One task's hop context (see the module docs); touched on the task's loop thread only.

    Attributes:
        ctx: the shared Context, or None while a call runs in it (taken), after
            a call was abandoned in it, or before the first call ended.
        mapping: the task's own context's mapping right after the last call's
            changes were carried back (it stays that very object until the
            task sets something), or None when unknown.
        ref: a weak reference to the task; its callback drops the entry.
    """

    __slots__ = ("ctx", "mapping", "ref")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        key = id(task)
        self.ctx: contextvars.Context | None = None
        self.mapping: object = None
        # Keyed by id: the callback runs when the task is freed, before the id
        # can be reused. It holds only the key (no cycle keeps the values alive).
        self.ref = weakref.ref(task, lambda _ref: _task_contexts.pop(key, None))


def take_hop_context(
    task: asyncio.Task[Any] | None,
) -> tuple[contextvars.Context, TaskContext | None]:
    """The context a sync_to_async call awaited by ``task`` runs in, and its task's entry.

    Loop thread (the awaiting task's). Give the context back with `give_back`
    once the call has ended (not if it was abandoned).
    """
    caller = _copy_context()
    if task is None:  # a coroutine driven outside any task: no one to share with
        return caller, None
    entry: TaskContext | None = _task_contexts.get(id(task))
    if entry is None or entry.ref() is not task:
        entry = TaskContext(task)
        _task_contexts[id(task)] = entry
        return caller, entry
    shared = entry.ctx
    if shared is None:  # in use, or abandoned in use: a fresh copy (see the module docs)
        return caller, entry
    entry.ctx = None
    mapping = entry.mapping
    if mapping is not None and _referents(caller)[-1] is mapping:
        return shared, entry  # the caller changed nothing since the last call
    entry.mapping = None
    if bring_in(shared, caller):
        return shared, entry
    return caller, entry  # the shared one holds a variable the caller dropped


def give_back(entry: TaskContext, ctx: contextvars.Context, changed: bool) -> None:
    """After a call ended in ``ctx`` and its changes were carried back: share ``ctx`` next.

    ``changed``: what `carry_back` returned. When it changed nothing and the
    call took the unchanged path, the recorded mapping is still the task's.
    """
    if not changed and entry.mapping is not None:
        entry.ctx = ctx
        return
    snapshot = _copy_context()
    # Equal sizes: every caller variable is in ``ctx`` with the same value (the
    # carry back just made them equal); else the caller gained a variable
    # meanwhile and the next call takes a fresh copy.
    if len(snapshot) == len(ctx):
        entry.ctx = ctx
        entry.mapping = _referents(snapshot)[-1] if _FAST else None
