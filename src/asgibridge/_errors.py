"""Every exception and warning class asgibridge raises, in one place.

Rules:

- Each class subclasses `AsgiBridgeError` *and* the built-in exception asgiref
  raises in the same situation, so `except RuntimeError` / `except TypeError`
  written against asgiref keeps working.
- `args[0]` is asgiref's own message where asgiref has one (code and tests
  compare it), and `str()` adds what was expected and what to do: the *hint*.
- Stdlib only; this module is a leaf that every layer may import.
"""

from __future__ import annotations

__all__ = (
    "AsgiBridgeError",
    "AsgirefAlreadyImportedError",
    "AsyncToSyncInLoopError",
    "BridgeDeadlockError",
    "CurrentThreadExecutorError",
    "ExecutorGoneError",
    "LoopUnavailableError",
    "NonAsyncCallableWarning",
    "SyncToAsyncTypeError",
    "ThreadSensitiveContextError",
    "WorkerDiedError",
)


class AsgiBridgeError(Exception):
    """Base class of every error asgibridge raises.

    Args:
        message: what happened (asgiref's wording where asgiref has one).
        hint: what was expected and what to do; appended by ``str()``.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} {self.hint}" if self.hint else base


class SyncToAsyncTypeError(AsgiBridgeError, TypeError):
    """`sync_to_async` was given something that is not a sync callable."""


class CurrentThreadExecutorError(AsgiBridgeError, RuntimeError):
    """A `CurrentThreadExecutor` was used from the wrong thread."""


class ExecutorGoneError(AsgiBridgeError, RuntimeError):
    """Thread-sensitive work was sent to a sync caller that has already returned.

    Raised when a task outlives the `async_to_sync` call that started it and
    no enclosing sync caller is still waiting to run its sync work.
    """


class AsyncToSyncInLoopError(AsgiBridgeError, RuntimeError):
    """`async_to_sync` was called on a thread whose event loop is running."""


class ThreadSensitiveContextError(AsgiBridgeError, RuntimeError):
    """A `ThreadSensitiveContext` was entered twice or used after it exited."""


class BridgeDeadlockError(AsgiBridgeError, RuntimeError):
    """A bridge wait can never finish (a cycle), or outlived the hang deadline."""


class LoopUnavailableError(AsgiBridgeError, RuntimeError):
    """The event loop a bridge call waits on was closed, or its thread died."""


class WorkerDiedError(AsgiBridgeError, RuntimeError):
    """The thread that was to run (or was running) a sync call is gone."""


class AsgirefAlreadyImportedError(AsgiBridgeError, ImportError):
    """`install_as_asgiref()` was called after the real asgiref was imported."""


class NonAsyncCallableWarning(UserWarning):
    """`async_to_sync` was given a callable that is not marked as async.

    Python cannot always tell (callable objects, partials of async functions),
    so this is a warning, as in asgiref.
    """
