"""Instrumentation hooks: hop listeners, thread handlers, and the traced-path flag.

APM agents and database-cleanup code register here instead of monkeypatching
the bridge. A *hop* is one bridge call: a sync function run by sync_to_async,
or a coroutine run by async_to_sync.

Theory of operation: the registries are tuples in `_state`, replaced whole
under ``_state.lock``; the bridge reads ``_state.traced`` (one module
attribute) on its hot path and only when it is true builds a `HopInfo` and
calls `emit_start` / `emit_end`. `refresh` recomputes the flag whenever a
registry or the hang deadline changes.

Rules: a listener or a thread handler that raises is logged on the
"asgibridge" logger and never breaks the call (a handler's ``__exit__`` error
is logged too; the function's own outcome is what the caller gets).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import _state
from ._names import function_name, iterable_name
from ._stats import logger  # the runtime's one logger, "asgibridge"

__all__ = (
    "HopInfo",
    "HopListener",
    "Registration",
    "ThreadHandler",
    "add_hop_listener",
    "add_thread_handler",
    "emit_end",
    "emit_start",
    "function_name",
    "iterable_name",
    "note_thread",
    "refresh",
    "register_listener",
    "register_thread_handler",
    "run_with_handlers",
    "unregister_listener",
    "unregister_thread_handler",
)


Direction = Literal["sync_to_async", "async_to_sync"]


@dataclass(eq=False)
class HopInfo:
    """What is known about one bridge call (filled in as the call progresses).

    Attributes:
        function: the sync function (sync_to_async) or async callable
            (async_to_sync); for a streaming bridge's call, the iterable
            (``sync_iter_to_async``: one production batch, or the final
            ``close()``, is one sync_to_async call; ``async_iter_to_sync``: one
            item is one async_to_sync call).
        direction: ``"sync_to_async"`` or ``"async_to_sync"``.
        loop: the event loop on the async side of the call.
        thread_name, thread_ident: the thread that ran the sync function
            (sync_to_async) or the sync caller that waited (async_to_sync);
            None until known.
        queue_wait: seconds between submission and the start of the run.
        run_time: seconds the function or coroutine ran.
        exception: what it raised, or None.
        cancelled: the awaiting side gave up before the run started (it was skipped).
        label: the name to report when ``function`` is not a function (an
            iterable), fixed when the call is made; None: derived from ``function``.

    Example:
        >>> import asyncio
        >>> from asgibridge.sync import sync_to_async
        >>> seen: list[HopInfo] = []
        >>> with add_hop_listener(on_end=lambda info, _state: seen.append(info)):
        ...     asyncio.run(sync_to_async(len)("abc"))
        3
        >>> (seen[0].direction, seen[0].name, seen[0].exception)
        ('sync_to_async', 'builtins.len', None)
    """

    function: Callable[..., Any] | Iterable[Any] | AsyncIterable[Any]
    direction: Direction
    loop: asyncio.AbstractEventLoop | None
    thread_name: str | None = None
    thread_ident: int | None = None
    queue_wait: float | None = None
    run_time: float | None = None
    exception: BaseException | None = None
    cancelled: bool = False
    label: str | None = field(default=None, repr=False)
    submitted_at: float = field(default=0.0, repr=False)
    states: list[Any] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        """The function's qualified name (for span and log names)."""
        label = self.label
        return function_name(self.function) if label is None else label


HopListener = tuple[Callable[[HopInfo], Any] | None, Callable[[HopInfo, Any], None] | None]
ThreadHandler = Callable[[HopInfo], AbstractContextManager[Any]]


def refresh() -> None:
    """Recompute ``_state.traced`` from the registries and the hang deadline."""
    _state.traced = bool(
        _state.hop_listeners or _state.thread_handlers or _state.config["hang_timeout"] is not None
    )


def _register(registry: str, entry: Any) -> None:
    """Append ``entry`` to the ``_state`` tuple named ``registry`` (copy-on-write, locked)."""
    with _state.lock:
        setattr(_state, registry, (*getattr(_state, registry), entry))
        refresh()


def _unregister(registry: str, entry: Any) -> bool:
    """Remove ``entry`` from the ``_state`` tuple named ``registry``; False if absent."""
    with _state.lock:
        entries = getattr(_state, registry)
        kept = tuple(x for x in entries if x is not entry)
        setattr(_state, registry, kept)
        refresh()
    return len(kept) != len(entries)


def register_listener(listener: HopListener) -> None:
    _register("hop_listeners", listener)


def unregister_listener(listener: HopListener) -> bool:
    return _unregister("hop_listeners", listener)


def register_thread_handler(handler: ThreadHandler) -> None:
    _register("thread_handlers", handler)


def unregister_thread_handler(handler: ThreadHandler) -> bool:
    return _unregister("thread_handlers", handler)


def emit_start(info: HopInfo) -> None:
    """Call every ``on_start``; keep what each returned for its ``on_end``."""
    listeners = _state.hop_listeners
    states = info.states
    for on_start, _on_end in listeners:
        state = None
        if on_start is not None:
            try:
                state = on_start(info)
            except Exception:
                logger.exception("asgibridge hop listener %r failed in on_start", on_start)
        states.append((_on_end, state))


