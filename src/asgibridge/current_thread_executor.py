"""`CurrentThreadExecutor`: how a sync thread blocked in async_to_sync serves sync work."""

from ._runtime.threads._executor import CurrentThreadExecutor

__all__ = ("CurrentThreadExecutor",)
