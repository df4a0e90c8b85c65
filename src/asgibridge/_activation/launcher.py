"""``python -m asgibridge run -- CMD [ARGS...]``: run a command with asgibridge as asgiref.

The command runs in this process, after ``install_as_asgiref()``, as if it had
been started directly: ``sys.argv`` is what the command would see,
``sys.path[0]`` is what Python would have put there, the exit status is the
command's, and signals reach it unchanged (no child process in between).

CMD may be a console script of this environment (``uvicorn``, ``daphne``,
``gunicorn``, ``granian``, ``pytest``: resolved through the
``console_scripts`` entry points, like the generated wrapper does), ``-m
module``, a Python script path (``manage.py``), or a Python interpreter name
followed by one of those (``python manage.py runserver``, ``python -m
uvicorn ...``).

The launcher also sets ``ASGIBRIDGE_AS_ASGIREF=1`` for child processes
(Django's autoreloader, multiprocessing's spawn, server workers that
re-execute Python): the start-up hook aliases asgiref in them too.
"""

from __future__ import annotations

import importlib
import os
import re
import runpy
import shutil
import sys
import sysconfig
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

from .reasons import LAUNCHER, record
from .startup import VARIABLE

__all__ = ("LaunchError", "Target", "main", "resolve")

USAGE = "usage: python -m asgibridge run -- CMD [ARGS...]"
# What a shell-found interpreter looks like: python, python3, python3.12, python3.13t.
_INTERPRETER = re.compile(r"python(\d+(\.\d+)?t?)?(\.exe)?$")


