"""The bridges: one hop from a coroutine to a thread and back (`sync_to_async`)
and from a thread into a loop (`async_to_sync`), with their state machine,
context carry-back and deadlines.

Imports `threads`, `observe`, `host` and `_runtime._state`.
"""
