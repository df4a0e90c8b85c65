"""AsgiToWsgi: serve an ASGI application from a WSGI server (gunicorn, waitress, mod_wsgi).

Theory of operation: the ASGI app runs on one persistent event loop per
process, in a runtime `LoopThread` made lazily at the first request, never at
construction. A pre-fork server (gunicorn with several workers) therefore
gets one loop per worker, made after the fork; a loop inherited across a
fork (its thread does not exist in the child) is recognised by the runtime's
fork generation and replaced. Each WSGI request thread then steps with its
request's task (`exchange`).

Lifespan: before the first request that makes a loop, the app's lifespan
``startup`` runs on it (runtime `LifespanManager`), once; the other request
threads wait for it. An app that does not speak lifespan is served without
(``lifespan="auto"``). A failed startup is logged with its reason and every
request of that loop is answered 500. ``shutdown`` runs from `close()`, and
at interpreter exit.

Rules: nothing here starts a thread or a loop at import or construction; the
loop thread holds a permanent lease (``acquire``) so it never stops for idleness
while the adapter needs it; ``asgibridge.shutdown()`` may still stop it, and
the next request then makes a new one (and runs startup again).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

from ..._errors import (
    BridgeDeadlockError,
    LifespanUnsupportedError,
    with_notes,
)
from ..._runtime import LoopThread, fork_generation, fork_lock
from ..callables import guarantee_single_callable
from ..lifespan.manager import LifespanManager
from .environ import build_scope
from .exchange import Exchange
from .headers import positive_timeout

__all__ = ("AsgiToWsgi",)

logger = logging.getLogger("asgibridge.wsgi")

_FAILED_BODY = b"Internal Server Error"
_MARGIN = 5.0  # seconds a thread waits beyond the app's own deadline


class _Runtime:
    """The loop of one process (fork generation) and the app's lifespan on it."""

    __slots__ = ("failure", "generation", "loop_thread", "manager", "state")

    def __init__(self, loop_thread: LoopThread) -> None:
        self.loop_thread = loop_thread
        self.generation = fork_generation()
        self.manager: LifespanManager | None = None
        self.state: dict[str, Any] | None = None
        self.failure: str | None = None

    def usable(self) -> bool:
        loop_thread = self.loop_thread
        return (
            self.generation == fork_generation()
            and not loop_thread.stopping
            and loop_thread.thread.is_alive()
        )


