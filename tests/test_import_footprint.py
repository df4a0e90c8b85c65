"""What a Django process loads: ``import asgibridge``, ``install_as_asgiref()``, ``asgiref.sync``.

Django imports ``asgiref.sync`` and ``asgiref.local`` and nothing else of
asgiref on its request path; everything asgibridge adds beyond that (the
validator, the test clients, the CLI, the WSGI adapters, hang reports, the
take-over, ...) loads on first use. Each check runs in a fresh interpreter
(this one has loaded everything) that prints one JSON line.
"""

from __future__ import annotations

from subprocesses import run_python

# Measured on CPython 3.11 to 3.14: 35 (was 40 before the rare paths became lazy;
# real asgiref loads 4). A new module on this path should be a decision.
MAX_ASGIBRIDGE_MODULES = 35

# asgibridge modules that serve rare paths only: none may load on Django's.
RARE = (
    "asgibridge._asgi",  # the validator, test clients, WSGI adapters, check, server, ...
    "asgibridge._cli",
    "asgibridge.validation",
    "asgibridge.testing",
    "asgibridge.testclient",
    "asgibridge.wsgi",
    "asgibridge.asgi_to_wsgi",
    "asgibridge.server",
    "asgibridge.typing",
    "asgibridge.instrumentation",
    "asgibridge.iterators",
    "asgibridge.cancellation",
    "asgibridge._moved",  # names that moved out of asgiref's modules
    "asgibridge._activation.takeover",  # only when the real asgiref was imported first
    "asgibridge._activation.reasons",  # only for the zero-edit activation paths
    "asgibridge._activation.doctor",
    "asgibridge._activation.launcher",
    "asgibridge._runtime._lifecycle",  # configure(), shutdown(), stats
    "asgibridge._runtime.extras",  # streaming iterators, cancellation, timeout
    "asgibridge._runtime.bridge._deadlines",  # hang deadlines of sync_to_async
    "asgibridge._runtime.threads._thread_scopes",  # ThreadSensitiveContext (ASGI only)
    "asgibridge._runtime.threads._portal",
    "asgibridge._runtime.threads._adapter_pools",
    "asgibridge._runtime.threads._tasks",
)

# Standard-library modules asgibridge once pulled in beyond real asgiref's set.
STDLIB = (
    "importlib.abc",
    "importlib.resources",
    "pkgutil",
    "tempfile",
    "shutil",
    "pathlib",
    "random",
    "bz2",
    "lzma",
    "urllib.parse",
    "ipaddress",
)


DJANGO_PATH = """
    import sys
    before = set(sys.modules)
    import asgibridge
    asgibridge.install_as_asgiref()
    import asgiref.sync, asgiref.local
    added = sorted(set(sys.modules) - before)
    import json
    print(json.dumps(added))
"""


# What asgiref's own imports load on this Python (asyncio and the stdlib modules
# real asgiref imports): a module of STDLIB that they load anyway (3.15's
# ``traceback`` imports ``pathlib``) is not asgibridge's doing.
ASGIREF_STDLIB = """
    import sys
    before = set(sys.modules)
    import asyncio, concurrent.futures, contextvars, functools, inspect, os, threading, weakref
    import json
    print(json.dumps(sorted(set(sys.modules) - before)))
"""


def extra_stdlib(added: list[str]) -> list[str]:
    """The STDLIB modules in ``added`` that asgiref's own imports do not load here."""
    baseline = set(run_python(ASGIREF_STDLIB))
    return [name for name in added if name in STDLIB and name not in baseline]


def is_rare(name: str) -> bool:
    return any(name == rare or name.startswith(rare + ".") for rare in RARE)


def test_the_django_path_loads_no_rare_module() -> None:
    added = run_python(DJANGO_PATH)
    assert {"asgibridge.sync", "asgibridge.local"} <= set(added)  # the path ran
    assert [name for name in added if is_rare(name)] == []
    assert extra_stdlib(added) == []


def test_the_start_up_hook_path_loads_no_rare_module() -> None:
    # ASGIBRIDGE_AS_ASGIREF=1: the .pth's finder turns the first ``import asgiref``
    # into the alias (and records why: the one rare module this path needs).
    added = run_python(
        """
        import sys
        before = set(sys.modules)
        import asgiref.sync, asgiref.local
        added = sorted(set(sys.modules) - before)
        import json
        print(json.dumps(added))
        """,
        ASGIBRIDGE_AS_ASGIREF="1",
    )
    assert {"asgibridge.sync", "asgibridge._activation.startup"} <= set(added)
    expected = {"asgibridge._activation.reasons"}
    assert [name for name in added if is_rare(name) and name not in expected] == []
    assert extra_stdlib(added) == []


def test_the_django_path_loads_few_asgibridge_modules() -> None:
    ours = [name for name in run_python(DJANGO_PATH) if name.split(".")[0] == "asgibridge"]
    assert len(ours) <= MAX_ASGIBRIDGE_MODULES, ours


def test_the_lazy_names_load_on_first_use() -> None:
    result = run_python(
        """
        import json, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        import asgiref.sync
        from asgiref.sync import ThreadSensitiveContext, AsyncSingleThreadContext
        scopes = sys.modules["asgibridge._runtime.threads._thread_scopes"]
        star = {}
        exec("from asgiref.sync import *", star)
        print(json.dumps({
            "same": [ThreadSensitiveContext is scopes.ThreadSensitiveContext,
                     AsyncSingleThreadContext is scopes.AsyncSingleThreadContext,
                     asgiref.sync.ThreadSensitiveContext is ThreadSensitiveContext],
            "listed": sorted({"ThreadSensitiveContext", "AsyncSingleThreadContext"}
                             - set(dir(asgiref.sync))),
            "star": sorted(set(asgiref.sync.__all__) - set(star)),
            "module": ThreadSensitiveContext.__module__,
        }))
        """
    )
    assert result == {
        "same": [True, True, True],
        "listed": [],
        "star": [],
        "module": "asgibridge._runtime.threads._thread_scopes",
    }


def test_a_hang_deadline_loads_the_watchdog_on_the_first_traced_call() -> None:
    result = run_python(
        """
        import asyncio, json, sys
        import asgibridge
        asgibridge.configure(hang_timeout=30.0)
        from asgibridge.sync import sync_to_async
        before = "asgibridge._runtime.bridge._deadlines" in sys.modules
        results = [asyncio.run(sync_to_async(len)("abc")) for _ in range(2)]
        after = "asgibridge._runtime.bridge._deadlines" in sys.modules
        print(json.dumps([before, results, after]))
        """
    )
    assert result == [False, [3, 3], True]
