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
moment. At most ``max_threads`` requests are parked; the pool has
``2 * max_threads`` threads, so a parked request never makes another wait
for a thread. Hazard this closes: a client that sends more than the
adapter buffers before the app starts (``receive_buffer_size``) and then
stalls would hold its slot until ``body_timeout``; ``max_threads`` of them
would stop the site.

The counts of every live adapter are summed by `wsgi_stats`; `stats` adds
them to the runtime's statistics (it is ``asgibridge.instrumentation.stats``).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from typing import Any

from .._runtime import _state
from .._runtime._hop import Hop
from .._runtime._lifecycle import stats as runtime_stats
from ._wsgi_pool import AdapterPool

__all__ = ("Admission", "stats", "wsgi_stats")

_live: weakref.WeakSet[Admission] = weakref.WeakSet()


class Admission:
    """The running requests and the line of one adapter.

    Args:
        pool: the adapter's thread pool (room for the running and the parked).
        max_queued: most requests waiting for a thread (None: no bound).
        max_threads: most requests running at once (and most parked).

    Example:
        >>> admission = Admission(AdapterPool(2), max_queued=0, max_threads=1)
        >>> admission.stats()
        {'running': 0, 'parked': 0, 'queued': 0, 'max_queued': 0, 'rejected': 0}
    """

    __slots__ = (
        "__weakref__",
        "_generation",
        "_line",
        "_lock",
        "max_queued",
        "max_threads",
        "parked",
        "pool",
        "rejected",
        "running",
    )

    def __init__(self, pool: AdapterPool, max_queued: int | None, max_threads: int) -> None:
        self.pool = pool
        self.max_queued = max_queued
        self.max_threads = max_threads
        self.running = 0
        self.parked = 0
        self.rejected = 0
        self._line: deque[Hop] = deque()
        self._lock = threading.Lock()
        self._generation = _state.generation
        _live.add(self)

    def _after_fork(self) -> None:
        # Hazard (fork): the parent's requests, counts and line do not exist in
        # a child, and our lock may have been held by a thread that does not.
        with _state.lock:
            if self._generation != _state.generation:
                self._lock = threading.Lock()
                self._line = deque()
                self.running = self.parked = 0
                self._generation = _state.generation

    def admit(self, hop: Hop) -> bool:
        """Run ``hop`` now or queue it; False when the line is full (nothing was done)."""
        if self._generation != _state.generation:
            self._after_fork()
        with self._lock:
            if self.running < self.max_threads:
                self.running += 1
            elif self.max_queued is not None and len(self._line) >= self.max_queued:
                self.rejected += 1
                return False
            else:
                self._line.append(hop)
                return True
        self.pool.get().submit(hop)
        return True

    def release(self) -> None:
        """An admitted request's WSGI work ended (on its thread): start the next queued one."""
        with self._lock:
            if not self._line:
                self.running -= 1
                return
            hop = self._line.popleft()
        self.pool.get().submit(hop)

    def park(self) -> bool:
        """This request waits for its client: lend its slot out; False if too many are parked."""
        with self._lock:
            if self.parked >= self.max_threads:
                return False
            self.parked += 1
            if not self._line:
                self.running -= 1
                return True
            hop = self._line.popleft()  # the slot passes straight to it
        self.pool.get().submit(hop)
        return True

    def unpark(self) -> None:
        """Data came for a parked request: it runs again (may pass ``max_threads`` briefly)."""
        with self._lock:
            self.parked -= 1
            self.running += 1

    def withdraw(self, hop: Hop) -> bool:
        """Take a cancelled request out of the line; False if it was already admitted."""
        with self._lock:
            try:
                self._line.remove(hop)
            except ValueError:
                return False
            return True

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
