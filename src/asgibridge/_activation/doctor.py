"""``python -m asgibridge doctor``: which package serves ``import asgiref`` here, and why.

Run as its own process it answers for a fresh interpreter with this
environment (it imports ``asgiref`` to find out, which also runs the
``ASGIBRIDGE_AS_ASGIREF`` start-up hook when that is set); run under the
launcher (``python -m asgibridge run -- python -m asgibridge doctor``) or
called as `diagnose` inside an application it reports on that process.

Exit status: 0 when asgibridge serves ``asgiref``; 1 when the real asgiref
does, or when both are loaded (the warning says which modules).
"""

from __future__ import annotations

import importlib
import json
import os
import site
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from types import ModuleType

from .alias import is_ours
from .reasons import current
from .startup import VARIABLE

__all__ = ("PTH_NAME", "Diagnosis", "diagnose", "main")

PTH_NAME = "asgibridge-as-asgiref.pth"
# The values the start-up hook understands (it switches on for the first four only).
_WORDS = ("1", "true", "yes", "on", "0", "false", "no", "off", "")


@dataclass
class Diagnosis:
    """What serves ``asgiref`` in this process (see `diagnose`).

    Attributes:
        served_by: ``"asgibridge"``, ``"asgiref"`` (the real one) or ``"none"``
            (not importable).
        why: the activation path, in words.
        asgibridge_version: asgibridge's own version.
        asgiref_version: ``asgiref.__version__`` as code that reads it sees it.
        real_asgiref_installed: the installed asgiref distribution's version, or None.
        python: the interpreter's version.
        variable: the value of ``ASGIBRIDGE_AS_ASGIREF`` (None: unset).
        startup_hook: the path of the installed ``.pth`` file, or None.
        warnings: problems found (the real asgiref loaded alongside, ...).
    """

    served_by: str
    why: str
    asgibridge_version: str
    asgiref_version: str | None
    real_asgiref_installed: str | None
    python: str
    variable: str | None
    startup_hook: str | None
    warnings: list[str] = field(default_factory=list)


def _site_dirs() -> list[str]:
    dirs = list(getattr(site, "getsitepackages", list)())
    user = getattr(site, "getusersitepackages", None)
    if callable(user) and site.ENABLE_USER_SITE:
        dirs.append(user())
    return dirs


def _startup_hook() -> str | None:
    for directory in _site_dirs():
        path = os.path.join(directory, PTH_NAME)
        if os.path.isfile(path):
            return path
    return None


def _real_modules(bridge: ModuleType) -> list[str]:
    """Names of loaded ``asgiref*`` modules that are not asgibridge's (the real asgiref's)."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if (name == "asgiref" or name.startswith("asgiref."))
        and module is not None
        and not is_ours(module)
    )


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def diagnose() -> Diagnosis:
    """Find out what serves ``asgiref`` (importing it if nothing has yet) and why.

    Example:
        >>> diagnose().served_by in ("asgibridge", "asgiref", "none")  # doctest: +SKIP
        True
    """
    import asgibridge

    imported_before = "asgiref" in sys.modules
    try:
        asgiref = importlib.import_module("asgiref")
    except ImportError:
        asgiref = None
    real = _real_modules(asgibridge)
    warnings: list[str] = []
    if asgiref is not None and is_ours(asgiref):
        served_by = "asgibridge"
        why = current() or "a call of asgibridge.install_as_asgiref() in the program"
        if real:
            warnings.append(
                "the real asgiref was imported as well (" + ", ".join(real) + "): code that "
                "imported it first runs a second bridge runtime; activate asgibridge earlier "
                "(the launcher or ASGIBRIDGE_AS_ASGIREF=1)"
            )
    elif asgiref is None:
        served_by, why = "none", "asgiref is not installed and asgibridge is not activated"
    else:
        served_by = "asgiref"
        if imported_before:
            why = "the real asgiref was imported before any activation"
            warnings.append(
                "the real asgiref was imported first (" + ", ".join(real) + "), so "
                "install_as_asgiref() came too late; activate asgibridge before the program "
                "starts: python -m asgibridge run -- CMD, or ASGIBRIDGE_AS_ASGIREF=1"
            )
        else:
            why = (
                "no activation path is on (python -m asgibridge run -- CMD, "
                "ASGIBRIDGE_AS_ASGIREF=1, pytest -p asgibridge, or install_as_asgiref())"
            )
        if os.environ.get(VARIABLE) and _startup_hook() is None:
            warnings.append(
                f"{VARIABLE} is set but the start-up hook {PTH_NAME} is not in any site "
                "directory: reinstall asgibridge (pip install asgibridge), or use the "
                "launcher: python -m asgibridge run -- CMD"
            )
    value = os.environ.get(VARIABLE)
    if value is not None and value.strip().lower() not in _WORDS:
        warnings.append(
            f"{VARIABLE}={value!r} is neither on (1, true, yes, on) nor off (0, false, no, "
            "off, empty): the start-up hook takes it as off"
        )
    return Diagnosis(
        served_by=served_by,
        why=why,
        asgibridge_version=asgibridge.__version__,
        asgiref_version=getattr(asgiref, "__version__", None) if asgiref else None,
        real_asgiref_installed=_distribution_version("asgiref"),
        python=sys.version.split()[0],
        variable=os.environ.get(VARIABLE),
        startup_hook=_startup_hook(),
        warnings=warnings,
    )


def format_diagnosis(found: Diagnosis) -> str:
    """The human-readable report ``python -m asgibridge doctor`` prints."""
    served = {
        "asgibridge": f"asgibridge {found.asgibridge_version}",
        "asgiref": f"the real asgiref {found.real_asgiref_installed}",
        "none": "nothing (import asgiref fails)",
    }[found.served_by]
    lines = [
        f"asgiref is served by: {served}",
        f"why: {found.why}",
        f"asgiref.__version__ seen by code: {found.asgiref_version}",
        f"real asgiref installed: {found.real_asgiref_installed or 'no'}",
        f"asgibridge: {found.asgibridge_version} (Python {found.python})",
        f"{VARIABLE}: {found.variable if found.variable is not None else 'unset'}",
        f"start-up hook: {found.startup_hook or 'not installed'}",
    ]
    lines += [f"WARNING: {text}" for text in found.warnings]
    return "\n".join(lines)


def main(as_json: bool = False) -> int:
    """Print the diagnosis; 0 when asgibridge serves asgiref alone, else 1."""
    found = diagnose()
    print(json.dumps(asdict(found), indent=2) if as_json else format_diagnosis(found))
    return 0 if found.served_by == "asgibridge" and not found.warnings else 1
