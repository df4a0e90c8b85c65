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

import sys
from typing import TYPE_CHECKING

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
    "AsgiSpecError",
    "AppSpecError",
    "ServerSpecError",
    "AsgiSpecWarning",
    "ApplicationTimeoutError",
    "ApplicationNotRunningError",
    "ClientDisconnected",
    "WebSocketDenied",
    "WebSocketClosed",
    "LifespanUnsupportedError",
    "LifespanStartupError",
    "LifespanShutdownError",
    "LocalSubclassError",
    "LocalReservedNameError",
    "LocalCopyError",
    "WsgiProtocolError",
    "UnsupportedScopeError",
    "RequestBodyTooLargeError",
    "IteratorLoopChangedError",
    "GreenThreadsError",
    "ConfigTypeError",
    "ConfigValueError",
    "RequestBodyTimeoutError",
)


class AsgiBridgeError(Exception):
    """Base class of every error asgibridge raises.

    Args:
        message: what happened (asgiref's wording where asgiref has one).
        hint: what was expected and what to do; appended by ``str()``.

    Example:
        >>> err = AsgiBridgeError("the loop is closed", "Start a new one.")
        >>> err.args[0]
        'the loop is closed'
        >>> str(err)
        'the loop is closed Start a new one.'
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} {self.hint}" if self.hint else base


class SyncToAsyncTypeError(AsgiBridgeError, TypeError):
    """`sync_to_async` was given something that is not a sync callable.

    Example:
        >>> issubclass(SyncToAsyncTypeError, TypeError)
        True
    """


class CurrentThreadExecutorError(AsgiBridgeError, RuntimeError):
    """A `CurrentThreadExecutor` was used from the wrong thread.

    Example:
        >>> issubclass(CurrentThreadExecutorError, RuntimeError)
        True
    """


class ExecutorGoneError(AsgiBridgeError, RuntimeError):
    """Thread-sensitive work was sent to a sync caller that has already returned.

    Raised when a task outlives the `async_to_sync` call that started it and
    no enclosing sync caller is still waiting to run its sync work.

    Example:
        >>> issubclass(ExecutorGoneError, RuntimeError)
        True
    """


class AsyncToSyncInLoopError(AsgiBridgeError, RuntimeError):
    """`async_to_sync` was called on a thread whose event loop is running.

    Example:
        >>> issubclass(AsyncToSyncInLoopError, RuntimeError)
        True
    """


class ThreadSensitiveContextError(AsgiBridgeError, RuntimeError):
    """A `ThreadSensitiveContext` was entered twice or used after it exited.

    Example:
        >>> issubclass(ThreadSensitiveContextError, RuntimeError)
        True
    """


class BridgeDeadlockError(AsgiBridgeError, RuntimeError):
    """A bridge wait can never finish (a cycle), or outlived the hang deadline.

    Example:
        >>> issubclass(BridgeDeadlockError, RuntimeError)
        True
    """


class LoopUnavailableError(AsgiBridgeError, RuntimeError):
    """The event loop a bridge call waits on was closed, or its thread died.

    Example:
        >>> issubclass(LoopUnavailableError, RuntimeError)
        True
    """


class WorkerDiedError(AsgiBridgeError, RuntimeError):
    """The thread that was to run (or was running) a sync call is gone.

    Example:
        >>> issubclass(WorkerDiedError, RuntimeError)
        True
    """


class AsgirefAlreadyImportedError(AsgiBridgeError, ImportError):
    """`install_as_asgiref()` was called after the real asgiref was imported.

    Example:
        >>> issubclass(AsgirefAlreadyImportedError, ImportError)
        True
    """


class NonAsyncCallableWarning(UserWarning):
    """`async_to_sync` was given a callable that is not marked as async.

    Python cannot always tell (callable objects, partials of async functions),
    so this is a warning, as in asgiref.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warnings.warn(NonAsyncCallableWarning("not marked as async"))
        >>> caught[0].category is NonAsyncCallableWarning
        True
        >>> issubclass(NonAsyncCallableWarning, UserWarning)
        True
    """


class AsgiSpecError(AsgiBridgeError, ValueError):
    """An ASGI scope or event broke the spec (base of `AppSpecError` / `ServerSpecError`).

    A `ValueError` because the offending thing is a value of the right Python
    type (a dict) whose content or order is wrong for the protocol; asgiref has
    no validator, and the spec only asks servers to "raise an exception out of
    the send awaitable" for an invalid event, so ``except ValueError`` is the
    natural catch-all.

    Args:
        message: ``[rule-id] what was seen``.
        hint: what the spec expects and where it says so.
        rule_id: the stable id of the broken rule (see ``asgibridge.validation.RULES``).
        section_url: the spec section the rule comes from.
        violation: the structured `Violation` (``asgibridge.validation``), if any.

    Example:
        >>> err = AppSpecError("[x] bad", "fix it", rule_id="x")
        >>> isinstance(err, ValueError), err.rule_id
        (True, 'x')
    """

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        rule_id: str = "",
        section_url: str = "",
        violation: object = None,
    ) -> None:
        super().__init__(message, hint)
        self.rule_id = rule_id
        self.section_url = section_url
        self.violation = violation


class AppSpecError(AsgiSpecError):
    """The application broke the ASGI spec (a bad ``send`` event, order, or return).

    Example:
        >>> issubclass(AppSpecError, ValueError)
        True
    """


class ServerSpecError(AsgiSpecError):
    """The server (or test harness) broke the ASGI spec (a bad scope or ``receive`` event).

    Example:
        >>> issubclass(ServerSpecError, ValueError)
        True
    """


class AsgiSpecWarning(UserWarning):
    """A spec violation reported by ``asgibridge.validation.guard(app, mode="warn")``.

    Example:
        >>> issubclass(AsgiSpecWarning, UserWarning)
        True
    """


# asyncio.TimeoutError is the built-in TimeoutError only from Python 3.11; on
# 3.10, code written for asyncio catches the asyncio one, so inherit both there.
if sys.version_info >= (3, 11):

    class _TimeoutBase(TimeoutError):
        pass

else:
    from asyncio.exceptions import TimeoutError as _AsyncioTimeoutError

    class _TimeoutBase(TimeoutError, _AsyncioTimeoutError):
        pass


class ApplicationTimeoutError(AsgiBridgeError, _TimeoutBase):
    """An ASGI application did not send, finish or answer within the allowed time.

    Raised by ``ApplicationCommunicator.receive_output`` / ``wait`` (where
    asgiref raises a bare `TimeoutError`), by lifespan startup/shutdown, and
    by the sync faces of the test client when their deadline passes.

    Example:
        >>> issubclass(ApplicationTimeoutError, TimeoutError)
        True
    """


# asyncio.CancelledError is a base of ApplicationNotRunningError, but this leaf
# must not import asyncio (the sans-I/O validator imports it, and asyncio costs
# ~100 modules): the class is made on first access (PEP 562). Checkers see the
# same class, declared below.
_NOT_RUNNING_DOC = """The application instance was already cancelled (by a timeout or ``stop()``).

    Raised by ``ApplicationCommunicator.send_input`` / ``receive_output`` /
    ``receive_nothing`` where asgiref re-raises the cancelled task's
    `asyncio.CancelledError`: it *is* a ``CancelledError`` (Channels' tests
    expect one), and an `AsgiBridgeError` whose message says why.

    Example:
        >>> import asyncio
        >>> issubclass(ApplicationNotRunningError, asyncio.CancelledError)
        True
    """

if TYPE_CHECKING:
    import asyncio

    class ApplicationNotRunningError(AsgiBridgeError, asyncio.CancelledError):
        """The application instance was already cancelled (by a timeout or ``stop()``).

        Raised by ``ApplicationCommunicator.send_input`` / ``receive_output``
        where asgiref re-raises the cancelled task's `asyncio.CancelledError`:
        it *is* a ``CancelledError`` (and an `AsgiBridgeError` that says why).
        """

else:

    def __getattr__(name: str) -> object:
        if name != "ApplicationNotRunningError":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import asyncio

        class ApplicationNotRunningError(AsgiBridgeError, asyncio.CancelledError):
            __doc__ = _NOT_RUNNING_DOC
            __qualname__ = "ApplicationNotRunningError"

        globals()[name] = ApplicationNotRunningError
        return ApplicationNotRunningError


class ClientDisconnected(AsgiBridgeError, ConnectionResetError):
    """The (test) client went away.

    Raised out of the application's ``send()`` after the client disconnected
    (the ASGI spec asks for "a server-specific subclass of OSError" there),
    and raised by a test from a request-body iterator to make the test
    client disconnect mid-body; the client call then raises it too.

    Example:
        >>> def body():
        ...     yield b"first half"
        ...     raise ClientDisconnected()
    """

    def __init__(self, message: str = "the client disconnected", hint: str = "") -> None:
        super().__init__(message, hint)


class WebSocketDenied(AsgiBridgeError, ConnectionRefusedError):
    """The application refused a WebSocket handshake.

    It closed before accepting (the spec turns that into HTTP 403) or sent a
    denial response (``websocket.http.response.*``). ``status_code``,
    ``headers`` (list of byte pairs) and ``body`` hold the HTTP response.

    Example:
        >>> err = WebSocketDenied("handshake refused", status_code=403)
        >>> err.status_code, err.headers, err.body
        (403, [], b'')
        >>> isinstance(err, ConnectionRefusedError)
        True
    """

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        status_code: int = 403,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.headers = headers if headers is not None else []
        self.body = body


class WebSocketClosed(AsgiBridgeError, ConnectionError):
    """A WebSocket session is closed: ``code`` and ``reason`` say how.

    Example:
        >>> err = WebSocketClosed("closed", code=1001, reason="going away")
        >>> err.code, err.reason
        (1001, 'going away')
        >>> isinstance(err, ConnectionError)
        True
    """

    def __init__(
        self, message: str, hint: str = "", *, code: int = 1000, reason: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.code = code
        self.reason = reason


class LifespanUnsupportedError(AsgiBridgeError, RuntimeError):
    """The application does not speak the lifespan protocol.

    It raised (or returned) on the ``lifespan`` scope before calling
    ``receive()``: Django's ASGI handler does this, for example.

    Example:
        >>> issubclass(LifespanUnsupportedError, RuntimeError)
        True
    """


class LifespanStartupError(AsgiBridgeError, RuntimeError):
    """Lifespan startup failed: the app sent ``lifespan.startup.failed`` or raised.

    Example:
        >>> issubclass(LifespanStartupError, RuntimeError)
        True
    """


class LifespanShutdownError(AsgiBridgeError, RuntimeError):
    """Lifespan shutdown failed: the app sent ``lifespan.shutdown.failed`` or raised.

    Example:
        >>> issubclass(LifespanShutdownError, RuntimeError)
        True
    """


class LocalSubclassError(AsgiBridgeError, TypeError):
    """`asgibridge.local.Local` was subclassed (it is final, as in asgiref).

    Example:
        >>> issubclass(LocalSubclassError, TypeError)
        True
    """


class LocalReservedNameError(AsgiBridgeError, AttributeError):
    """A `Local` attribute name that asgiref reserves (``_data``) was assigned.

    Example:
        >>> issubclass(LocalReservedNameError, AttributeError)
        True
    """


class LocalCopyError(AsgiBridgeError, TypeError):
    """A `Local` was copied or pickled (its values live in contexts and threads, as in asgiref).

    Example:
        >>> issubclass(LocalCopyError, TypeError)
        True
    """


class WsgiProtocolError(AsgiBridgeError, ValueError):
    """A WSGI application broke PEP 3333 (``start_response`` misuse, body before headers).

    Example:
        >>> isinstance(WsgiProtocolError("start_response called twice"), ValueError)
        True
    """


class UnsupportedScopeError(AsgiBridgeError, ValueError):
    """`WsgiToAsgi` received a scope type it cannot serve (not http, websocket or lifespan).

    Example:
        >>> str(UnsupportedScopeError("WSGI wrapper received a non-HTTP scope", "(type 'x')"))
        "WSGI wrapper received a non-HTTP scope (type 'x')"
    """


class RequestBodyTooLargeError(AsgiBridgeError, OSError):
    """The request body is larger than the adapter's ``max_body_size``.

    An `OSError` so that frameworks turn it into a "bad request" the way they
    treat any unreadable body (Django raises ``UnreadablePostError``).

    Example:
        >>> isinstance(RequestBodyTooLargeError("body over 10 bytes"), OSError)
        True
    """


class IteratorLoopChangedError(AsgiBridgeError, RuntimeError):
    """`async_iter_to_sync` would drive an async iterator on another loop than its first.

    Example:
        >>> issubclass(IteratorLoopChangedError, RuntimeError)
        True
    """


class GreenThreadsError(AsgiBridgeError, RuntimeError):
    """gevent or eventlet patched ``threading`` (or queues): the bridge needs real threads.

    Example:
        >>> issubclass(GreenThreadsError, RuntimeError)
        True
    """


class ConfigTypeError(AsgiBridgeError, TypeError):
    """A runtime option (``configure()`` or an ``ASGIBRIDGE_*`` variable) has the wrong type.

    Example:
        >>> issubclass(ConfigTypeError, TypeError)
        True
    """


class ConfigValueError(AsgiBridgeError, ValueError):
    """A runtime option (``configure()`` or an ``ASGIBRIDGE_*`` variable) is out of range.

    Example:
        >>> issubclass(ConfigValueError, ValueError)
        True
    """


class RequestBodyTimeoutError(AsgiBridgeError, TimeoutError):
    """The request body stopped arriving for longer than the adapter's ``body_timeout``.

    A `TimeoutError`, hence an `OSError` like `ClientDisconnected`: code that
    treats an unreadable body as a bad request (Django's
    ``UnreadablePostError``) handles it the same way.

    Example:
        >>> isinstance(RequestBodyTimeoutError("no body data for 30 s"), OSError)
        True
    """
