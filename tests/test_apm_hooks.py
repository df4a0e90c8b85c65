"""asgiref's patchable methods as public contract (APM agents patch them; Channels overrides them).

``SyncToAsync.thread_handler``, ``SyncToAsync.__call__``,
``AsyncToSync.__call__`` and ``AsyncToSync.main_wrap`` patched on the class
(New Relic's agent wraps all of them, at any time, also after wrappers were
built) or overridden in a subclass are called with asgiref's arguments, in
asgiref's order and on asgiref's threads. With nothing patched the plain path
is taken (checked per call by attribute identity).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from asgibridge.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async

var: contextvars.ContextVar[str] = contextvars.ContextVar("apm_hooks_var", default="unset")


def _wrap_thread_handler(
    monkeypatch: pytest.MonkeyPatch, events: list[tuple[Any, ...]]
) -> Callable[..., Any]:
    """New Relic's shape: a thread_handler wrapper that pops a keyword from ``args[0]``."""
    original = SyncToAsync.thread_handler

    def thread_handler(
        self: Any, loop: Any, exc_info: Any, task_context: Any, func: Any, *args: Any, **kw: Any
    ) -> Any:
        marker = args[0].keywords.pop("_agent_marker", None)
        events.append(("thread_handler", threading.get_ident(), loop, exc_info, task_context))
        events.append(("marker", marker))
        return original(self, loop, exc_info, task_context, func, *args, **kw)

    monkeypatch.setattr(SyncToAsync, "thread_handler", thread_handler)
    return original


def _wrap_call(monkeypatch: pytest.MonkeyPatch, events: list[tuple[Any, ...]]) -> None:
    """New Relic's shape: an async ``__call__`` wrapper that adds a keyword."""
    original = SyncToAsync.__call__

    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        events.append(("__call__", threading.get_ident()))
        kwargs["_agent_marker"] = "from __call__"
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", call)


@pytest.mark.asyncio
async def test_thread_handler_and_call_patched_on_the_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[tuple[Any, ...]] = []

    def work(x: int) -> int:
        events.append(("func", threading.get_ident()))
        return x * 2

    wrapper = sync_to_async(work)  # built before the patch, as in a running app
    assert await wrapper(1) == 2
    assert events == [("func", events[0][1])]  # plain path: no hook
    events.clear()
    _wrap_thread_handler(monkeypatch, events)
    _wrap_call(monkeypatch, events)
    assert await wrapper(21) == 42
    loop_thread = threading.get_ident()
    names = [event[0] for event in events]
    assert names == ["__call__", "thread_handler", "marker", "func"]
    assert events[0][1] == loop_thread  # __call__ on the loop's thread
    _, handler_thread, loop, exc_info, task_context = events[1]
    assert handler_thread == events[3][1] != loop_thread  # handler on the function's thread
    assert loop is asyncio.get_running_loop()
    assert exc_info == (None, None, None)
    assert task_context == []
    assert events[2] == ("marker", "from __call__")  # popped before the function ran
    monkeypatch.undo()
    events.clear()
    assert await wrapper(2) == 4
    assert [event[0] for event in events] == ["func"]  # unpatched: the plain path again


@pytest.mark.asyncio
async def test_thread_handler_sees_the_callers_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[Any, ...]] = []
    _wrap_thread_handler(monkeypatch, events)
    caught: list[BaseException | None] = []

    def work() -> None:
        import sys

        caught.append(sys.exc_info()[1])

    error = KeyError("outer")
    try:
        raise error
    except KeyError:
        await sync_to_async(work)()
    exc_info = events[0][3]
    assert exc_info[1] is error
    assert caught == [error]


@pytest.mark.asyncio
async def test_thread_handler_patched_inside_async_to_sync_gives_its_task_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """New Relic's three patches together: main_wrap gets the list thread_handler got."""
    events: list[tuple[Any, ...]] = []
    _wrap_thread_handler(monkeypatch, events)
    original = AsyncToSync.main_wrap

    def main_wrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        events.append(("main_wrap", threading.get_ident(), args[2]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AsyncToSync, "main_wrap", main_wrap)

    async def inner() -> str:
        return "inner"

    def outer() -> str:
        return async_to_sync(inner)()

    assert await sync_to_async(outer)() == "inner"
    handler = next(event for event in events if event[0] == "thread_handler")
    wrap = next(event for event in events if event[0] == "main_wrap")
    assert wrap[1] == handler[1]  # main_wrap on the sync caller's thread
    assert wrap[2] is handler[4]  # the same task_context list


def test_main_wrap_patched_on_the_class(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[Any, ...]] = []
    original = AsyncToSync.main_wrap

    def main_wrap(self: Any, *args: Any, **kwargs: Any) -> Any:
        call_result, exc_info, task_context, context, _awaitable = args
        events.append(("main_wrap", threading.get_ident(), type(call_result).__name__))
        events.append(("args", exc_info, task_context, type(context[0]).__name__))
        coroutine = original(self, *args, **kwargs)

        async def traced() -> Any:  # what New Relic's context_wrapper_async does
            events.append(("task", threading.get_ident()))
            return await coroutine

        return traced()

    async def work(x: int) -> int:
        var.set("from the coroutine")
        events.append(("coroutine", threading.get_ident()))
        return x + 1

    async def broken() -> None:
        raise LookupError("inner")

    wrapper = async_to_sync(work)
    assert wrapper(0) == 1
    assert [event[0] for event in events] == ["coroutine"]  # plain path
    events.clear()
    monkeypatch.setattr(AsyncToSync, "main_wrap", main_wrap)
    context = contextvars.copy_context()
    assert context.run(wrapper, 1) == 2
    assert [event[0] for event in events] == ["main_wrap", "args", "task", "coroutine"]
    caller = threading.get_ident()
    assert events[0][1] == caller
    assert events[0][2] == "Future"
    assert events[1][1:] == ((None, None, None), None, "Context")
    assert events[2][1] == events[3][1] != caller  # the coroutine on the loop's thread
    assert context[var] == "from the coroutine"  # context changes come back, as asgiref
    with pytest.raises(LookupError, match="inner"):
        async_to_sync(broken)()


def test_main_wrap_overridden_in_a_subclass() -> None:
    events: list[str] = []

    class Traced(AsyncToSync[..., Any]):
        async def main_wrap(self, *args: Any, **kwargs: Any) -> None:
            events.append("before")
            await super().main_wrap(*args, **kwargs)
            events.append("after")

    async def work() -> str:
        events.append("work")
        return "done"

    assert Traced(work)() == "done"
    assert events == ["before", "work", "after"]


def test_a_main_wrap_that_reports_nothing_raises_instead_of_hanging() -> None:
    class Forgetful(AsyncToSync[..., Any]):
        async def main_wrap(self, *args: Any, **kwargs: Any) -> None:
            await args[4]  # runs the coroutine, never fills call_result

    async def work() -> int:
        return 1

    with pytest.raises(RuntimeError, match="main_wrap returned without reporting"):
        Forgetful(work)()


@pytest.mark.asyncio
async def test_thread_handler_overridden_in_a_subclass_defined_any_time() -> None:
    seen: list[str] = []

    class Closing(SyncToAsync[..., Any]):
        def thread_handler(self, *args: Any, **kwargs: Any) -> Any:
            seen.append("open")
            try:
                return super().thread_handler(*args, **kwargs)
            finally:
                seen.append("close")

    wrapper = Closing(functools.partial(seen.append, "work"))
    await wrapper()
    assert seen == ["open", "work", "close"]
