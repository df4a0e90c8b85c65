"""Suite-wide fixtures: every test must leave no thread running behind it.

asgibridge keeps worker threads and loops alive between calls on purpose, so
after each test the runtime is shut down (idle threads exit, loops stop) and
then any thread the test started that is still alive fails the test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

import asgibridge

# Shared fixtures defined in helper modules: a fixture counts where its name is
# in a conftest's namespace.
from hang_fixtures import flag, hang_raise, hang_warn  # noqa: F401

_GRACE = 5.0  # seconds a finishing thread gets to end before it counts as leaked


@pytest.fixture(autouse=True)
def _no_thread_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    if request.node.get_closest_marker("leaks_threads"):
        return
    asgibridge.shutdown(timeout=_GRACE)
    deadline = time.monotonic() + _GRACE
    leaked = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread.name)
    if leaked:
        pytest.fail(f"test left threads running: {leaked}", pytrace=False)