class LaunchError(Exception):
    """The command cannot be run (the message says why); the exit status goes with it."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """A resolved command: how to run it and the ``sys.argv`` it expects.

    Attributes:
        kind: ``"entry point"``, ``"module"``, ``"script"`` or ``"code"``.
        name: the entry point's ``module:attr``, the module, the script path or
            the code.
        argv: ``sys.argv`` as the command sees it when started directly.
        path0: what Python puts first on ``sys.path`` for such a start (None:
            leave it as it is).
    """

    kind: str
    name: str
    argv: tuple[str, ...]
    path0: str | None


def _console_script(name: str) -> metadata.EntryPoint | None:
    found = metadata.entry_points(group="console_scripts").select(name=name)
    return next(iter(found), None)


def _script_dir(path: str) -> str:
    # Python puts the real directory of the script first (symlinks resolved).
    return os.path.dirname(os.path.realpath(path))


def _is_python_script(path: str) -> bool:
    if path.endswith((".py", ".pyw")):
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _interpreter_args(argv: Sequence[str]) -> Target:
    """``python -m mod ...``, ``python -c code ...`` or ``python script ...``."""
    if not argv:
        raise LaunchError(f"asgibridge run: nothing to run after the interpreter\n{USAGE}")
    first, rest = argv[0], list(argv[1:])
    if first == "-m":
        if not rest:
            raise LaunchError("asgibridge run: -m needs a module name")
        return Target("module", rest[0], (rest[0], *rest[1:]), None)
    if first == "-c":
        if not rest:
            raise LaunchError("asgibridge run: -c needs the code to run")
        return Target("code", rest[0], ("-c", *rest[1:]), "")
    if first.startswith("-"):
        raise LaunchError(
            f"asgibridge run: interpreter option {first!r} is not supported here; put it "
            f"before the launcher instead: python {first} -m asgibridge run -- ..."
        )
    if not os.path.isfile(first):
        raise LaunchError(f"asgibridge run: can't open file {first!r}", status=2)
    return Target("script", first, (first, *rest), _script_dir(first))


def resolve(argv: Sequence[str]) -> Target:
    """Find what ``argv`` names (see the module docstring for the forms).

    Raises:
        LaunchError: nothing to run, or nothing runnable of that name (status
            127, as a shell's "command not found").

    Example:
        >>> resolve(["-m", "json.tool", "--help"]).argv
        ('json.tool', '--help')
    """
    if not argv:
        raise LaunchError(f"asgibridge run: no command given\n{USAGE}")
    command, rest = argv[0], list(argv[1:])
    if command in ("-m", "-c"):
        return _interpreter_args(argv)
    if _INTERPRETER.fullmatch(os.path.basename(command)) or command == sys.executable:
        return _interpreter_args(rest)
    if os.sep in command or (os.altsep and os.altsep in command) or os.path.isfile(command):
        if not os.path.isfile(command):
            raise LaunchError(f"asgibridge run: {command}: No such file", status=127)
        if _is_python_script(command):
            return Target("script", command, (command, *rest), _script_dir(command))
        raise LaunchError(f"asgibridge run: {command}: not a Python script", status=126)
    entry_point = _console_script(command)
    # This environment's own wrapper first (the entry point run is this environment's).
    on_path = shutil.which(command, path=sysconfig.get_path("scripts")) or shutil.which(command)
    if entry_point is not None:
        argv0 = on_path or command
        return Target("entry point", entry_point.value, (argv0, *rest), _script_dir(argv0))
    if on_path and _is_python_script(on_path):
        return Target("script", on_path, (on_path, *rest), _script_dir(on_path))
    raise LaunchError(
        f"asgibridge run: {command}: command not found (not a console script of this "
        "environment, a Python script, or -m module)",
        status=127,
    )


def _load_entry_point(value: str) -> Callable[[], object]:
    """Load ``module:attr.path`` as the generated wrapper does (``from module import attr``).

    ``EntryPoint.load()`` only uses getattr, but the wrapper's ``from granian import
    cli`` also imports a submodule the package does not import itself.
    """
    module_name, _, attribute = value.partition(":")
    attribute = attribute.split("[", 1)[0].strip()  # drop any [extras]
    module = importlib.import_module(module_name.strip())
    first, *rest = attribute.split(".")
    try:
        loaded = getattr(module, first)
    except AttributeError:
        loaded = importlib.import_module(f"{module.__name__}.{first}")
    for name in rest:
        loaded = getattr(loaded, name)
    function: Callable[[], object] = loaded
    return function


def _execute(target: Target) -> int:
    sys.argv[:] = list(target.argv)
    if target.path0 is not None and not getattr(sys.flags, "safe_path", False):
        if sys.path:
            sys.path[0] = target.path0
        else:
            sys.path.insert(0, target.path0)
    if target.kind == "module":
        runpy.run_module(target.name, run_name="__main__", alter_sys=True)
        return 0
    if target.kind == "script":
        runpy.run_path(target.name, run_name="__main__")
        return 0
    if target.kind == "code":
        code = compile(target.name, "<string>", "exec")
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
        return 0
    function = _load_entry_point(target.name)
    # Run it as the generated wrapper script would: that script is __main__ (a plain
    # file, no __spec__), so code that re-executes "__main__" (Django's autoreloader,
    # multiprocessing's spawn) starts the console script again, not this launcher.
    main_module = types.ModuleType("__main__")
    main_module.__file__ = target.argv[0]
    main_module.__spec__ = None
    sys.modules["__main__"] = main_module
    raise SystemExit(function())  # what the wrapper does with the function's result


def main(argv: Sequence[str]) -> int:
    """Install the alias, then run the command; returns the exit status.

    A command that raises ``SystemExit`` (console scripts, most servers and
    pytest) ends the process with its own status through the exception.
    """
    args = list(argv)
    if args[:1] in (["-h"], ["--help"]):
        print(f"{USAGE}\n\n{__doc__.strip() if __doc__ else ''}")
        return 0
    if args[:1] == ["--"]:
        args = args[1:]
    try:
        target = resolve(args)
    except LaunchError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    os.environ[VARIABLE] = "1"  # child processes that re-execute Python alias too
    import asgibridge

    asgibridge.install_as_asgiref()
    record(LAUNCHER)
    return _execute(target)
