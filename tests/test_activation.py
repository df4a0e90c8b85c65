"""Zero-edit activation: the launcher, the start-up hook (.pth), the doctor, the take-over.

Everything that depends on interpreter start-up or a clean ``sys.modules`` runs
in a fresh interpreter (``python -c``) that prints one JSON line; the real
asgiref is installed in this environment, so "which asgiref" is a real
question there. The servers and pytest-django are in ``test_activation_servers``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

import asgibridge._activation
from activation_project import child_env
from asgibridge._activation.doctor import PTH_NAME
from asgibridge._activation.launcher import LaunchError, _load_entry_point, resolve

TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parents[1]
PTH = Path(asgibridge._activation.__file__).parent / PTH_NAME


def run(argv: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=child_env(**env), capture_output=True, text=True, timeout=TIMEOUT,
        check=False,
    )  # fmt: skip


def python(code: str, *launcher: str, **env: str) -> Any:
    """Run ``code`` in a fresh interpreter (behind ``launcher`` args); its last JSON line."""
    argv = [sys.executable, *launcher, "-c", textwrap.dedent(code)]
    completed = run(argv, **env)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- the launcher: what it runs -----------------------------------------------------------------


def test_console_scripts_resolve_through_entry_points() -> None:
    if importlib.util.find_spec("uvicorn") is None:
        pytest.skip("uvicorn is not installed (the test extra installs it)")
    target = resolve(["uvicorn", "app:app", "--port", "1"])
    assert (target.kind, target.name) == ("entry point", "uvicorn.main:main")
    assert os.path.basename(target.argv[0]) == "uvicorn"
    assert target.argv[1:] == ("app:app", "--port", "1")
    assert target.path0 == os.path.dirname(os.path.realpath(target.argv[0]))


def test_modules_code_and_scripts_resolve(tmp_path: Path) -> None:
    script = tmp_path / "manage.py"
    script.write_text("print('hi')\n")
    assert resolve(["-m", "json.tool", "x"]).argv == ("json.tool", "x")
    assert resolve(["python", "-m", "json.tool"]).kind == "module"
    assert resolve(["python3.12", "-c", "pass", "a"]).argv == ("-c", "a")
    by_interpreter = resolve([sys.executable, str(script), "runserver"])
    assert (by_interpreter.kind, by_interpreter.argv) == ("script", (str(script), "runserver"))
    assert by_interpreter.path0 == os.path.realpath(tmp_path)
    assert resolve([str(script)]).kind == "script"


@pytest.mark.parametrize(
    ("argv", "status", "words"),
    [
        ([], 2, "no command given"),
        (["python"], 2, "nothing to run"),
        (["python", "-X", "dev", "x.py"], 2, "put it before the launcher"),
        (["python", "no-such-file.py"], 2, "can't open file"),
        (["no-such-command-for-asgibridge"], 127, "command not found"),
        (["./no/such/tool"], 127, "No such file"),
    ],
)
def test_what_cannot_run_is_refused_with_a_shell_like_status(
    argv: list[str], status: int, words: str
) -> None:
    with pytest.raises(LaunchError, match=words) as caught:
        resolve(argv)
    assert caught.value.status == status


def test_a_file_that_is_not_python_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF")
    with pytest.raises(LaunchError, match="not a Python script") as caught:
        resolve([str(binary)])
    assert caught.value.status == 126


def test_an_entry_point_may_name_a_submodule_like_the_wrapper_imports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # granian's "granian:cli.entrypoint": the package does not import its cli module, the
    # wrapper's "from granian import cli" does.
    package = tmp_path / "launcher_probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("def entrypoint():\n    return 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _load_entry_point("launcher_probe_pkg:cli.entrypoint [extra]")() == 7


# -- the launcher: how it runs it ---------------------------------------------------------------


def test_the_command_runs_in_this_process_with_its_argv_status_and_the_alias() -> None:
    code = (
        "import json, os, sys, asgiref.sync; print(json.dumps({'pid': os.getpid(), "
        "'argv': sys.argv, 'sync': asgiref.sync.__name__, "
        "'variable': os.environ.get('ASGIBRIDGE_AS_ASGIREF')})); sys.exit(3)"
    )
    argv = [sys.executable, "-m", "asgibridge", "run", "--", "python", "-c", code, "a"]
    process = subprocess.Popen(
        argv, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 3, err
    seen = json.loads(out)
    assert seen["pid"] == process.pid  # no process in between: signals reach the command
    assert seen["argv"] == ["-c", "a"]
    assert seen["sync"] == "asgibridge.sync"
    assert seen["variable"] == "1"  # for children that re-execute Python


def test_a_script_sees_its_own_directory_first_and_main(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text(
        "import json, sys\nprint(json.dumps([sys.path[0], sys.argv, __name__]))\n"
    )
    argv = [sys.executable, "-m", "asgibridge", "run", "--", "python", "tool.py", "x"]
    completed = run(argv, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    path0, args, name = json.loads(completed.stdout)
    assert (path0, args, name) == (os.path.realpath(tmp_path), ["tool.py", "x"], "__main__")


def test_a_console_script_gives_its_exit_status() -> None:
    if importlib.util.find_spec("django") is None:
        pytest.skip("django is not installed (the test extra installs it)")
    launcher = [sys.executable, "-m", "asgibridge", "run", "--", "django-admin"]
    ok = run([*launcher, "version"])
    assert (ok.returncode, ok.stdout.strip()) == (0, __import__("django").get_version())
    assert run([*launcher, "no-such-django-command"]).returncode == 1


def test_the_launcher_reports_what_it_cannot_run() -> None:
    completed = run([sys.executable, "-m", "asgibridge", "run", "--", "no-such-command-x"])
    assert completed.returncode == 127
    assert "command not found" in completed.stderr
    helped = run([sys.executable, "-m", "asgibridge", "run", "--help"])
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: python -m asgibridge run -- CMD")


# -- the start-up hook ---------------------------------------------------------------------------

STARTUP = """
import json, sys
print(json.dumps({
    "loaded": sorted(m for m in sys.modules
                     if m.split(".")[0] in ("asgibridge", "asgiref", "asyncio")),
    "finders": [type(f).__name__ for f in sys.meta_path],
}))
"""


def test_the_hook_is_installed_in_site_packages() -> None:
    found = [Path(d) / PTH_NAME for d in site.getsitepackages() if (Path(d) / PTH_NAME).exists()]
    assert found, f"{PTH_NAME} is in no site directory: reinstall with pip install -e ."
    assert found[0].read_text() == PTH.read_text()
    assert len(PTH.read_text().splitlines()) == 1  # site runs one line per import statement


@pytest.mark.parametrize("value", [None, "", "0", "off"])
def test_without_the_variable_start_up_imports_nothing(value: str | None) -> None:
    env = {} if value is None else {"ASGIBRIDGE_AS_ASGIREF": value}
    assert python(STARTUP, **env) == {"loaded": [], "finders": python(STARTUP)["finders"]}
    assert "AsgibridgeAsAsgirefFinder" not in python(STARTUP, **env)["finders"]


@pytest.mark.parametrize("value", ["1", "true", "Yes"])
def test_with_the_variable_a_lazy_finder_waits_for_import_asgiref(value: str) -> None:
    seen = python(STARTUP, ASGIBRIDGE_AS_ASGIREF=value)
    assert seen["loaded"] == []
    assert seen["finders"][0] == "AsgibridgeAsAsgirefFinder"


def test_the_first_import_asgiref_installs_the_alias() -> None:
    seen = python(
        """
        import importlib.util, json, sys
        asked = importlib.util.find_spec("asgiref") is not None  # a question, not an action
        quiet = "asgiref" not in sys.modules
        import asgiref.sync
        import asgibridge, asgibridge.sync
        print(json.dumps({
            "asked": asked, "quiet": quiet,
            "alias": type(asgiref).__name__ == "AsgirefPackage"
                and asgiref.__version__ != asgibridge.__version__,
            "sync": asgiref.sync is asgibridge.sync,
            "spec": asgibridge.__spec__.name,
            "finders": [type(f).__name__ for f in sys.meta_path],
            "real": sorted(n for n, m in sys.modules.items()
                           if n.startswith("asgiref") and m.__name__.startswith("asgiref")
                           and type(m).__name__ != "AsgirefPackage"),
        }))
        """,
        ASGIBRIDGE_AS_ASGIREF="1",
    )
    assert seen == {
        "asked": True,
        "quiet": True,
        "alias": True,
        "sync": True,
        "spec": "asgibridge",
        # The hook's finder is gone again; the alias's own finder sits before the path finder.
        "finders": [*python(STARTUP)["finders"][:-1], "AsgirefFinder", "type"],
        "real": [],
    }


def test_a_regular_wheel_install_ships_the_hook(tmp_path: Path) -> None:
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed (the test extra installs it)")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "-q", "-w", str(tmp_path / "dist"), str(ROOT)])  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("asgibridge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(PTH_NAME).decode() == PTH.read_text()
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", "--without-pip", str(venv)]).returncode == 0
    target = venv / "bin" / "python"
    installed = run([sys.executable, "-m", "pip", "--python", str(target), "install", "-q",
                     "--no-deps", "--no-index", str(wheel)])  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    # Dependencies (typing_extensions on older Pythons) come from this environment, after
    # the new site-packages: asgibridge itself is the installed wheel's copy.
    (site_dir,) = venv.glob("lib/python*/site-packages")
    (site_dir / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    code = (
        "import json, asgiref.sync, asgibridge; "
        "print(json.dumps([asgiref.sync.__name__, asgibridge.__file__]))"
    )
    completed = run([str(target), "-c", code], ASGIBRIDGE_AS_ASGIREF="1", PYTHONPATH="")
    assert completed.returncode == 0, completed.stderr
    name, origin = json.loads(completed.stdout)
    assert name == "asgibridge.sync"
    assert Path(origin).is_relative_to(site_dir)


# -- the pytest plugin (with pytest-django: test_activation_servers) ------------------------------


def test_the_plugin_refuses_clearly_when_a_plugin_before_it_used_the_real_asgiref(
    tmp_path: Path,
) -> None:
    (tmp_path / "early_plugin.py").write_text("from asgiref.local import Local\nheld = Local()\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "early_plugin",
            "-p", "asgibridge", "test_nothing.py"]  # fmt: skip
    completed = run(argv, cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR, completed.stdout
    assert "ASGIBRIDGE_AS_ASGIREF=1" in completed.stderr
    assert "already imported" in completed.stderr


# -- the doctor ---------------------------------------------------------------------------------


def doctor(*launcher: str, **env: str) -> tuple[int, dict[str, Any]]:
    completed = run([sys.executable, "-m", "asgibridge", *launcher, "doctor", "--json"], **env)
    return completed.returncode, json.loads(completed.stdout)


def test_the_doctor_without_activation_names_the_real_asgiref() -> None:
    status, found = doctor()
    assert (status, found["served_by"]) == (1, "asgiref")
    assert found["variable"] is None
    assert found["startup_hook"].endswith(PTH_NAME)


def test_the_doctor_names_the_variable_and_the_launcher() -> None:
    status, found = doctor(ASGIBRIDGE_AS_ASGIREF="1")
    assert (status, found["served_by"]) == (0, "asgibridge")
    assert "ASGIBRIDGE_AS_ASGIREF" in found["why"]
    status, found = doctor("run", "--", "python", "-m", "asgibridge")
    assert (status, found["served_by"]) == (0, "asgibridge")
    assert "launcher" in found["why"]
    assert found["warnings"] == []


def test_the_doctor_warns_about_a_value_the_hook_does_not_understand() -> None:
    status, found = doctor(ASGIBRIDGE_AS_ASGIREF="enabled")
    assert (status, found["served_by"]) == (1, "asgiref")
    assert "'enabled' is neither on" in found["warnings"][0]


def test_the_doctor_warns_when_the_real_asgiref_came_first() -> None:
    seen = python(
        """
        import dataclasses, json
        from asgiref.local import Local
        held = Local()  # in use: the alias is refused
        import asgibridge
        from asgibridge._activation.doctor import diagnose
        try:
            asgibridge.install_as_asgiref()
        except ImportError:
            pass
        print(json.dumps(dataclasses.asdict(diagnose())))
        """
    )
    assert seen["served_by"] == "asgiref"
    assert "imported before" in seen["why"]
    assert any("asgiref.local" in warning for warning in seen["warnings"])


# -- taking over unused real asgiref modules (daphne's CLI) ---------------------------------------


def test_real_modules_imported_but_unused_are_taken_over(tmp_path: Path) -> None:
    (tmp_path / "holder.py").write_text(
        "import asgiref\n"
        "import asgiref.sync as sync\n"
        "from asgiref.compatibility import guarantee_single_callable\n"
    )
    seen = python(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        import holder
        import asgibridge, asgibridge.compatibility, asgibridge.sync
        from asgibridge._activation.doctor import diagnose
        asgibridge.install_as_asgiref()
        import asgiref.sync
        print(json.dumps({{
            "alias": asgiref.sync is asgibridge.sync,
            "function": holder.guarantee_single_callable
                is asgibridge.compatibility.guarantee_single_callable,
            "module": holder.sync is asgibridge.sync,
            # The top-level name is the alias's package (asgiref's version), not asgibridge.
            "package": holder.asgiref is sys.modules["asgiref"],
            "version": holder.asgiref.__version__ == asgiref.__version__ != asgibridge.__version__,
            "why": diagnose().why,
        }}))
        """
    )
    assert seen["package"] is True
    assert seen["version"] is True
    assert seen["alias"] is True
    assert seen["function"] is True
    assert seen["module"] is True
    assert "holder" in seen["why"]


@pytest.mark.parametrize(
    "use",
    [
        "from asgiref.local import Local\nclass Mine(Local): pass",
        "import asyncio\nfrom asgiref.sync import sync_to_async\n"
        "asyncio.run(sync_to_async(lambda: None)())",
    ],
    ids=["a subclass", "a thread it started"],
)
def test_real_modules_in_use_are_not_taken_over(use: str) -> None:
    seen = python(
        use
        + textwrap.dedent(
            """
            import json, sys
            before = dict(sys.modules)
            import asgibridge
            try:
                asgibridge.install_as_asgiref()
            except ImportError as exc:
                refused = str(exc)
            print(json.dumps({"refused": refused, "same": sys.modules["asgiref"] is
                              before["asgiref"]}))
            """
        )
    )
    assert "already imported" in seen["refused"]
    assert seen["same"] is True
