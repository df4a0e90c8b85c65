"""ASGI-level pieces: the spec, adapters, testing and serving helpers (may use `_runtime`)."""
