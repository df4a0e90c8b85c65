"""Threads the runtime owns: supervision, executors, the sticky worker pool, loop
threads, routing of a call to its thread, thread-sensitive scopes and portals.

Knows nothing of a hop's meaning: it runs callables and loops. Imports
`observe`, `host` and `_runtime._state`.
"""
