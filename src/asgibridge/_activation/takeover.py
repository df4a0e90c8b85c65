"""Take over real asgiref modules that were imported but never used, so the alias can follow.

``daphne mysite.asgi:application`` imports ``asgiref.compatibility`` (and with
it ``asgiref.sync``, ``.local``, ...) in ``daphne.cli`` before it imports the
project's ``asgi.py``, whose first lines call ``install_as_asgiref()``: too
late for a plain alias. Refusing there is right when the real asgiref is in
use (its threads, loops and ``Local`` storage would run beside asgibridge's:
two runtimes that each take the other's blocked threads for foreign ones).
But daphne only *holds* a function of it. `take_over` tells the two apart.

Theory of operation: the take-over is allowed when (1) the real asgiref has
started nothing (no thread in its executors, no thread or loop in its maps),
(2) no loaded module holds an instance of a real asgiref class or defines a
subclass of one, and (3) every reference other modules hold to a real asgiref
module, function or class has a same-named counterpart in asgibridge's alias.
Then those references are rebound to the counterparts and the real modules
are dropped from ``sys.modules``; anything else and nothing is touched.

Known limit: references hidden in closures, default arguments or containers
are not seen (they keep the real object, which still works on its own).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from .reasons import record

__all__ = ("take_over",)

# Maps and executors of asgiref 3.x's sync module that fill up once it is used.
_USED_WHEN_FILLED = (
    ("SyncToAsync", "launch_map"),
    ("SyncToAsync", "context_to_thread_executor"),
    ("AsyncToSync", "loop_thread_executors"),
)


def _untouched(real: dict[str, ModuleType]) -> bool:
    sync = real.get("asgiref.sync")
    if sync is None:
        return True
    for class_name, attribute in _USED_WHEN_FILLED:
        if getattr(getattr(sync, class_name, None), attribute, None):
            return False
    executor = getattr(getattr(sync, "SyncToAsync", None), "single_thread_executor", None)
    return not getattr(executor, "_threads", None)


def _own_objects(real: dict[str, ModuleType]) -> dict[int, tuple[str, str]]:
    """id -> (module, attribute) for each function and class the real modules define."""
    owned: dict[int, tuple[str, str]] = {}
    for name, module in real.items():
        for attribute, value in vars(module).items():
            if getattr(value, "__module__", None) == name and callable(value):
                owned.setdefault(id(value), (name, attribute))
    return owned


def _instance_checkable(real: dict[str, ModuleType]) -> tuple[type, ...]:
    """The real modules' classes that isinstance() accepts (not TypedDicts, Protocols)."""
    found = []
    for name, module in real.items():
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                try:
                    isinstance(None, value)
                except TypeError:
                    continue
                found.append(value)
    return tuple(found)


def _uses(value: object, classes: tuple[type, ...]) -> bool:
    """``value`` is an instance or a subclass of one of the real asgiref classes."""
    try:
        return isinstance(value, classes) or (
            isinstance(value, type) and issubclass(value, classes)
        )
    except TypeError:  # a generic alias and the like: neither
        return False


# Stands in the plan for the alias's own package object (``asgiref`` itself),
# which exists only once the real modules have left ``sys.modules``.
_PACKAGE = object()


def _counterpart(name: str, attribute: str | None) -> Any:
    """asgibridge's object for real ``name.attribute`` (the module itself when None)."""
    short = name.partition(".")[2]
    if not short and attribute is None:
        return _PACKAGE
    module = importlib.import_module(f"asgibridge.{short}" if short else "asgibridge")
    return module if attribute is None else getattr(module, attribute)


def _plan(
    real: dict[str, ModuleType], aliased: Iterable[str]
) -> list[tuple[dict[str, Any], str, Any]] | None:
    """The rebinds to make (namespace, key, new value), or None when it is not safe."""
    aliased_names = {"asgiref", *(f"asgiref.{n}" for n in aliased)}
    owned = _own_objects(real)
    classes = _instance_checkable(real)
    modules_by_id = {id(m): n for n, m in real.items()}
    plan: list[tuple[dict[str, Any], str, Any]] = []
    for name, module in list(sys.modules.items()):
        if module is None or name.partition(".")[0] in ("asgiref", "asgibridge"):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            if id(value) in modules_by_id:
                real_name = modules_by_id[id(value)]
                if real_name not in aliased_names:
                    return None
                plan.append((namespace, key, _counterpart(real_name, None)))
            elif id(value) in owned:
                real_name, attribute = owned[id(value)]
                if real_name not in aliased_names:
                    return None
                try:
                    plan.append((namespace, key, _counterpart(real_name, attribute)))
                except AttributeError:
                    return None
            elif classes and _uses(value, classes):
                return None
    return plan


def take_over(
    foreign: Iterable[str], aliased: Iterable[str], package: Callable[[], ModuleType]
) -> bool:
    """Replace the loaded real asgiref modules ``foreign`` when that is safe (see above).

    Args:
        foreign: the ``asgiref*`` names in ``sys.modules``.
        aliased: the submodule names ``install_as_asgiref()`` aliases.
        package: makes the alias's ``asgiref`` package object (called once the
            real modules are gone); references to the real top-level module
            are rebound to it, so they keep seeing asgiref's version.

    Returns:
        True when the real modules are gone from ``sys.modules`` and every
        reference found points to asgibridge's counterpart; False when nothing
        was changed (the real asgiref is in use, or held in a way that cannot
        be rebound).
    """
    real = {name: sys.modules[name] for name in foreign if sys.modules.get(name) is not None}
    if not real or not _untouched(real):
        return False
    plan = _plan(real, tuple(aliased))
    if plan is None:
        return False
    holders = sorted({str(ns.get("__name__", "?")) for ns, _, _ in plan})
    for namespace, key, value in plan:
        if value is not _PACKAGE:
            namespace[key] = value
    for name in real:
        del sys.modules[name]
    alias_package = package()
    for namespace, key, value in plan:
        if value is _PACKAGE:
            namespace[key] = alias_package
    record(
        "a call of asgibridge.install_as_asgiref() in the program, after taking over the "
        "unused real asgiref modules imported by " + (", ".join(holders) or "nothing")
    )
    return True
