"""Instrumentation hooks for APM agents and per-call resource cleanup.

`add_hop_listener` reports every bridge call (sync_to_async and
async_to_sync) with its function, direction, thread, loop, queue wait, run
time and exception; `add_thread_handler` wraps every sync_to_async function
in a context manager on its own thread; `stats` reports the runtime's
counters, including abandoned calls by function name, and the WsgiToAsgi
requests running and waiting for a thread. Nothing registered
costs nothing. See ``docs/instrumentation.md``.
"""

from ._asgi.wsgi.admission import stats
from ._runtime.observe._hooks import HopInfo, Registration, add_hop_listener, add_thread_handler

__all__ = ("HopInfo", "Registration", "add_hop_listener", "add_thread_handler", "stats")
