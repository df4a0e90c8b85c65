"""One runtime under ``install_as_asgiref()``: ``asgiref.X`` is the module ``asgibridge.X``.

Every check runs in a fresh interpreter (this one already imported the real
asgiref, installed for the comparisons, and has a runtime with threads); the
child prints one JSON line. The real asgiref being installed makes the checks
stronger: it is on ``sys.path``, and must still never load.
"""

from __future__ import annotations

from subprocesses import run_python


def test_every_public_module_is_one_object_under_both_names() -> None:
    # asgibridge's own modules first, through asgiref's name (the way code written for
    # "asgiref" with asgibridge's extras imports them), then the rest.
    result = run_python(
        """
        import importlib, json, os, pkgutil, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        public = sorted(m.name for m in pkgutil.iter_modules(asgibridge.__path__)
                        if not m.name.startswith("_"))
        first = ["lifespan", "validation", "exceptions", "instrumentation"]
        order = first + [n for n in public if n not in first]
        different = [n for n in order
                     if importlib.import_module("asgiref." + n)
                     is not importlib.import_module("asgibridge." + n)]
        by_file = {}
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if path and ("asgiref" in name or "asgibridge" in name):
                by_file.setdefault(os.path.realpath(path), set()).add(id(module))
        print(json.dumps({
            "public": public,
            "different": different,
            "files_run_twice": [p for p, ids in by_file.items() if len(ids) > 1],
            "asgiref_internals": [n for n in sys.modules if n.startswith("asgiref._")],
            "real_asgiref": [n for n, m in sys.modules.items() if n.startswith("asgiref")
                             and not (m.__name__.startswith("asgibridge") or n == "asgiref")],
            "own_names": [n for n in public
                          if sys.modules["asgibridge." + n].__name__ != "asgibridge." + n
                          or sys.modules["asgibridge." + n].__spec__.name != "asgibridge." + n],
        }))
        """
    )
    assert {"lifespan", "validation", "exceptions", "instrumentation", "sync"} <= set(
        result["public"]
    )
    assert result["different"] == []
    assert result["files_run_twice"] == []
    assert result["asgiref_internals"] == []
    assert result["real_asgiref"] == []
    assert result["own_names"] == []


def test_an_error_class_reached_through_the_alias_catches_what_the_bridge_raises() -> None:
    result = run_python(
        """
        import asyncio, json
        import asgibridge
        asgibridge.install_as_asgiref()
        import asgiref.exceptions
        from asgiref.sync import async_to_sync

        async def coro():
            return 1

        async def main():
            try:
                async_to_sync(coro)()
            except asgiref.exceptions.AsyncToSyncInLoopError:
                return "caught"
            return "not caught"

        print(json.dumps(asyncio.run(main())))
        """
    )
    assert result == "caught"


def test_the_alias_loads_lazily_and_imports_nothing_of_the_bridge_up_front() -> None:
    result = run_python(
        """
        import json, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        before = sorted(n for n in sys.modules if n.startswith("asgiref"))
        bridge_loaded = "asgibridge.sync" in sys.modules
        import asgiref
        from asgiref import sync
        print(json.dumps({
            "before": before,
            "bridge_loaded": bridge_loaded,
            "from_import": sync is sys.modules["asgibridge.sync"],
            "attribute": asgiref.local is sys.modules["asgibridge.local"],
            "after": sorted(n for n in sys.modules if n.startswith("asgiref")),
        }))
        """
    )
    assert result == {
        "before": ["asgiref"],
        "bridge_loaded": False,
        "from_import": True,
        "attribute": True,  # `import asgiref; asgiref.local` works without importing it
        "after": ["asgiref", "asgiref.local", "asgiref.sync"],
    }


def test_asgiref_is_a_package_of_its_own_with_asgirefs_version() -> None:
    result = run_python(
        """
        import importlib.metadata, json
        import asgibridge
        asgibridge.install_as_asgiref()
        import asgiref
        from asgibridge._activation.install import ASGIREF_VERSION
        print(json.dumps({
            "asgiref": asgiref.__version__,
            "declared": ASGIREF_VERSION,
            "asgibridge": asgibridge.__version__,
            "distribution": importlib.metadata.version("asgibridge"),
            "distinct": asgiref is not asgibridge,
            "api": asgiref.configure is asgibridge.configure
                and asgiref.install_as_asgiref is asgibridge.install_as_asgiref,
            "dir": sorted({"sync", "local", "configure", "__version__"} - set(dir(asgiref))),
            "file": hasattr(asgiref, "__file__"),
            "missing": [repr(e) for e in [None] if not hasattr(asgiref, "nothing")],
        }))
        """
    )
    assert result["asgiref"] == result["declared"] == "3.13.0"
    assert result["asgibridge"] == result["distribution"] != result["asgiref"]
    assert result["distinct"] is True
    assert result["api"] is True
    assert result["dir"] == []
    assert result["file"] is False  # no source file of its own: nothing runs twice
    assert result["missing"] == ["None"]


