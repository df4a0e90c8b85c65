"""Zero-edit activation with real servers and pytest-django on a stock Django project.

One ``startproject`` (module-scoped) plus a probe view that reports which module
serves ``asgiref.sync`` in the serving process and which real asgiref modules
are loaded there. Each server is started the way its users start it, answers
one request, and is stopped by its PID (see ``activation_project``).

The activation table of issue 15: launcher x {uvicorn, daphne, gunicorn +
uvicorn worker, granian, manage.py / django-admin runserver},
``ASGIBRIDGE_AS_ASGIREF=1`` x uvicorn, daphne's own command with
``install_as_asgiref()`` in the ASGI module, and pytest + pytest-django with
``-p asgibridge`` or the ini option.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import sys
from pathlib import Path

import pytest

from activation_project import (
    listening_socket,
    make_project,
    probe_port,
    probe_runserver,
    probe_through_fd,
    probed,
    run_pytest,
)

LAUNCH = [sys.executable, "-m", "asgibridge", "run", "--"]
NEEDED = ("django", "uvicorn", "daphne", "gunicorn", "uvicorn_worker", "pytest_django")
MISSING = [name for name in NEEDED if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"needs {', '.join(MISSING)} (the test extra installs them)"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("activation"))


def _on_bridge(answer: dict[str, object]) -> None:
    assert answer["sync"] == "asgibridge.sync", answer
    assert answer["real"] == [], answer


def _launch_on_fd(project: Path, server: str) -> dict[str, object]:
    """``python -m asgibridge run -- SERVER --fd N mysite.asgi:application``, probed."""
    with listening_socket() as listener:
        fd = listener.fileno()
        return probe_through_fd(
            project, [*LAUNCH, server, "--fd", str(fd), "mysite.asgi:application"], fd
        )


def test_launcher_uvicorn(project: Path) -> None:
    answer = _launch_on_fd(project, "uvicorn")
    _on_bridge(answer)
    assert answer["pid"] == answer["server_pid"]  # same process: no child in between


def test_launcher_daphne(project: Path) -> None:
    _on_bridge(_launch_on_fd(project, "daphne"))


def test_launcher_gunicorn_with_the_uvicorn_worker(project: Path) -> None:
    with listening_socket() as listener:
        fd = listener.fileno()
        argv = [*LAUNCH, "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "1",
                "-b", f"fd://{fd}", "mysite.asgi:application"]  # fmt: skip
        answer = probe_through_fd(project, argv, fd)
    _on_bridge(answer)
    assert answer["pid"] != answer["server_pid"]  # a forked worker answered


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_launcher_granian(project: Path) -> None:
    if importlib.util.find_spec("granian") is None:
        pytest.skip("granian is not installed (the test extra installs it on CPython/Linux)")
    port = _free_port()
    argv = [*LAUNCH, "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port",
            str(port), "mysite.asgi:application"]  # fmt: skip
    answer = probe_port(project, argv, port)
    _on_bridge(answer)


@pytest.mark.parametrize(
    "command",
    [["python", "manage.py"], ["django-admin"]],
    ids=["python manage.py", "django-admin"],
)
def test_launcher_runserver_with_its_autoreloader(project: Path, command: list[str]) -> None:
    # The autoreloader serves from a child it starts with plain "python manage.py ..." (or
    # "python .../django-admin ..."): the launcher's ASGIBRIDGE_AS_ASGIREF=1 and the
    # start-up hook alias asgiref there.
    port = _free_port()
    argv = [*LAUNCH, *command, "runserver", "--pythonpath", ".", f"127.0.0.1:{port}"]
    answer = probe_runserver(project, argv, port, DJANGO_SETTINGS_MODULE="mysite.settings")
    _on_bridge(answer)
    assert answer["pid"] != answer["server_pid"]


def test_environment_variable_uvicorn(project: Path) -> None:
    uvicorn = shutil.which("uvicorn", path=str(Path(sys.executable).parent))
    assert uvicorn is not None
    with listening_socket() as listener:
        fd = listener.fileno()
        argv = [uvicorn, "--fd", str(fd), "mysite.asgi:application"]
        answer = probe_through_fd(project, argv, fd, ASGIBRIDGE_AS_ASGIREF="1")
    _on_bridge(answer)


def test_daphne_command_with_install_in_the_asgi_module(project: Path) -> None:
    # daphne's CLI imports asgiref before the ASGI module: install_as_asgiref() takes
    # over those unused real modules instead of refusing.
    daphne = shutil.which("daphne", path=str(Path(sys.executable).parent))
    assert daphne is not None
    with listening_socket() as listener:
        fd = listener.fileno()
        argv = [daphne, "--fd", str(fd), "mysite.asgi_installed:application"]
        _on_bridge(probe_through_fd(project, argv, fd))


def test_reference_without_activation_is_the_real_asgiref(project: Path) -> None:
    uvicorn = shutil.which("uvicorn", path=str(Path(sys.executable).parent))
    assert uvicorn is not None
    with listening_socket() as listener:
        fd = listener.fileno()
        answer = probe_through_fd(
            project, [uvicorn, "--fd", str(fd), "mysite.asgi:application"], fd
        )
    assert answer["sync"] == "asgiref.sync"


@pytest.mark.parametrize(
    ("args", "ini"),
    [
        pytest.param(["-p", "asgibridge"], "", id="-p asgibridge"),
        pytest.param([], "asgibridge_as_asgiref = true\n", id="ini option"),
        pytest.param([], "", id="not asked"),
    ],
)
def test_pytest_django(project: Path, tmp_path: Path, args: list[str], ini: str) -> None:
    root = tmp_path / "copy"
    shutil.copytree(project, root)
    (root / "pytest.ini").write_text("[pytest]\n" + ini)
    status, output = run_pytest(root, *args)
    assert status == 0, output
    wanted = "asgibridge.sync []" if ini or args else "asgiref.sync"
    assert probed(output).startswith(wanted), output
