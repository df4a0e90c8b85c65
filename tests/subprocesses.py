"""Running test code in another process: a fresh interpreter, or a forked child.

Fresh interpreters see what an import really loads (this one has loaded
everything); forked children see what the runtime rebuilds after ``os.fork()``.
Each has a deadline: a hung child never hangs the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from typing import Any

DEADLINE = 60.0


def run_python(code: str, **env: str) -> Any:
    """Run ``code`` in a fresh ``-X dev -W error`` interpreter; its last stdout line, as JSON."""
    completed = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
        env={**os.environ, **env},
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def fork_and_check(child: Callable[[], int], deadline: float = 20.0) -> int:
    """Fork; the child runs ``child`` and exits with its status; return that status."""
    with warnings.catch_warnings():
        # 3.12+: "This process is multi-threaded, use of fork() may lead to deadlocks".
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 99
        try:
            status = child()
        finally:
            os._exit(status)
    return waitpid_with_deadline(pid, deadline)


def waitpid_with_deadline(pid: int, deadline: float = 20.0) -> int:
    """The child's exit status; a child still running after ``deadline`` seconds is killed."""
    done = threading.Event()
    result: list[int] = []

    def wait() -> None:
        _, status = os.waitpid(pid, 0)
        result.append(os.waitstatus_to_exitcode(status))
        done.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    if not done.wait(deadline):
        os.kill(pid, 9)  # a hung child must not hang the suite
    waiter.join(deadline)
    return result[0]
