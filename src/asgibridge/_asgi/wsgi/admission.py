"""Admission to a WsgiToAsgi adapter's threads: at most ``max_threads`` running, a bounded line.

The runtime's `WorkerPool` queues work without bound and cannot say how
deep its queue is. This layer sits in front of it: a request is handed to
the pool only when fewer than ``max_threads`` of the adapter's requests run;
otherwise it waits here, in a line of at most ``max_queued`` requests, and a
request that finds the line full is refused (the adapter answers 503 with
``Retry-After``). Hazard: without the bound, a burst larger than the pool
can serve grows the line (and each waiting request's memory and the
latency of all) for as long as the burst lasts.

Theory of operation: one lock guards the counts and the line. `admit`
either takes a running slot (and submits at once), queues, or refuses.
Each admitted request calls `release` on its own thread when its WSGI work
ends (the `Runner` does so in a ``finally``), which hands the slot straight
to the first queued request. A request cancelled while queued is taken out
of the line (`withdraw`) and never runs.

Parking: a request whose app waits for request body data that does not
come (`Channel` decides when) lends its slot out (`park`): it no longer
counts as running, and the first queued request starts. When data comes it
takes a slot back (`unpark`) at once, even past ``max_threads`` for a
moment. At most ``max_threads`` requests are parked, and a second pool of
``max_threads`` threads (the *overflow*, idle and threadless unless
requests park) runs what starts while others are parked, so a parked
request never makes another wait for a thread. Hazard this closes: a
client that sends more than the adapter buffers before the app starts
(``receive_buffer_size``) and then stalls would hold its slot until
``body_timeout``; ``max_threads`` of them would stop the site.

The counts of every live adapter are summed by `wsgi_stats`; `stats` adds
them to the runtime's statistics (it is ``asgibridge.instrumentation.stats``).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import Any, Protocol

from ..._runtime import AdapterPool, Hop, fork_generation, fork_lock
from ..._runtime import stats as runtime_stats

__all__ = ("Admission", "Laned", "stats", "wsgi_stats")

_live: weakref.WeakSet[Admission] = weakref.WeakSet()


class Laned(Protocol):
    """What runs a request: told which pool (lane) it was given, it says so at `release`."""

    lane: int


class Admission:
    """The running requests and the line of one adapter.

    Args:
        pool: the adapter's pool for running requests (``max_threads`` threads).
        overflow: a second pool of as many threads, used only while requests
            are parked (see the module docstring).
        max_queued: most requests waiting for a thread (None: no bound).

    Example:
        >>> admission = Admission(AdapterPool(1), AdapterPool(1), max_queued=0)
        >>> admission.stats()
        {'running': 0, 'parked': 0, 'queued': 0, 'max_queued': 0, 'rejected': 0}
    """

    __slots__ = (
        "__weakref__",
        "_busy",
        "_generation",
        "_line",
        "_lock",
        "max_queued",
        "max_threads",
        "parked",
        "pools",
        "rejected",
        "running",
    )

    def __init__(self, pool: AdapterPool, overflow: AdapterPool, max_queued: int | None) -> None:
        self.pools = (pool, overflow)
        self.max_queued = max_queued
        self.max_threads = pool.max_threads
        self.running = 0
        self.parked = 0
        self.rejected = 0
        self._busy = [0, 0]  # requests handed to each pool and not finished
        self._line: deque[tuple[Hop, Laned]] = deque()
        self._lock = threading.Lock()
        self._generation = fork_generation()
        _live.add(self)

    def _after_fork(self) -> None:
        # Hazard (fork): the parent's requests, counts and line do not exist in
        # a child, and our lock may have been held by a thread that does not.
        with fork_lock():
            if self._generation != fork_generation():
                self._lock = threading.Lock()
                self._line = deque()
                self.running = self.parked = 0
                self._busy = [0, 0]
                self._generation = fork_generation()

    def _lane(self, runner: Laned, prefer: int = 0) -> int:
        """Pick the pool for a request (lock held): ``prefer`` if it has a free thread.

        The running and parked together never pass ``2 * max_threads``, so one
        of the two pools always has room: nothing waits in a pool's own queue
        except behind the very thread that just released its slot there.
        """
        busy = self._busy
        lane = prefer if busy[prefer] < self.max_threads else 1 - prefer
        busy[lane] += 1
        runner.lane = lane
        return lane

    def admit(self, hop: Hop, runner: Laned) -> bool:
        """Run ``hop`` now or queue it; False when the line is full (nothing was done)."""
        if self._generation != fork_generation():
            self._after_fork()
        with self._lock:
            if self.running < self.max_threads:
                self.running += 1
                lane = self._lane(runner)
            elif self.max_queued is not None and len(self._line) >= self.max_queued:
                self.rejected += 1
                return False
            else:
                self._line.append((hop, runner))
                return True
        self.pools[lane].get().submit(hop)
        return True

    def release(self, lane: int) -> None:
        """A request's WSGI work ended on a thread of pool ``lane``: start the next queued one.

        The next one goes to the same pool: the thread releasing picks it up
        as soon as it is free (no new thread, and the warm one is reused).
        """
        with self._lock:
            self._busy[lane] -= 1
            if not self._line:
                self.running -= 1
                return
            hop, runner = self._line.popleft()
            lane = self._lane(runner, lane)
        self.pools[lane].get().submit(hop)

    def park(self) -> bool:
        """This request waits for its client: lend its slot out; False if too many are parked."""
        with self._lock:
            if self.parked >= self.max_threads:
                return False
            self.parked += 1
            if not self._line:
                self.running -= 1
                return True
            hop, runner = self._line.popleft()  # the slot passes straight to it
            lane = self._lane(runner)
        self.pools[lane].get().submit(hop)
        return True

    def unpark(self) -> None:
        """Data came for a parked request: it runs again (may pass ``max_threads`` briefly)."""
        with self._lock:
            self.parked -= 1
            self.running += 1

    def withdraw(self, hop: Hop) -> bool:
        """Take a cancelled request out of the line; False if it was already admitted."""
        with self._lock:
            for entry in self._line:
                if entry[0] is hop:
                    self._line.remove(entry)
                    return True
            return False

    @property
    def queued(self) -> int:
        """Requests waiting for a thread now."""
        return len(self._line)

    def stats(self) -> dict[str, Any]:
        """``running``, ``parked``, ``queued``, ``max_queued``, ``rejected`` (503s so far)."""
        with self._lock:
            return {
                "running": self.running,
                "parked": self.parked,
                "queued": len(self._line),
                "max_queued": self.max_queued,
                "rejected": self.rejected,
            }


def wsgi_stats() -> dict[str, int]:
    """The counts of every live WsgiToAsgi adapter, summed.

    Returns:
        ``wsgi_running`` (requests on adapter threads), ``wsgi_queued``
        (requests waiting for one) and ``wsgi_rejected`` (503s answered
        because a line was full).

    Example:
        >>> sorted(wsgi_stats())
        ['wsgi_queued', 'wsgi_rejected', 'wsgi_running']
    """
    running = queued = rejected = 0
    for admission in list(_live):
        counts = admission.stats()
        running += counts["running"]
        queued += counts["queued"]
        rejected += counts["rejected"]
    return {"wsgi_running": running, "wsgi_queued": queued, "wsgi_rejected": rejected}


def stats() -> dict[str, Any]:
    """The runtime's statistics (`asgibridge.runtime_stats` and more) plus `wsgi_stats`.

    Returns:
        A new dict with the keys of the runtime's ``stats()``
        (``abandoned_calls``, ``abandoned_by_function``, ``hop_listeners``,
        ...) and ``wsgi_running``, ``wsgi_queued``, ``wsgi_rejected``
        (summed over the live `WsgiToAsgi` adapters).

    Example:
        >>> stats()["wsgi_queued"]
        0
    """
    result = runtime_stats()
    result.update(wsgi_stats())
    return result
