"""The runtime threads' inbox (issue 18 §1): FIFO, no lost wake-up, timeouts, fallback.

The inbox wakes a sleeping reader with a write to an eventfd (Linux) or a
socket pair (the GIL is free during it, so the reader runs at once). These
tests force each interleaving of the reader's sleep and a writer's put with
events, never with sleeps.
"""

from __future__ import annotations

import socket
import threading
from queue import Empty

import pytest

from asgibridge._runtime import _state
from asgibridge._runtime.threads import _inbox
from asgibridge._runtime.threads._inbox import Inbox, Waker, thread_waker

_DEADLINE = 10.0


_BACKENDS = ["eventfd", "socket", "fallback"] if _inbox._HAS_EVENTFD else ["socket", "fallback"]


@pytest.fixture(params=_BACKENDS)
def inbox(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Inbox[object]:
    if request.param != "eventfd":
        monkeypatch.setattr(_inbox, "_HAS_EVENTFD", False)
    if request.param == "fallback":

        def no_sockets() -> tuple[socket.socket, socket.socket]:
            raise OSError(24, "Too many open files")

        monkeypatch.setattr(_inbox.socket, "socketpair", no_sockets)
    return Inbox()


def test_items_come_out_in_order(inbox: Inbox[object]) -> None:
    for item in range(5):
        inbox.put(item)
    assert [inbox.get(timeout=0) for _ in range(5)] == list(range(5))
    assert inbox.empty()
    with pytest.raises(Empty):
        inbox.get_nowait()


def test_a_wait_times_out_with_empty(inbox: Inbox[object]) -> None:
    with pytest.raises(Empty):
        inbox.get(timeout=0.01)
    inbox.put("late")  # a put after a timed-out wait is still delivered
    assert inbox.get(timeout=0) == "late"


def test_a_sleeping_reader_is_woken_by_a_put(inbox: Inbox[object]) -> None:
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(inbox.get(timeout=_DEADLINE)))
    reader.start()
    # Wait until the reader really sleeps (its flag is up), then put.
    while not inbox._sleeping:
        if not reader.is_alive():
            break
        threading.Event().wait(0.001)
    inbox.put("item")
    reader.join(_DEADLINE)
    assert got == ["item"]


def test_a_put_between_the_empty_check_and_the_flag_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer appends after the reader found the deque empty but before its flag:

    it sees no flag and sends nothing, so the reader must look again after raising it.
    """
    inbox: Inbox[object] = Inbox()
    items = inbox._items

    class Racing(type(items)):  # type: ignore[misc]
        popped_empty = False

        def popleft(self) -> object:
            try:
                return super().popleft()
            except IndexError:
                if not Racing.popped_empty:
                    Racing.popped_empty = True
                    inbox.put("raced")  # the flag is still down: no wake-up is sent
                    assert not inbox._sleeping
                raise

    inbox._items = Racing()
    assert inbox.get(timeout=_DEADLINE) == "raced"


def test_stray_wake_ups_only_make_a_wait_look_again(inbox: Inbox[object]) -> None:
    inbox._waker.wake()
    inbox._waker.wake()
    with pytest.raises(Empty):
        inbox.get(timeout=0.01)


def test_close_frees_an_owned_waker_but_not_a_shared_one() -> None:
    shared = Waker()
    borrowed: Inbox[object] = Inbox(shared)
    borrowed.close()
    shared.wake()
    assert shared.wait(0) is True
    owned: Inbox[object] = Inbox()
    owned.close()
    owned.put("after close")  # queues without raising; nobody reads it
    assert owned.get_nowait() == "after close"
    shared.close()


def test_the_thread_waker_is_made_again_after_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    first = thread_waker()
    assert thread_waker() is first
    monkeypatch.setattr(_state, "generation", _state.generation + 1)
    second = thread_waker()
    assert second is not first
    assert thread_waker() is second


def test_a_worker_closes_its_inbox_when_it_leaves() -> None:
    from asgibridge._runtime.threads import _workers

    worker = _workers.Worker("pool", None)
    worker.start()
    waker = worker.queue._waker
    worker.queue.put(_workers._STOP)
    worker.thread.join(_DEADLINE)
    assert not worker.thread.is_alive()
    reader = waker._reader
    assert reader is None or reader.fileno() == -1
    assert waker._fd == -1


@pytest.mark.skipif(not _inbox._HAS_EVENTFD, reason="no eventfd on this platform")
def test_an_eventfd_waker_times_out_then_takes_every_pending_wake_up_at_once() -> None:
    waker = Waker()
    try:
        assert waker._fd >= 0
        assert waker._reader is None
        assert waker.wait(0) is False
        assert waker.wait(0.001) is False
        for _ in range(3):
            waker.wake()
        assert waker.wait(0) is True  # one read takes the three
        assert waker.wait(0) is False
    finally:
        waker.close()
    waker.wake()  # after close: a no-op, never a write to a reused descriptor
    assert waker.wait(None) is False
