"""asgibridge.local.Local is a plain object, as asgiref's is (issue 15 §2), and reads stay fast.

Generic code (serialisers, debug toolbars, loggers, ``copy``, ``pickle``)
treats a Local as asgiref's: not a container, not copyable, not picklable.
The last tests cover the layout that keeps reads specializable on 3.12+
(per-name properties on a shared class) and its overflow route (names that
cannot be properties).
"""

from __future__ import annotations

import contextvars
import copy
import dis
import gc
import json
import pickle
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest

import asgibridge._runtime._local as local_module
from asgibridge.exceptions import AsgiBridgeError, LocalCopyError, LocalReservedNameError
from asgibridge.local import Local

JOIN = 10.0
KINDS = [pytest.param(False, id="default"), pytest.param(True, id="thread_critical")]

# What generic code does with an object it is handed; asgiref's Local raises
# TypeError for each (it is a plain object holding a lock and ContextVars).
CONTAINER_OPERATIONS: dict[str, Callable[[Any], object]] = {
    "len": len,
    "iter": list,
    "contains": lambda local: 1 in local,
    "index": lambda local: local[0],
    "concatenate": lambda local: local + (),  # noqa: RUF005 (the operator itself is tested)
}
COPY_OPERATIONS: dict[str, Callable[[Any], object]] = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": pickle.dumps,
}


def outcome(operation: Callable[[Any], object], local: Any) -> str:
    """``returns <type>`` or ``raises <built-in exception class>``: what the repro compares."""
    try:
        result = operation(local)
    except Exception as exc:
        builtin = next(c for c in type(exc).__mro__ if c.__module__ == "builtins")
        return f"raises {builtin.__name__}"
    return f"returns {type(result).__name__}"


@pytest.mark.parametrize("critical", KINDS)
def test_is_not_a_tuple(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.x = 1
    assert not isinstance(local, tuple)
    assert type(local).__mro__[-1] is object
    assert tuple not in type(local).__mro__


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.parametrize("operation", CONTAINER_OPERATIONS.values(), ids=CONTAINER_OPERATIONS)
def test_container_operations_raise_type_error(
    critical: bool, operation: Callable[[Any], object]
) -> None:
    local = Local(thread_critical=critical)
    local.x = 1
    with pytest.raises(TypeError):
        operation(local)
    assert local.x == 1


@pytest.mark.parametrize("critical", KINDS)
@pytest.mark.parametrize("operation", COPY_OPERATIONS.values(), ids=COPY_OPERATIONS)
def test_copy_and_pickle_raise_local_copy_error(
    critical: bool, operation: Callable[[Any], object]
) -> None:
    local = Local(thread_critical=critical)
    local.x = 1
    with pytest.raises(LocalCopyError, match="cannot pickle 'Local' object") as caught:
        operation(local)
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, AsgiBridgeError)
    empty = Local(thread_critical=critical)  # even with nothing stored yet
    with pytest.raises(LocalCopyError):
        operation(empty)


