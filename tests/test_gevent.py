"""gevent and eventlet monkeypatching (issue 8, part 5): fail at first use, naming the fix.

Patching is process-global and cannot be undone, so every scenario
runs in a child interpreter, bounded in time.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from asgibridge._runtime.host._greenlets import green_threading, require_real_threads

needs_gevent = pytest.mark.skipif(
    importlib.util.find_spec("gevent") is None, reason="gevent is not installed"
)
needs_eventlet = pytest.mark.skipif(
    importlib.util.find_spec("eventlet") is None, reason="eventlet is not installed"
)


def run_child(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )


def test_unpatched_process_is_not_green() -> None:
    assert green_threading() is None
    require_real_threads("a test thread")  # must not raise


@needs_gevent
def test_patch_all_fails_at_first_use_with_the_fix() -> None:
    result = run_child(
        """
        from gevent import monkey
        monkey.patch_all()
        import threading
        from asgibridge.exceptions import GreenThreadsError
        from asgibridge.sync import async_to_sync, sync_to_async

        async def hello():
            return "hello"

        for call in (async_to_sync(hello), lambda: async_to_sync(sync_to_async(len))("ab")):
            try:
                call()
            except GreenThreadsError as exc:
                assert isinstance(exc, RuntimeError)
                print("ERROR:", exc)
            else:
                print("NO ERROR")
        print("THREADS:", sorted(t.name for t in threading.enumerate()))
        """
    )
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2, result.stdout
    for line in errors:
        assert "gevent monkeypatched threading, queue, select, selectors" in line
        assert "patch_all(thread=False, queue=False, select=False)" in line
    # Nothing half-started: no asgibridge thread (or greenlet posing as one).
    threads_line = result.stdout.splitlines()[-1]
    assert "asgibridge" not in threads_line


@needs_gevent
def test_patching_without_threads_runs_the_bridge() -> None:
    result = run_child(
        """
        from gevent import monkey
        monkey.patch_all(thread=False, queue=False, select=False)
        import asyncio, threading
        import asgibridge
        from asgibridge.iterators import async_iter_to_sync, sync_iter_to_async
        from asgibridge.sync import async_to_sync, sync_to_async

        async def inner():
            await asyncio.sleep(0)
            return threading.current_thread().name

        def sync_part():
            return threading.current_thread().name, async_to_sync(inner)()

        async def outer():
            caller = await sync_to_async(sync_part)()
            pooled = await sync_to_async(sync_part, thread_sensitive=False)()
            items = [i async for i in sync_iter_to_async(range(5), buffer=2)]
            return caller, pooled, items

        async def agen():
            for i in range(3):
                yield i

        caller, pooled, items = async_to_sync(outer)()
        print("CALLER", caller[0] == threading.current_thread().name)
        print("LOOP", caller[1] != threading.current_thread().name)
        print("POOL", pooled[0].startswith("asgibridge-pool"))
        print("ITEMS", items == [0, 1, 2, 3, 4])
        print("SYNC_ITEMS", list(async_iter_to_sync(agen())) == [0, 1, 2])
        asgibridge.shutdown()
        """
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines == {
        "CALLER": "True",
        "LOOP": "True",
        "POOL": "True",
        "ITEMS": "True",
        "SYNC_ITEMS": "True",
    }


@needs_gevent
def test_patching_queues_or_selectors_alone_also_fails_at_first_use() -> None:
    # Real threads, but patched queues and selectors cannot wake another OS
    # thread: every wait would stall until its health-check timeout.
    result = run_child(
        """
        from gevent import monkey
        monkey.patch_all(thread=False)
        from asgibridge.exceptions import GreenThreadsError
        from asgibridge.iterators import sync_iter_to_async
        from asgibridge.sync import async_to_sync

        async def consume():
            return [i async for i in sync_iter_to_async(range(3))]

        try:
            async_to_sync(consume)()
        except GreenThreadsError as exc:
            print("ERROR:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ERROR:"), result.stdout
    assert "gevent monkeypatched queue, select, selectors" in result.stdout
    assert "threading" not in result.stdout.split("(")[0]


EVENTLET_CHILD = """
    import eventlet
    eventlet.monkey_patch({kwargs})
    import asyncio, threading
    import asgibridge
    from asgibridge.exceptions import GreenThreadsError
    from asgibridge.iterators import async_iter_to_sync, sync_iter_to_async
    from asgibridge.sync import async_to_sync, sync_to_async

    async def inner():
        await asyncio.sleep(0)
        return threading.current_thread().name

    async def outer():
        loop_thread = await sync_to_async(async_to_sync(inner))()
        pooled = await sync_to_async(threading.current_thread, thread_sensitive=False)()
        items = [i async for i in sync_iter_to_async(range(4), buffer=2)]
        return loop_thread, pooled.name, items

    async def agen():
        for i in range(3):
            yield i

    try:
        loop_thread, pooled, items = async_to_sync(outer)()
        sync_items = list(async_iter_to_sync(agen()))
    except GreenThreadsError as exc:
        print("ERROR:", exc)
    else:
        print(
            "OK", loop_thread.startswith("asgibridge-loop"), pooled.startswith("asgibridge-pool"),
            items, sync_items,
        )
    asgibridge.shutdown()
"""


@needs_eventlet
def test_eventlet_patching_threads_fails_at_first_use() -> None:
    result = run_child(EVENTLET_CHILD.replace("{kwargs}", ""))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ERROR:"), result.stdout
    assert "eventlet monkeypatched thread" in result.stdout
    assert "eventlet.monkey_patch(thread=False)" in result.stdout


@needs_eventlet
def test_eventlet_patching_without_threads_runs_the_bridge() -> None:
    result = run_child(EVENTLET_CHILD.replace("{kwargs}", "thread=False"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK True True [0, 1, 2, 3] [0, 1, 2]"
