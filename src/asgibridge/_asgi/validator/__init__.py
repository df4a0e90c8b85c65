"""The ASGI spec validator: per-protocol state machines, their rules and checks, the guard.

`machines.validator_for` is the entry point; `rules` is the rule catalogue;
`checks`, `check_context` and `headers` check keys and values; `base`, `http`,
`websocket` and `lifespan` are the state machines; `guard` is the middleware
that runs them around a live app. Everything but `guard` is sans-I/O.
"""