def emit_end(info: HopInfo) -> BaseException | None:
    """Call the ``on_end`` of every listener that saw the start, newest first.

    An ``Exception`` from a listener is logged. Anything else (KeyboardInterrupt,
    SystemExit, a custom BaseException) is *returned* once every listener ran:
    the caller delivers it as the call's outcome, or logs and counts it when
    the call has no caller left (it never escapes into a runtime thread's loop).
    """
    states, info.states = info.states, []
    escaped: BaseException | None = None
    for on_end, state in reversed(states):
        if on_end is None:
            continue
        try:
            on_end(info, state)
        except Exception:
            logger.exception("asgibridge hop listener %r failed in on_end", on_end)
        except BaseException as exc:
            if escaped is None:
                escaped = exc
    return escaped


def note_thread(info: HopInfo) -> None:
    """Record the current thread as the one running (or waiting for) the call."""
    thread = threading.current_thread()
    info.thread_name = thread.name
    info.thread_ident = thread.ident


def run_with_handlers(
    info: HopInfo, func: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    """Call ``func`` inside the registered thread handlers."""
    if not _state.thread_handlers:
        return func(*args, **kwargs)
    stack = ExitStack()
    for factory in _state.thread_handlers:
        try:
            stack.enter_context(factory(info))
        except Exception:
            logger.exception("asgibridge thread handler %r failed on entry", factory)
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        _close_quietly(stack, exc)
        raise
    _close_quietly(stack, None)
    return result


def _close_quietly(stack: ExitStack, exc: BaseException | None) -> None:
    try:
        if exc is None:
            stack.close()
        else:
            stack.__exit__(type(exc), exc, exc.__traceback__)
    except Exception:
        logger.exception("asgibridge thread handler failed on exit")


# -- public API (re-exported by asgibridge.instrumentation) -------------------


class Registration:
    """A registered listener or thread handler; `remove` unregisters it.

    Also a context manager: the registration ends with the ``with`` block.
    Made by `add_hop_listener` and `add_thread_handler`, not directly.

    Args:
        entry: what was registered (a listener pair or a handler factory).
        remove: the function that unregisters ``entry``.

    Example:
        >>> registration = add_hop_listener(on_start=lambda info: None)
        >>> registration.remove(), registration.remove()
        (True, False)
    """

    __slots__ = ("_entry", "_remove")

    def __init__(self, entry: Any, remove: Callable[[Any], bool]) -> None:
        self._entry = entry
        self._remove = remove

    def remove(self) -> bool:
        """Unregister.

        Returns:
            True if this call removed it, False if it was already removed.
        """
        return self._remove(self._entry)

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


def add_hop_listener(
    on_start: Callable[[HopInfo], Any] | None = None,
    on_end: Callable[[HopInfo, Any], None] | None = None,
) -> Registration:
    """Be told when every bridge call (hop) starts and ends.

    The streaming bridges report theirs too: a ``sync_iter_to_async``
    production batch (or its final ``close()``) is a sync_to_async hop, an
    ``async_iter_to_sync`` item an async_to_sync hop; ``function`` is then the
    iterable.

    Args:
        on_start: called with the `HopInfo` when a call is submitted (on the
            event loop for sync_to_async, on the sync caller's thread for
            async_to_sync). Its return value is passed to ``on_end``.
        on_end: called with the `HopInfo` (timings and exception filled in)
            and what ``on_start`` returned, when the call ends: on the thread
            that ran the sync function (sync_to_async, before the awaiting
            task resumes) or on the loop (async_to_sync).

    Returns:
        A `Registration`; call ``remove()`` (or use it as a context manager).

    A listener that raises is logged on the "asgibridge" logger and does not
    affect the call. Registering turns on the instrumented bridge path.

    Example:
        >>> seen = []
        >>> with add_hop_listener(on_end=lambda info, _: seen.append(info.direction)):
        ...     pass
    """
    entry: HopListener = (on_start, on_end)
    register_listener(entry)
    return Registration(entry, unregister_listener)


def add_thread_handler(factory: ThreadHandler) -> Registration:
    """Run every sync_to_async function inside a context manager, on its own thread.

    Each production batch of ``sync_iter_to_async`` (and the generator's
    final ``close()``) is wrapped too, on the generator's thread.

    Args:
        factory: called with the `HopInfo` on the thread that runs the sync
            function, inside the caller's context copy; returns a context
            manager entered before the function and exited after it (what
            Channels' ``DatabaseSyncToAsync`` does to close stale database
            connections). Errors raised by the factory or the manager are
            logged, never passed to the caller.

    Returns:
        A `Registration`; call ``remove()`` (or use it as a context manager).

    Example:
        >>> import contextlib
        >>> with add_thread_handler(lambda info: contextlib.nullcontext()):
        ...     pass
    """
    register_thread_handler(factory)
    return Registration(factory, unregister_thread_handler)
