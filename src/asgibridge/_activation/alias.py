"""The import machinery behind `install_as_asgiref`: ``asgiref.X`` *is* ``asgibridge.X``.

A meta-path finder answers every ``import asgiref...``:

- ``asgiref`` itself is a small package object of its own (`AsgirefPackage`),
  not the ``asgibridge`` package: its ``__version__`` is the asgiref version
  whose behaviour asgibridge provides (code checks it), while
  ``asgibridge.__version__`` stays asgibridge's. Its other attributes reach
  asgibridge's modules (``asgiref.sync``) and top-level API lazily.
- ``asgiref.X`` (X public, at any depth) loads as the module object
  ``asgibridge.X``, imported on first use: never a second copy of a source
  file, so one runtime with one state. Names with a private part
  (``asgiref._runtime``) and names asgibridge lacks are not found, as with
  the real asgiref.

Why a finder, not ``sys.modules`` entries: imports keep passing through the
finders, so an APM agent's hooking finder placed in front (New Relic wraps the
loader of ``asgiref.sync`` and patches the module once it has loaded) fires on
the very object, whenever the agent was initialised. The finder sits just
before the path-based finder: after every hooking finder, before the real
asgiref on ``sys.path``.

The import system stamps ``__spec__`` (and, for a hooking loader that names
its hooks by ``module.__name__``, we stamp ``__name__``) with the alias on the
shared module object; both are put back as soon as the load is over (at once
when no loader wraps ours, else when the import system binds the module on
its parent), so ``asgibridge.X`` keeps its own name and ``importlib.reload``
re-runs its source under it.

Imports: this module loads with every ``install_as_asgiref()``, so it takes
only what the import system itself has loaded. The loaders and the finder
follow importlib's protocols without subclassing ``importlib.abc`` (which
loads ``importlib.resources`` and with it tempfile, shutil, pathlib, ...
before Python 3.14); ``pkgutil`` is imported by the one rare path that lists
modules.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.abc import Loader as _Loader
else:
    _Loader = object  # importlib asks a loader for its methods only (see above)

__all__ = ("ALIAS", "AsgirefFinder", "AsgirefPackage", "install_finder", "is_ours")

ALIAS = "asgiref"
_PREFIX = ALIAS + "."
_TARGET = "asgibridge"


def is_ours(module: object) -> bool:
    """True for what the alias serves (asgibridge's modules, the `AsgirefPackage`).

    The one test of "is this ``sys.modules["asgiref..."]`` entry the real asgiref?":
    the alias package is named ``asgiref`` and has no file, so neither the name
    nor the file alone tells.
    """
    if isinstance(module, AsgirefPackage):
        return True
    name = getattr(module, "__name__", None) or ""
    return name == _TARGET or name.startswith(_TARGET + ".")


def _public_modules() -> frozenset[str]:
    """asgibridge's public module names (what ``asgiref.<name>`` may reach)."""
    import pkgutil  # only for a name the package object lacks, or dir()

    package = importlib.import_module(_TARGET)
    return frozenset(
        m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
    )


class AsgirefPackage(ModuleType):
    """``sys.modules["asgiref"]`` under the alias: asgiref's version, asgibridge's modules."""

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not in the namespace (PEP 562 semantics for a subclass).
        if not name.startswith("_"):
            package = importlib.import_module(_TARGET)
            if name in package.__all__:
                return getattr(package, name)
            if name in _public_modules():
                return importlib.import_module(_PREFIX + name)
        raise AttributeError(f"module {ALIAS!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        package = importlib.import_module(_TARGET)
        return sorted(set(self.__dict__) | set(package.__all__) | _public_modules())

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if isinstance(value, ModuleType):
            # The import system binds a loaded submodule on its parent: its load is over.
            for finder in sys.meta_path:
                if isinstance(finder, AsgirefFinder):
                    finder.restore(_PREFIX + name)


class _PackageLoader(_Loader):
    """Makes the `AsgirefPackage` (nothing of the real asgiref runs)."""

    def __init__(self, version: str) -> None:
        self.version = version

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return AsgirefPackage(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        module.__doc__ = (
            f"asgiref {self.version}'s modules, served by asgibridge (install_as_asgiref())."
        )
        module.__version__ = self.version  # type: ignore[attr-defined]


class _AliasLoader(_Loader):
    """Loads ``asgiref.X`` as the module object ``asgibridge.X`` (imported under its own name)."""

    def __init__(self, finder: AsgirefFinder, alias: str, target: str) -> None:
        self.finder = finder
        self.alias = alias
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.finder.pending[self.alias] = (module, module.__spec__, module.__name__)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Nothing to run: the module ran once, as asgibridge.X.
        own = importlib.import_module(self.target)
        if module is not own:
            # A wrapping loader made a module of its own instead of asking ours: the
            # import system returns what sys.modules holds once this returns.
            sys.modules[self.alias] = own
            return
        spec = module.__spec__
        if spec is not None and spec.loader is not self and self.alias.count(".") == 1:
            # A hooking loader wraps ours and looks its hooks up by module.__name__
            # once this returns; AsgirefPackage.__setattr__ (the import system binds
            # the module on its parent next) puts the name and spec back.
            module.__name__ = self.alias
        else:
            self.finder.restore(self.alias)


class AsgirefFinder:
    """Finds ``asgiref`` and ``asgiref.X`` (X public) as asgibridge's objects."""

    def __init__(self, version: str) -> None:
        self.version = version
        # alias -> (module, its own spec, its own name) while its load is in flight.
        self.pending: dict[str, tuple[ModuleType, Any, str]] = {}

    def restore(self, alias: str) -> None:
        """Give the module loaded as ``alias`` its own ``__spec__`` and ``__name__`` back."""
        entry = self.pending.pop(alias, None)
        if entry is not None:
            module, spec, name = entry
            module.__spec__, module.__name__ = spec, name

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == ALIAS:
            return importlib.machinery.ModuleSpec(
                ALIAS, _PackageLoader(self.version), origin="served by asgibridge", is_package=True
            )
        if not fullname.startswith(_PREFIX):
            return None
        # A load of this alias that failed half-way (a hook raised) left its stamp: undo it.
        self.restore(fullname)
        rest = fullname[len(_PREFIX) :]
        if any(part.startswith("_") for part in rest.split(".")):
            return None  # asgibridge's internals are not asgiref's modules
        name = f"{_TARGET}.{rest}"
        try:
            found = importlib.util.find_spec(name)
        except ImportError:
            return None
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname,
            _AliasLoader(self, fullname, name),
            is_package=found.submodule_search_locations is not None,
        )


def install_finder(version: str) -> bool:
    """Put one `AsgirefFinder` just before the path-based finder; False if one is there."""
    meta_path = sys.meta_path
    if any(isinstance(f, AsgirefFinder) for f in meta_path):
        return False
    position = next(
        (i for i, f in enumerate(meta_path) if f is importlib.machinery.PathFinder),
        len(meta_path),
    )
    meta_path.insert(position, AsgirefFinder(version))
    return True