class AsgiToWsgi:
    """Wrap an ASGI (3, or 2) application into a WSGI (PEP 3333) application.

    Args:
        asgi_application: the ASGI app.
        lifespan: ``"auto"`` runs lifespan startup/shutdown if the app speaks
            it; ``"on"`` requires it (failure answers 500); ``"off"`` skips it.
        startup_timeout: seconds lifespan startup may take.
        shutdown_timeout: seconds lifespan shutdown may take.
        background_timeout: seconds a request's WSGI thread waits, after the
            response, for the app to finish (background tasks); the app is
            left running past that, with a warning.
        chunk_size: bytes read from ``wsgi.input`` per ``http.request`` message.
        send_buffer_size: response bytes the app may send ahead of the WSGI
            server before its ``send`` waits (also at most 64 messages).
        response_timeout: seconds the app may take to send
            ``http.response.start``; past it the app is cancelled, an error
            naming it is logged and the request is answered 504. None: no
            limit (a hung app then holds the WSGI thread for good).

    Raises:
        TypeError: a timeout that is not a number (or None).
        ValueError: an unknown ``lifespan`` mode, a size below 1, or a
            timeout that is not positive.
        BridgeDeadlockError: (per request) called on the adapter's own loop
            thread, or another thread's lifespan startup outlived its deadline.
        LoopUnavailableError: (per request) the loop thread was stopped while
            the request ran.
        AppSpecError: (per request) the app returned without a response.

    Example:
        >>> async def app(scope, receive, send):
        ...     await send({"type": "http.response.start", "status": 200, "headers": []})
        ...     await send({"type": "http.response.body", "body": b"hello"})
        >>> wsgi_app = AsgiToWsgi(app)
        >>> # gunicorn -w 2 module:wsgi_app
    """

    def __init__(
        self,
        asgi_application: Callable[..., Any],
        *,
        lifespan: Literal["auto", "on", "off"] = "auto",
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
        background_timeout: float = 10.0,
        chunk_size: int = 65536,
        send_buffer_size: int = 1 << 20,
        response_timeout: float | None = 60.0,
    ) -> None:
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        if chunk_size < 1 or send_buffer_size < 1:
            raise ValueError("chunk_size and send_buffer_size must be at least 1")
        self.response_timeout = positive_timeout("response_timeout", response_timeout)
        self.asgi_application = asgi_application
        self.lifespan = lifespan
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.background_timeout = background_timeout
        self.chunk_size = chunk_size
        self.send_buffer_size = send_buffer_size
        self._app = guarantee_single_callable(asgi_application)
        self._runtime: _Runtime | None = None
        self._lock: threading.Lock | None = None
        self._lock_generation = -1
        self._exit_hook = False

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """WSGI entry point: serve one request."""
        runtime = self._runtime
        if runtime is None or not runtime.usable():
            runtime = self._make_runtime()
        if runtime.failure is not None:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(_FAILED_BODY)))],
            )
            return [_FAILED_BODY]
        loop_thread = runtime.loop_thread
        if loop_thread.thread.ident == threading.get_ident():
            raise BridgeDeadlockError(
                "AsgiToWsgi was called on the event loop thread that runs its ASGI app.",
                "That thread would wait on itself forever. Call the WSGI app from another "
                "thread (a WSGI server's worker), or await the ASGI app directly.",
            )
        scope = build_scope(environ, runtime.state)
        exchange = Exchange(
            self._app, scope, environ, loop_thread, self.chunk_size, self.send_buffer_size
        )
        return exchange.respond(start_response, self.background_timeout, self.response_timeout)

    # -- the per-process runtime ----------------------------------------------------

    def _creation_lock(self) -> threading.Lock:
        # Hazard (fork): a lock held by another thread at fork time stays held
        # forever in the child; make a new one per fork generation.
        with fork_lock():
            if self._lock is None or self._lock_generation != fork_generation():
                self._lock = threading.Lock()
                self._lock_generation = fork_generation()
            return self._lock

    def _make_runtime(self) -> _Runtime:
        lock = self._creation_lock()
        if not lock.acquire(timeout=self.startup_timeout + _MARGIN):
            raise BridgeDeadlockError(
                "timed out waiting for another thread to start the ASGI app's loop.",
                f"Its lifespan startup has run for more than {self.startup_timeout} s "
                "(startup_timeout) without finishing.",
            )
        try:
            runtime = self._runtime
            if runtime is not None and runtime.usable():
                return runtime
            loop_thread = LoopThread("AsgiToWsgi")
            # A permanent lease: the loop must not stop itself for idleness.
            loop_thread.acquire()
            runtime = _Runtime(loop_thread)
            if self.lifespan != "off":
                self._start_lifespan(runtime)
            self._runtime = runtime
            if not self._exit_hook:
                self._exit_hook = True
                atexit.register(_close_at_exit, weakref.ref(self))
            return runtime
        finally:
            lock.release()

    def _start_lifespan(self, runtime: _Runtime) -> None:
        async def startup() -> LifespanManager:
            manager = LifespanManager(
                self._app,
                startup_timeout=self.startup_timeout,
                shutdown_timeout=self.shutdown_timeout,
            )
            await manager.startup()
            return manager

        future = asyncio.run_coroutine_threadsafe(startup(), runtime.loop_thread.loop)
        try:
            manager = future.result(self.startup_timeout + _MARGIN)
        except LifespanUnsupportedError as exc:
            if self.lifespan == "on":
                runtime.failure = with_notes(exc)
                logger.error("ASGI lifespan startup failed: %s", runtime.failure)
            return
        except Exception as exc:
            future.cancel()
            runtime.failure = with_notes(exc) or repr(exc)
            logger.error(
                "ASGI lifespan startup failed; every request will be answered 500: %s",
                runtime.failure,
                exc_info=exc,
            )
            return
        runtime.manager = manager
        runtime.state = manager.state

    # -- ending ------------------------------------------------------------------------

    def close(self, timeout: float | None = None) -> None:
        """Run lifespan shutdown (if startup ran here) and stop the loop thread.

        The next request starts a new loop (and startup) again. Safe to call
        more than once, and from a forked child (the parent's loop is left alone).

        Args:
            timeout: seconds for shutdown and for the loop thread to end
                (default: ``shutdown_timeout``).
        """
        runtime, self._runtime = self._runtime, None
        if runtime is None or runtime.generation != fork_generation():
            return
        wait = self.shutdown_timeout if timeout is None else timeout
        loop_thread = runtime.loop_thread
        manager = runtime.manager
        if manager is not None and runtime.usable():
            future = asyncio.run_coroutine_threadsafe(manager.shutdown(), loop_thread.loop)
            try:
                future.result(wait + _MARGIN)
            except Exception as exc:
                future.cancel()
                logger.error("ASGI lifespan shutdown failed: %s", exc, exc_info=exc)
        loop_thread.stop()
        if loop_thread.thread is not threading.current_thread():
            loop_thread.thread.join(wait)


def _close_at_exit(ref: weakref.ref[AsgiToWsgi]) -> None:
    adapter = ref()
    if adapter is not None:
        adapter.close()