@pytest.mark.parametrize("critical", KINDS)
def test_weakly_referenceable_like_asgiref(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.x = 1
    ref = weakref.ref(local)
    assert ref() is local
    del local
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        gc.collect()  # free-threaded builds may defer the free (see test_local_memory)
    assert ref() is None  # freed by refcounting: no cycle holds it


_COMPARE = r"""
import json, sys
if sys.argv[1] == "bridge":
    import asgibridge
    asgibridge.install_as_asgiref()
from asgiref.local import Local
sys.path.insert(0, sys.argv[2])
from test_local_plain_object import CONTAINER_OPERATIONS, COPY_OPERATIONS, outcome
out = {}
for critical in (False, True):
    local = Local(thread_critical=critical)
    local.x = 1
    out[f"{critical} tuple"] = isinstance(local, tuple)
    for name, op in {**CONTAINER_OPERATIONS, **COPY_OPERATIONS}.items():
        out[f"{critical} {name}"] = outcome(op, local)
print(json.dumps(out))
"""


def _outcomes(mode: str) -> dict[str, object]:
    tests_dir = str(local_module.__file__).rsplit("/src/", 1)[0] + "/tests"
    proc = subprocess.run(
        [sys.executable, "-c", _COMPARE, mode, tests_dir],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_same_outcomes_as_the_real_asgiref() -> None:
    # The reference is asgiref 3.13 (3.10's last asgiref, 3.12, recurses on copy).
    pytest.importorskip("asgiref.local", reason="the real asgiref is the reference here")
    if tuple(int(part) for part in metadata.version("asgiref").split(".")[:2]) < (3, 13):
        pytest.skip("asgiref 3.13 is the reference; this Python has an older one")
    assert _outcomes("bridge") == _outcomes("asgiref")


# -- the layout that keeps reads fast -----------------------------------------------


@pytest.mark.parametrize("critical", KINDS)
def test_all_locals_of_a_kind_share_one_class(critical: bool) -> None:
    # One class per kind: call sites reading different Locals stay monomorphic.
    assert type(Local(thread_critical=critical)) is type(Local(thread_critical=critical))


@pytest.mark.parametrize("critical", KINDS)
def test_reads_need_no_attribute_hook(critical: bool) -> None:
    # No __getattribute__ / __getattr__: 3.12+ can specialize `local.x` to
    # LOAD_ATTR_PROPERTY (a hook of either kind would stop it).
    cls = type(Local(thread_critical=critical))
    assert cls.__getattribute__ is object.__getattribute__
    assert not hasattr(cls, "__getattr__")


def _read(local: Any) -> object:
    return local.specialized_name


@pytest.mark.skipif(
    not (3, 12) <= sys.version_info[:2] <= (3, 14) or sys.implementation.name != "cpython",
    reason="the specialized instruction's name is CPython 3.12-3.14's",
)
@pytest.mark.skipif(sys.gettrace() is not None, reason="a tracer is active (coverage)")
@pytest.mark.parametrize("critical", KINDS)
def test_reads_are_specialized_on_3_12_to_3_14(
    critical: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (The suite may have used up the class's property budget with other names.)
    monkeypatch.setattr(local_module, "_MAX_PROPERTIES", sys.maxsize)
    local = Local(thread_critical=critical)
    local.specialized_name = 1
    for _ in range(1000):
        _read(local)
    names = {ins.opname for ins in dis.get_instructions(_read, adaptive=True)}  # type: ignore[call-arg]
    assert "LOAD_ATTR_PROPERTY" in names


@pytest.mark.parametrize("critical", KINDS)
def test_a_name_set_on_one_local_is_unset_on_another(critical: bool) -> None:
    one, other = Local(thread_critical=critical), Local(thread_critical=critical)
    one.shared_name = 1
    assert not hasattr(other, "shared_name")
    assert getattr(other, "shared_name", "default") == "default"
    with pytest.raises(AttributeError, match="'shared_name'") as caught:
        other.shared_name
    assert caught.value.name == "shared_name"
    assert caught.value.obj is other
    with pytest.raises(AttributeError):
        del other.shared_name
    assert "shared_name" not in dir(other)


@pytest.mark.parametrize("critical", KINDS)
def test_storage_slot_names_are_reserved(critical: bool) -> None:
    local = Local(thread_critical=critical)
    for name in ("_asgibridge_vars", "_asgibridge_tl"):
        with pytest.raises(LocalReservedNameError, match=f"Cannot set attribute '{name}'"):
            setattr(local, name, 1)
    local.x = 1
    assert local.x == 1


# -- names that cannot be properties -------------------------------------------------


def _check_namespace(local: Local, names: list[str]) -> None:
    """Set, read, shadow in a copied context, hide from another thread, delete."""
    for n, name in enumerate(names):
        setattr(local, name, n)
    assert [getattr(local, name) for name in names] == list(range(len(names)))
    assert set(names) <= set(dir(local))

    def in_copy() -> list[object]:
        setattr(local, names[0], "copy")
        return [getattr(local, name) for name in names]

    assert contextvars.copy_context().run(in_copy)[0] == "copy"
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.extend(hasattr(local, n) for n in names))
    thread.start()
    thread.join(JOIN)
    assert seen == [False] * len(names)
    for name in names:
        delattr(local, name)
        assert not hasattr(local, name)
        with pytest.raises(AttributeError, match=repr(name)):
            getattr(local, name)


@pytest.mark.parametrize("critical", KINDS)
def test_dunder_names_are_served_by_the_overflow_class(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.plain = "p"
    local.__custom__ = "mine"  # no property: the class may define dunders
    assert isinstance(local, Local)
    assert local.plain == "p"
    assert local.__custom__ == "mine"
    assert local.__doc__ == type(local).__doc__  # the class's own dunders win, as in asgiref
    _check_namespace(local, ["__one__", "__two__", "plain2"])
    fresh = Local(thread_critical=critical)
    assert not hasattr(fresh, "__custom__")
    assert type(fresh) is not type(local)  # only the instance that needed it moved


@pytest.mark.parametrize("critical", KINDS)
def test_names_beyond_the_property_cap_still_work(
    critical: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_module, "_MAX_PROPERTIES", 0)  # every new name overflows
    local = Local(thread_critical=critical)
    _check_namespace(local, [f"capped_{critical}_{i}" for i in range(5)])


@pytest.mark.asyncio
@pytest.mark.parametrize("critical", KINDS)
async def test_overflow_names_in_async_code(critical: bool) -> None:
    local = Local(thread_critical=critical)
    local.__in_task__ = 1
    local.__in_task__ += 1
    assert local.__in_task__ == 2
    del local.__in_task__
    assert getattr(local, "__in_task__", None) is None
    with pytest.raises(AttributeError, match="'__never_set__'") as caught:
        local.__never_set__
    assert caught.value.obj is local
