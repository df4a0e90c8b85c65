"""Every exception and warning asgibridge raises (each also subclasses asgiref's built-in)."""

from ._errors import (
    AsgiBridgeError,
    AsgirefAlreadyImportedError,
    AsyncToSyncInLoopError,
    BridgeDeadlockError,
    CurrentThreadExecutorError,
    ExecutorGoneError,
    LoopUnavailableError,
    NonAsyncCallableWarning,
    SyncToAsyncTypeError,
    ThreadSensitiveContextError,
    WorkerDiedError,
)

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
