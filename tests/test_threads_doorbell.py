"""A loop's doorbell (issue 18 §1): how runtime threads post callbacks to an event loop.

Every test runs on each loop of the axis (asyncio's and uvloop): the bell
is watched with ``add_reader``, which each loop implements on its own.
Interleavings are forced with events and patched methods, never sleeps.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import threading
from typing import Any

import pytest

from asgibridge._runtime import _state
from asgibridge._runtime.threads import _inbox
from asgibridge._runtime.threads._doorbell import Doorbell, forget_loop, poster, poster_for
from subprocesses import fork_and_check

_DEADLINE = 10.0
_on_each_loop = pytest.mark.asyncio
_var: contextvars.ContextVar[str] = contextvars.ContextVar("doorbell_test", default="empty")


def _bell(post: Any) -> Doorbell:
    bell = post.__self__
    assert isinstance(bell, Doorbell)
    return bell


@_on_each_loop
async def test_callbacks_from_threads_run_on_the_loop_in_order() -> None:
    loop = asyncio.get_running_loop()
    post = poster_for(loop)
    assert poster(loop) is not loop.call_soon_threadsafe
    ran: list[tuple[int, bool]] = []
    done = asyncio.Event()
    loop_thread = threading.get_ident()

    def record(n: int) -> None:
        ran.append((n, threading.get_ident() == loop_thread))
        if n == 99:
            done.set()

    def writer() -> None:
        for n in range(100):
            post(record, n)

    thread = threading.Thread(target=writer)
    thread.start()
    await asyncio.wait_for(done.wait(), _DEADLINE)
    thread.join(_DEADLINE)
    assert ran == [(n, True) for n in range(100)]


@_on_each_loop
async def test_the_bell_is_made_once_per_loop_and_only_on_its_thread() -> None:
    loop = asyncio.get_running_loop()
    post = poster_for(loop)
    assert poster_for(loop) == post
    seen: list[Any] = []
    # Another thread never makes a bell (add_reader is not thread-safe); it finds this one.
    thread = threading.Thread(target=lambda: seen.append(poster_for(loop)))
    thread.start()
    thread.join(_DEADLINE)
    assert seen == [post]
    other = asyncio.new_event_loop()
    try:
        found: list[Any] = []
        thread = threading.Thread(target=lambda: found.append(poster_for(other)))
        thread.start()
        thread.join(_DEADLINE)
        assert found == [other.call_soon_threadsafe]  # not running here: stdlib's way
        assert id(other) not in _state.loop_bells
    finally:
        other.close()


@_on_each_loop
async def test_posts_while_armed_make_no_system_call(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    bell = _bell(poster_for(loop))
    wakes = 0
    real_wake = Doorbell._wake

    def counting_wake(self: Doorbell) -> None:
        nonlocal wakes
        wakes += self is bell
        real_wake(self)

    monkeypatch.setattr(Doorbell, "_wake", counting_wake)
    done = asyncio.Event()
    results: list[int] = []

    def writer() -> None:
        for n in range(50):  # the loop is blocked in this thread's join: all armed
            bell.post(results.append, n)
        bell.post(done.set)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(_DEADLINE)  # blocks the loop: it cannot drain meanwhile
    await asyncio.wait_for(done.wait(), _DEADLINE)
    assert results == list(range(50))
    assert wakes == 1


@_on_each_loop
async def test_a_post_racing_the_drain_is_not_lost() -> None:
    """A writer posts after the loop disarmed but while it drains: the item still runs."""
    loop = asyncio.get_running_loop()
    bell = _bell(poster_for(loop))
    done = asyncio.Event()
    order: list[str] = []

    def first() -> None:
        order.append("first")
        # Posted from inside the drain (the bell is disarmed now): rings again.
        thread = threading.Thread(target=bell.post, args=(second,))
        thread.start()
        thread.join(_DEADLINE)

    def second() -> None:
        order.append("second")
        done.set()

    bell.post(first)
    await asyncio.wait_for(done.wait(), _DEADLINE)
    assert order == ["first", "second"]


@_on_each_loop
async def test_callbacks_run_in_an_empty_context() -> None:
    _var.set("the request that made the bell")
    loop = asyncio.get_running_loop()
    forget_loop(loop)  # make the bell now, inside this context
    post = poster_for(loop)
    seen: list[str] = []
    done = asyncio.Event()
    thread = threading.Thread(target=post, args=(lambda: (seen.append(_var.get()), done.set()),))
    thread.start()
    thread.join(_DEADLINE)
    await asyncio.wait_for(done.wait(), _DEADLINE)
    assert seen == ["empty"]


@_on_each_loop
async def test_an_error_goes_to_the_loop_exception_handler_and_the_rest_still_run() -> None:
    loop = asyncio.get_running_loop()
    bell = _bell(poster_for(loop))
    caught: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: caught.append(context))
    done = asyncio.Event()
    ran: list[str] = []
    try:

        def broken() -> None:
            raise ValueError("from a posted callback")

        bell.post(broken)
        bell.post(ran.append, "after")
        bell.post(done.set)
        await asyncio.wait_for(done.wait(), _DEADLINE)
    finally:
        loop.set_exception_handler(None)
    assert ran == ["after"]
    assert len(caught) == 1
    assert isinstance(caught[0]["exception"], ValueError)


def test_keyboard_interrupt_propagates_and_rings_again_for_the_rest() -> None:
    loop = asyncio.new_event_loop()
    try:
        bell = Doorbell(loop)
        ran: list[str] = []

        def interrupt() -> None:
            raise KeyboardInterrupt

        bell.post(interrupt)
        bell.post(ran.append, "rest")
        with pytest.raises(KeyboardInterrupt):
            bell._ring()
        assert ran == []
        assert bell._armed  # re-armed: the rest waits for the next ring
        bell._ring()
        assert ran == ["rest"]
    finally:
        loop.close()


def test_posting_to_a_closed_loop_raises_runtime_error() -> None:
    loop = asyncio.new_event_loop()
    post = poster_for(loop, owner=True)
    loop.close()
    forget_loop(loop)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        post(print)
    assert id(loop) not in _state.loop_bells


def test_a_loop_without_add_reader_keeps_call_soon_threadsafe() -> None:
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args: Any) -> None:
            raise NotImplementedError

    loop = NoReaders()
    try:
        post = poster_for(loop, owner=True)
        assert post == loop.call_soon_threadsafe
        assert poster_for(loop, owner=True) == post  # tried once, remembered
    finally:
        loop.close()
        forget_loop(loop)


@pytest.mark.skipif(not _inbox._HAS_EVENTFD, reason="no eventfd: socket pairs only")
def test_the_socket_pair_bell_works_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_inbox, "_HAS_EVENTFD", False)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        bell = Doorbell(loop)
        assert bell._reader is not None
        got: list[int] = []
        done = asyncio.Event()
        thread = threading.Thread(target=lambda: (bell.post(got.append, 1), bell.post(done.set)))
        thread.start()
        thread.join(_DEADLINE)
        await asyncio.wait_for(done.wait(), _DEADLINE)
        loop.remove_reader(bell._reader.fileno())
        bell.close()
        return got

    assert asyncio.run(main()) == [1]


def test_the_descriptor_is_freed_with_the_loop() -> None:
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd to count descriptors")
    gc.collect()
    before = open_descriptors()
    for _ in range(20):
        loop = asyncio.new_event_loop()
        poster_for(loop, owner=True)
        loop.close()
        del loop
    gc.collect()
    assert open_descriptors() <= before
    assert not any(ref() is None for ref, _post in _state.loop_bells.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_rings_its_parents_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        poster_for(loop, owner=True)
        assert id(loop) in _state.loop_bells

        def child() -> int:
            # The registry is empty in the child: the stdlib's way, which raises
            # or queues on the child's own copy, never writes to the shared descriptor.
            stdlib = poster(loop) == loop.call_soon_threadsafe
            return 0 if _state.loop_bells == {} and stdlib else 1

        assert fork_and_check(child) == 0
        assert id(loop) in _state.loop_bells  # the parent keeps its bell
    finally:
        loop.close()
        forget_loop(loop)


def test_no_descriptor_left_falls_back_to_call_soon_threadsafe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_descriptors(*args: Any) -> Any:
        raise OSError(24, "Too many open files")

    loop = asyncio.new_event_loop()  # its own self-pipe first
    try:
        with monkeypatch.context() as patched:
            patched.setattr(_inbox.os, "eventfd", no_descriptors)
            patched.setattr(_inbox.socket, "socketpair", no_descriptors)
            post = poster_for(loop, owner=True)
        assert post == loop.call_soon_threadsafe
        ran: list[str] = []
        post(ran.append, "still delivered")
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert ran == ["still delivered"]
    finally:
        loop.close()
        forget_loop(loop)
