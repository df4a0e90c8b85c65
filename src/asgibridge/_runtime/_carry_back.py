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

import contextvars
import gc
import sys

__all__ = ("THREAD_CRITICAL_PREFIX", "carry_back")

# Name prefix of the ContextVars behind ``Local(thread_critical=True)`` (see
# `_local`): `carry_back` can leave them out where their thread is not the
# caller's to keep.
THREAD_CRITICAL_PREFIX = "asgibridge.local.critical."

_MISSING = object()
_referents = gc.get_referents


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
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
_FAST = _GIL and _mapping_identity_works()


def carry_back(
    callee: contextvars.Context, before: contextvars.Context, *, thread_critical: bool = True
) -> None:
    """Set in the current context every variable that ``callee`` holds differently.

    ``before`` is a copy of ``callee`` taken before the callee ran (both share
    one mapping then); when they still share it, nothing changed. With
    ``thread_critical=False``, thread-critical `Local` variables stay behind.
    """
    if _FAST and _referents(callee)[-1] is _referents(before)[-1]:
        return
    for var, value in callee.items():
        if var.get(_MISSING) is not value:
            if not thread_critical and var.name.startswith(THREAD_CRITICAL_PREFIX):
                continue
            var.set(value)
