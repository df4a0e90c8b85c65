"""Suite-wide fixtures: every test must leave no thread running behind it; the loop axis.

asgibridge keeps worker threads and loops alive between calls on purpose, so
after each test the runtime is shut down (idle threads exit, loops stop) and
then any thread the test started that is still alive fails the test.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import pytest

import asgibridge

# Shared fixtures defined in helper modules: a fixture counts where its name is
# in a conftest's namespace.
from hang_fixtures import flag, hang_raise, hang_warn  # noqa: F401

_GRACE = 5.0  # seconds a finishing thread gets to end before it counts as leaked


def _loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:  # not installable everywhere (PyPy, Windows): said in the header
        pass
    else:
        factories["uvloop"] = uvloop.new_event_loop
    wanted = os.environ.get("ASGIBRIDGE_TEST_LOOPS")
    if wanted:
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        missing = [name for name in names if name not in factories]
        if missing:
            raise pytest.UsageError(f"ASGIBRIDGE_TEST_LOOPS names unavailable loops: {missing}")
        factories = {name: factories[name] for name in names}
    return factories


_FACTORIES = _loop_factories()


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """The loop axis: every async test runs on asyncio's loop and on uvloop (when installed).

    ``ASGIBRIDGE_TEST_LOOPS=uvloop`` (or ``asyncio``) restricts the axis.
    """
    return _FACTORIES


def pytest_report_header(config: pytest.Config) -> str:
    return f"asgibridge loop axis: {', '.join(_FACTORIES)}"


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