def test_modules_the_alias_does_not_serve_fail_as_with_asgiref() -> None:
    result = run_python(
        """
        import importlib, json
        import asgibridge
        asgibridge.install_as_asgiref()
        out = {}
        for name in ("asgiref._runtime", "asgiref._errors", "asgiref.no_such_module",
                     "asgiref.sync.inner"):
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                out[name] = [exc.name, str(exc)]
            else:
                out[name] = None
        print(json.dumps(out))
        """
    )
    assert result == {
        "asgiref._runtime": ["asgiref._runtime", "No module named 'asgiref._runtime'"],
        "asgiref._errors": ["asgiref._errors", "No module named 'asgiref._errors'"],
        "asgiref.no_such_module": [
            "asgiref.no_such_module",
            "No module named 'asgiref.no_such_module'",
        ],
        "asgiref.sync.inner": [
            "asgiref.sync.inner",
            "No module named 'asgiref.sync.inner'; 'asgiref.sync' is not a package",
        ],
    }


def test_reload_under_either_name_reruns_the_one_module() -> None:
    result = run_python(
        """
        import importlib, json, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        import asgiref, asgiref.compatibility
        module = sys.modules["asgibridge.compatibility"]
        del module.guarantee_single_callable  # only a re-run of its source brings it back
        reloaded = importlib.reload(asgiref.compatibility)
        reran_by_alias = hasattr(module, "guarantee_single_callable")
        del module.guarantee_single_callable
        again = importlib.reload(module)
        package = importlib.reload(asgiref)
        print(json.dumps({
            "same_object": reloaded is module and again is module
                and sys.modules["asgiref.compatibility"] is module,
            "reran": [reran_by_alias, hasattr(module, "guarantee_single_callable")],
            "name": [module.__name__, module.__spec__.name],
            "package": package is sys.modules["asgiref"] and package.__version__ == "3.13.0"
                and package.compatibility is module,
        }))
        """
    )
    assert result == {
        "same_object": True,
        "reran": [True, True],  # its source ran again, as asgibridge.compatibility
        "name": ["asgibridge.compatibility", "asgibridge.compatibility"],
        "package": True,
    }


def test_a_hooking_finder_set_up_before_install_patches_the_shared_module() -> None:
    """New Relic's shape: a finder first in sys.meta_path wraps the loader of asgiref.sync."""
    result = run_python(
        """
        import importlib.abc, importlib.util, json, sys
        seen = []

        class HookingLoader(importlib.abc.Loader):
            def __init__(self, loader):
                self.loader = loader
            def create_module(self, spec):
                return self.loader.create_module(spec)
            def exec_module(self, module):
                self.loader.exec_module(module)
                seen.append(module.__name__)  # agents find their hooks by this name
                module.patched_by_agent = True

        class HookingFinder(importlib.abc.MetaPathFinder):
            busy = False
            def find_spec(self, fullname, path=None, target=None):
                if fullname != "asgiref.sync" or self.busy:
                    return None
                self.busy = True
                try:
                    spec = importlib.util.find_spec(fullname)
                finally:
                    self.busy = False
                spec.loader = HookingLoader(spec.loader)
                return spec

        sys.meta_path.insert(0, HookingFinder())
        import asgibridge
        asgibridge.install_as_asgiref()
        import asgiref.sync
        import asgibridge.sync
        print(json.dumps({
            "hook_saw": seen,
            "patched": getattr(asgibridge.sync, "patched_by_agent", False),
            "same": asgiref.sync is asgibridge.sync,
            "names_back": [asgibridge.sync.__name__, asgibridge.sync.__spec__.name],
        }))
        """
    )
    assert result == {
        "hook_saw": ["asgiref.sync"],
        "patched": True,
        "same": True,
        "names_back": ["asgibridge.sync", "asgibridge.sync"],
    }


def test_install_is_idempotent_and_still_refuses_a_real_asgiref() -> None:
    result = run_python(
        """
        import json, sys
        import asgibridge
        asgibridge.install_as_asgiref()
        package = sys.modules["asgiref"]
        asgibridge.install_as_asgiref()
        finders = [type(f).__name__ for f in sys.meta_path].count("AsgirefFinder")
        print(json.dumps({"same": sys.modules["asgiref"] is package, "finders": finders}))
        """
    )
    assert result == {"same": True, "finders": 1}


def test_a_hook_that_raises_leaves_the_module_its_own_name() -> None:
    result = run_python(
        """
        import importlib.abc, importlib.util, json, sys

        class FailingLoader(importlib.abc.Loader):
            def __init__(self, loader):
                self.loader = loader
            def create_module(self, spec):
                return self.loader.create_module(spec)
            def exec_module(self, module):
                self.loader.exec_module(module)
                raise RuntimeError("the agent's hook failed")

        class FailingFinder(importlib.abc.MetaPathFinder):
            busy = False
            used = False
            def find_spec(self, fullname, path=None, target=None):
                if fullname != "asgiref.local" or self.busy or self.used:
                    return None
                self.busy = self.used = True
                try:
                    spec = importlib.util.find_spec(fullname)
                finally:
                    self.busy = False
                spec.loader = FailingLoader(spec.loader)
                return spec

        sys.meta_path.insert(0, FailingFinder())
        import asgibridge
        asgibridge.install_as_asgiref()
        try:
            import asgiref.local
        except RuntimeError as exc:
            failed = str(exc)
        import asgiref.local  # the hook fires once; the second import goes through
        own = sys.modules["asgibridge.local"]
        print(json.dumps({
            "failed": failed,
            "same": asgiref.local is own,
            "names": [own.__name__, own.__spec__.name],
        }))
        """
    )
    assert result == {
        "failed": "the agent's hook failed",
        "same": True,
        "names": ["asgibridge.local", "asgibridge.local"],
    }
