"""Every public name of every asgiref 3.13.0 module exists under the alias, module by module.

The real asgiref (installed in the test environment for these comparisons)
and the alias each run in a fresh interpreter: they cannot share one. The
real side lists each module's underscore-free names and says which are
asgiref's own (defined in asgiref, its logger, or an object of another asgiref
module); the alias side lists ``dir()`` of the same module after
``install_as_asgiref()`` and checks that each re-export is the very object of
the module it comes from (``asgiref.sync.Local is asgiref.local.Local``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import cache
from typing import Any

import pytest

from asgibridge._activation.install import ASGIREF_VERSION

TIMEOUT = 60.0
MODULES = (
    "asgiref",
    "asgiref.sync",
    "asgiref.local",
    "asgiref.server",
    "asgiref.wsgi",
    "asgiref.testing",
    "asgiref.compatibility",
    "asgiref.current_thread_executor",
    "asgiref.timeout",
    "asgiref.typing",
)

# Names asgiref's modules hold only because asgiref imports them for its own code: stdlib
# modules and typing/collections helpers of its annotations. Users could not reasonably use
# them from there (``from asgiref.sync import Optional``), and patching one on the alias
# (``asgiref.sync.threading``) could not change an implementation that is not asgiref's.
# The test checks each is indeed not asgiref's own, and still in asgiref.
STDLIB_IMPORTS: dict[str, frozenset[str]] = {
    "asgiref": frozenset(),
    "asgiref.sync": frozenset(
        {
            "Any",
            "Awaitable",
            "Callable",
            "Coroutine",
            "Dict",
            "Executor",
            "Future",
            "Generic",
            "InvalidStateError",
            "List",
            "Optional",
            "ParamSpec",
            "TYPE_CHECKING",
            "ThreadPoolExecutor",
            "TypeVar",
            "asyncio",
            "contextvars",
            "functools",
            "inspect",
            "os",
            "overload",
            "sys",
            "threading",
            "warnings",
            "weakref",
        }
    ),
    "asgiref.local": frozenset({"Any", "asyncio", "contextvars", "final", "threading"}),
    "asgiref.server": frozenset({"asyncio", "logging", "time", "traceback"}),
    "asgiref.wsgi": frozenset({"SpooledTemporaryFile", "defaultdict", "sys"}),
    "asgiref.testing": frozenset({"asyncio", "contextvars", "time"}),
    "asgiref.compatibility": frozenset({"inspect"}),
    "asgiref.current_thread_executor": frozenset(
        {"Any", "Callable", "Executor", "Future", "ParamSpec", "TypeVar", "deque", "threading"}
    ),
    "asgiref.timeout": frozenset({"Any", "Optional", "TracebackType", "asyncio", "warnings"}),
    "asgiref.typing": frozenset(
        {
            "Any",
            "Awaitable",
            "Callable",
            "Iterable",
            "Literal",
            "NotRequired",
            "Protocol",
            "TypedDict",
            "Union",
        }
    ),
}

REAL = """
import importlib, json, logging, sys, types
import asgiref
modules = json.loads(sys.argv[1])
loaded = {name: importlib.import_module(name) for name in modules}
sync = loaded["asgiref.sync"]
# The coroutine helpers are asgiref.sync's documented API, though on Python 3.12+ they
# are inspect's functions.
helpers = {id(sync.iscoroutinefunction), id(sync.markcoroutinefunction)}
out = {"version": asgiref.__version__, "modules": {}}
for name, module in loaded.items():
    names = {}
    for attr in dir(module):
        if attr.startswith("_"):
            continue
        value = getattr(module, attr)
        if isinstance(value, types.ModuleType):
            own = value.__name__.startswith("asgiref")
        else:
            own = (isinstance(value, logging.Logger)
                   or (getattr(value, "__module__", None) or "").startswith("asgiref")
                   or id(value) in helpers)
        # Where the object lives under the same name (a re-export's home module).
        home = next((other for other, m in loaded.items()
                     if other != name and getattr(m, attr, None) is value
                     and not isinstance(value, types.ModuleType)
                     and (getattr(value, "__module__", None) == other
                          or (other == "asgiref.sync" and id(value) in helpers))), None)
        names[attr] = {"own": own, "home": home,
                       "logger": isinstance(value, logging.Logger)}
    out["modules"][name] = names
print(json.dumps(out))
"""

ALIAS = """
import importlib, json, logging, sys
import asgibridge
asgibridge.install_as_asgiref()
real = json.loads(sys.argv[1])
out = {}
for name, names in real.items():
    module = importlib.import_module(name)
    wrong = []
    for attr, facts in names.items():
        if not hasattr(module, attr):
            continue
        value = getattr(module, attr)
        if facts["home"] and value is not getattr(importlib.import_module(facts["home"]),
                                                  attr, None):
            wrong.append(attr)
        if facts["logger"] and not isinstance(value, logging.Logger):
            wrong.append(attr)
    out[name] = {"served_by": module.__name__, "names": dir(module), "not_the_same": wrong}
print(json.dumps(out))
"""


def run_python(code: str, argument: Any) -> Any:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), json.dumps(argument)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@cache
def sides() -> tuple[dict[str, Any], dict[str, Any]]:
    real = run_python(REAL, list(MODULES))
    if real["version"] != ASGIREF_VERSION:
        pytest.skip(
            f"the alias provides asgiref {ASGIREF_VERSION}'s names; asgiref "
            f"{real['version']} is installed on this Python (3.13 needs Python 3.11+)"
        )
    alias = run_python(ALIAS, real["modules"])
    return real["modules"], alias


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_of_asgirefs_module_exists_under_the_alias(module: str) -> None:
    real, alias = sides()
    missing = set(real[module]) - set(alias[module]["names"])
    assert missing <= STDLIB_IMPORTS[module], sorted(missing - STDLIB_IMPORTS[module])
    assert alias[module]["not_the_same"] == []
    expected = "asgibridge" if module == "asgiref" else f"asgibridge.{module[8:]}"
    assert alias[module]["served_by"] in (expected, "asgiref")


@pytest.mark.parametrize("module", MODULES)
def test_only_stdlib_and_typing_imports_are_listed_as_allowed(module: str) -> None:
    real, _ = sides()
    listed = STDLIB_IMPORTS[module]
    assert listed <= set(real[module])  # nothing stale
    assert [name for name in sorted(listed) if real[module][name]["own"]] == []
