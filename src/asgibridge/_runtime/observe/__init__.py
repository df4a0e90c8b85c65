"""Observation: hop listeners, counters, the runtime logger, names for diagnostics.

Nothing here blocks or owns a thread; the bridges and threads rooms report
into it. Imports `host` and `_runtime._state` only.
"""
