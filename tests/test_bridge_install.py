"""``install_as_asgiref()`` and what importing asgibridge starts, in fresh interpreters.

Both need a clean ``sys.modules``: the real asgiref is installed in this
environment and other tests import it in-process, and the runtime of this
process already has threads. Each check runs in a subprocess that prints one
JSON line.
"""

from __future__ import annotations

from subprocesses import run_python


def test_install_makes_asgiref_modules_the_same_objects() -> None:
    result = run_python(
        """
        import json, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        asgibridge.install_as_asgiref()  # idempotent
        import asgiref
        import asgiref.sync, asgiref.compatibility, asgiref.current_thread_executor
        import asgiref.timeout
        from asgiref.sync import async_to_sync, sync_to_async
        import asgibridge.sync, asgibridge.compatibility, asgibridge.timeout
        import asgibridge.current_thread_executor

        async def double(x):
            return 2 * x

        print(json.dumps({
            "package": asgiref is not asgibridge and asgiref.__version__ == "3.13.0",
            "sync": asgiref.sync is asgibridge.sync,
            "compat": asgiref.compatibility is asgibridge.compatibility,
            "cte": asgiref.current_thread_executor is asgibridge.current_thread_executor,
            "timeout": asgiref.timeout is asgibridge.timeout,
            "names": async_to_sync is asgibridge.sync.async_to_sync
                and sync_to_async is asgibridge.sync.sync_to_async,
            "works": async_to_sync(double)(21),
            "real": [n for n, m in sys.modules.items() if n.startswith("asgiref")
                     and "asgibridge" not in (getattr(m, "__file__", None) or "asgibridge")],
        }))
        """
    )
    assert result == {
        "package": True,
        "sync": True,
        "compat": True,
        "cte": True,
        "timeout": True,
        "names": True,
        "works": 42,
        "real": [],
    }


def test_install_refuses_when_the_real_asgiref_is_in_use() -> None:
    result = run_python(
        """
        import json, sys
        import asgiref.sync
        from asgiref.local import Local
        held = Local()  # the real asgiref is in use: no take-over (see test_activation)
        real = sys.modules["asgiref"]
        import asgibridge
        from asgibridge.exceptions import AsgirefAlreadyImportedError
        try:
            asgibridge.install_as_asgiref()
        except ImportError as exc:
            error = (type(exc) is AsgirefAlreadyImportedError, str(exc), exc.__notes__)
        else:
            error = None
        print(json.dumps({
            "error": error,
            "untouched": sys.modules["asgiref"] is real
                and sys.modules["asgiref.sync"] is asgiref.sync,
            "no_finder": not any(type(f).__name__ == "AsgirefFinder" for f in sys.meta_path),
        }))
        """
    )
    assert result["untouched"] is True
    assert result["no_finder"] is True
    is_ours, message, [hint] = result["error"]
    assert is_ours is True
    assert "asgiref.sync" in message
    assert "before anything imports asgiref" in hint


def test_importing_every_public_module_starts_nothing() -> None:
    result = run_python(
        """
        import asyncio, concurrent.futures, gc
        import concurrent.futures.thread as cft
        import importlib, json, pkgutil, threading
        import asgibridge
        import asgibridge._runtime
        names = sorted(
            m.name for m in pkgutil.iter_modules(asgibridge.__path__)
            if not m.name.startswith("_")
        )
        for name in names:
            importlib.import_module(f"asgibridge.{name}")
        for m in pkgutil.iter_modules(asgibridge._runtime.__path__):
            importlib.import_module(f"asgibridge._runtime.{m.name}")
        from asgibridge._runtime import _state
        objects = gc.get_objects()
        print(json.dumps({
            "modules": names,
            "threads": threading.active_count(),
            "sync_worker": _state.sync_worker is None,
            "pools": _state.pool is None and _state.sticky_pool is None,
            "loops": len(_state.loop_threads),
            "executor_threads": len(cft._threads_queues),
            "event_loops_built": sum(
                isinstance(o, asyncio.AbstractEventLoop) for o in objects
            ),
            "executors_built": sum(isinstance(o, concurrent.futures.Executor) for o in objects),
        }))
        """
    )
    assert {"sync", "compatibility", "current_thread_executor", "timeout", "exceptions"} <= set(
        result.pop("modules")
    )
    assert result == {
        "threads": 1,
        "sync_worker": True,
        "pools": True,
        "loops": 0,
        "executor_threads": 0,
        "event_loops_built": 0,
        "executors_built": 0,
    }
