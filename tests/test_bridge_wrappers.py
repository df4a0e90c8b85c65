"""What the wrappers look like: metadata, coroutine-function marking, binding, argument checks.

Both wrappers carry ``functools.wraps`` metadata (asgiref lacks it on
AsyncToSync); the SyncToAsync wrapper reports as a coroutine function and the
AsyncToSync one does not; both bind as methods; bad arguments are refused
(sync_to_async) or warned about (async_to_sync), as in asgiref.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import inspect
import sys
import threading
import typing
from typing import Any

import pytest

from asgibridge.exceptions import NonAsyncCallableWarning, SyncToAsyncTypeError
from asgibridge.sync import (
    AsyncToSync,
    SyncToAsync,
    async_to_sync,
    iscoroutinefunction,
    markcoroutinefunction,
    sync_to_async,
)


def sync_documented(x: int) -> int:
    """Doubles x (sync)."""
    return 2 * x


async def async_documented(x: int) -> int:
    """Doubles x (async)."""
    return 2 * x


# -- metadata ----------------------------------------------------------------


class Counter:
    def __init__(self) -> None:
        self.value = 0

    @sync_to_async
    def bump(self, by: int) -> int:
        """Add ``by`` from a sync method."""
        self.value += by
        return self.value

    @async_to_sync
    async def bump_async(self, by: int) -> int:
        """Add ``by`` from an async method."""
        self.value += by
        return self.value


@pytest.mark.parametrize(
    "wrapper",
    [
        sync_to_async(sync_documented),
        sync_to_async(thread_sensitive=False)(sync_documented),
        SyncToAsync(sync_documented),
    ],
    ids=["call", "decorator-with-args", "class"],
)
def test_sync_to_async_keeps_metadata(wrapper: Any) -> None:
    assert wrapper.__name__ == "sync_documented"
    assert wrapper.__qualname__ == "sync_documented"
    assert wrapper.__doc__ == "Doubles x (sync)."
    assert wrapper.__module__ == __name__
    assert wrapper.__wrapped__ is sync_documented


@pytest.mark.parametrize(
    "wrapper",
    [
        async_to_sync(async_documented),
        async_to_sync(force_new_loop=True)(async_documented),
        AsyncToSync(async_documented),
    ],
    ids=["call", "decorator-with-args", "class"],
)
def test_async_to_sync_keeps_metadata(wrapper: Any) -> None:
    assert wrapper.__name__ == "async_documented"
    assert wrapper.__qualname__ == "async_documented"
    assert wrapper.__doc__ == "Doubles x (async)."
    assert wrapper.__module__ == __name__
    assert wrapper.__wrapped__ is async_documented


class Annotated(SyncToAsync[..., Any]):
    """A subclass with class annotations of its own (Channels' DatabaseSyncToAsync has some)."""

    label: str = "annotated"


@pytest.mark.parametrize(
    ("wrapper", "wrapped"),
    [
        (sync_to_async(sync_documented), sync_documented),
        (Annotated(sync_documented), sync_documented),
        (async_to_sync(async_documented), async_documented),
        (Counter().bump, Counter.__dict__["bump"].func),
        (Counter().bump_async, Counter.__dict__["bump_async"].awaitable),
    ],
    ids=["sync_to_async", "SyncToAsync-subclass", "async_to_sync", "method", "async-method"],
)
def test_wrappers_carry_the_wrapped_annotations(wrapper: Any, wrapped: Any) -> None:
    # functools.wraps copies __annotations__ (asgiref's wrappers have them), so
    # typing.get_type_hints works on a wrapper; a subclass's own class
    # annotations must not stand in for the function's.
    assert wrapper.__annotations__ == wrapped.__annotations__
    assert typing.get_type_hints(wrapper) == typing.get_type_hints(wrapped)


def test_nested_wrappers_keep_the_innermost_name() -> None:
    twice = sync_to_async(async_to_sync(async_documented))
    assert twice.__name__ == "async_documented"
    assert twice.__doc__ == "Doubles x (async)."


# -- coroutine-function marking ------------------------------------------------


def test_sync_to_async_wrapper_is_a_coroutine_function() -> None:
    wrapper = sync_to_async(sync_documented)
    assert iscoroutinefunction(wrapper)
    assert not iscoroutinefunction(sync_documented)  # the wrapped function is not marked
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(wrapper)


@pytest.mark.parametrize(
    "wrapped",
    [async_documented, markcoroutinefunction(lambda x: async_documented(x))],
    ids=["async-def", "marked-sync-function"],
)
def test_async_to_sync_wrapper_is_not_a_coroutine_function(wrapped: Any) -> None:
    wrapper = async_to_sync(wrapped)
    assert not iscoroutinefunction(wrapper)
    assert not inspect.iscoroutinefunction(wrapper)
    if sys.version_info < (3, 14):  # deprecated there (removed in 3.16)
        assert not asyncio.iscoroutinefunction(wrapper)


def test_markcoroutinefunction_marks_a_sync_function() -> None:
    def plain() -> None: ...

    assert markcoroutinefunction(plain) is plain
    assert iscoroutinefunction(plain)
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(plain)


class AsyncCallObject:
    async def __call__(self) -> None: ...


def marked_sync() -> None: ...


markcoroutinefunction(marked_sync)


@pytest.mark.parametrize(
    ("func", "expected"),
    [
        (async_documented, True),
        (sync_documented, False),
        (functools.partial(async_documented, 1), True),
        (Counter().bump_async.__wrapped__, True),
        (marked_sync, True),
        (AsyncCallObject(), False),  # the object is not a function; its __call__ is
        (AsyncCallObject().__call__, True),
        (len, False),
        (Counter, False),
    ],
    ids=[
        "async-def",
        "sync-def",
        "partial-of-async",
        "async-method",
        "marked",
        "async-call-object",
        "its-call-method",
        "builtin",
        "class",
    ],
)
def test_iscoroutinefunction_agrees_with_asgiref(func: Any, expected: bool) -> None:
    import asgiref.sync

    assert iscoroutinefunction(func) is expected
    assert asgiref.sync.iscoroutinefunction(func) is expected


def test_bound_sync_to_async_method_is_a_coroutine_function() -> None:
    class Model:
        @sync_to_async
        def save(self) -> None: ...

    assert iscoroutinefunction(Model().save)
    assert inspect.iscoroutinefunction(Model().save)


# -- calling: arguments and methods -------------------------------------------


@pytest.mark.asyncio
async def test_sync_to_async_passes_arguments_including_wrapper_parameter_names() -> None:
    def echo(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs

    kwargs = {"func": 1, "thread_sensitive": 2, "executor": 3, "context": 4}
    assert await sync_to_async(echo)(1, 2, **kwargs) == ((1, 2), kwargs)


def test_async_to_sync_passes_arguments_including_wrapper_parameter_names() -> None:
    async def echo(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args, kwargs

    kwargs = {"awaitable": 1, "force_new_loop": 2}
    assert async_to_sync(echo)(1, 2, **kwargs) == ((1, 2), kwargs)


@pytest.mark.asyncio
async def test_sync_to_async_method_binding() -> None:
    counter = Counter()
    assert await counter.bump(2) == 2
    assert await counter.bump(by=3) == 5
    assert counter.value == 5
    assert counter.bump.__name__ == "bump"
    assert counter.bump.__doc__ == "Add ``by`` from a sync method."
    # Accessed on the class, the wrapper itself comes back (unbound).
    assert isinstance(Counter.__dict__["bump"], SyncToAsync)
    assert await Counter.bump(counter, 1) == 6


def test_async_to_sync_method_binding() -> None:
    counter = Counter()
    assert counter.bump_async(4) == 4
    assert counter.bump_async(by=1) == 5
    assert counter.bump_async.__name__ == "bump_async"
    assert counter.bump_async.__doc__ == "Add ``by`` from an async method."
    assert Counter.bump_async(counter, 1) == 6


def test_wrapping_a_bound_method_exposes_self() -> None:
    class Thing:
        def sync_method(self) -> None: ...

        async def async_method(self) -> None: ...

    thing = Thing()
    assert sync_to_async(thing.sync_method).__self__ is thing  # type: ignore[attr-defined]
    assert async_to_sync(thing.async_method).__self__ is thing  # type: ignore[attr-defined]


def test_async_to_sync_accepts_partials_and_async_callable_objects() -> None:
    class AsyncCallable:
        async def __call__(self, x: int) -> int:
            return x + 1

    # No warning (warnings are errors in this suite) and the right answers.
    assert async_to_sync(functools.partial(async_documented, 5))() == 10
    assert async_to_sync(AsyncCallable())(1) == 2


# -- refusing and warning -------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [async_documented, "not callable", None],
    ids=["async-function", "string", "none"],
)
def test_sync_to_async_refuses_non_sync_callables(bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        sync_to_async(bad) if bad is not None else SyncToAsync(bad)
    assert isinstance(info.value, SyncToAsyncTypeError)
    assert info.value.args[0] == "sync_to_async can only be applied to sync functions."


def test_sync_to_async_refuses_an_object_with_async_call() -> None:
    class AsyncCallable:
        async def __call__(self) -> None: ...

    with pytest.raises(TypeError, match="sync functions"):
        sync_to_async(AsyncCallable())


def plain_sync() -> int:
    return 1


@pytest.mark.parametrize("make", [async_to_sync, AsyncToSync], ids=["function", "class"])
def test_async_to_sync_warns_for_a_sync_callable(make: Any) -> None:
    with pytest.warns(UserWarning, match="non-async-marked callable") as record:
        wrapper = make(plain_sync)
    assert len(record) == 1
    assert issubclass(record[0].category, NonAsyncCallableWarning)
    assert wrapper.__wrapped__ is plain_sync


def test_non_async_warning_points_at_the_class_caller() -> None:
    with pytest.warns(NonAsyncCallableWarning) as record:
        AsyncToSync(plain_sync)
    assert record[0].filename == __file__


def test_non_async_warning_points_at_the_function_caller() -> None:
    with pytest.warns(NonAsyncCallableWarning) as record:
        async_to_sync(plain_sync)
    assert record[0].filename == __file__


def test_async_to_sync_accepts_a_marked_callable_returning_any_awaitable() -> None:
    class Ready:
        """An awaitable that is not a coroutine."""

        def __init__(self, value: int) -> None:
            self.value = value

        def __await__(self) -> Any:
            yield from asyncio.sleep(0).__await__()
            return self.value

    def make_ready(value: int) -> Ready:
        return Ready(value)

    assert async_to_sync(markcoroutinefunction(make_ready))(7) == 7


class SyncCallable:
    def __call__(self, x: int) -> int:
        return x * 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (len, ("abcd",), 4),
        (dict, (), {}),
        (functools.partial(sync_documented, 4), (), 8),
        (SyncCallable(), (2,), 6),
        (staticmethod(sync_documented).__func__, (5,), 10),
        (lambda: "lambda", (), "lambda"),
    ],
    ids=["builtin", "class", "partial", "callable-object", "staticmethod", "lambda"],
)
async def test_sync_to_async_accepts_any_sync_callable(
    func: Any, args: tuple[Any, ...], expected: Any
) -> None:
    wrapper = sync_to_async(func)
    assert iscoroutinefunction(wrapper)
    assert await wrapper(*args) == expected


# -- subclasses overriding thread_handler (Channels' DatabaseSyncToAsync, APM agents) --


class Hooked(SyncToAsync[..., Any]):
    """Like Channels' DatabaseSyncToAsync: work around every call, on the worker thread."""

    log: list[tuple[str, str]] = []  # noqa: RUF012 - reset by each test

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        name = threading.current_thread().name
        self.log.append(("before", name))
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            self.log.append(("after", name))


@pytest.mark.asyncio
async def test_thread_handler_override_wraps_each_call_on_the_worker_thread() -> None:
    Hooked.log = []

    def work(x: int, *, y: int) -> tuple[int, str]:
        return x + y, threading.current_thread().name

    total, ran_on = await Hooked(work)(1, y=2)
    assert total == 3
    assert Hooked.log == [("before", ran_on), ("after", ran_on)]


@pytest.mark.asyncio
async def test_thread_handler_override_as_a_method_decorator_and_with_errors() -> None:
    Hooked.log = []

    class Consumer:
        @Hooked
        def get_user(self, user_id: int) -> str:
            return f"user {user_id}"

        @Hooked
        def fail(self) -> None:
            raise LookupError("no such user")

    consumer = Consumer()
    assert await consumer.get_user(7) == "user 7"
    with pytest.raises(LookupError, match="no such user"):
        await consumer.fail()
    assert [step for step, _ in Hooked.log] == ["before", "after", "before", "after"]


@pytest.mark.asyncio
async def test_thread_handler_receives_a_partial_of_the_function() -> None:
    captured: dict[str, Any] = {}

    class Instrumented(SyncToAsync[..., Any]):
        def thread_handler(
            self, loop: Any, exc_info: Any, task_context: Any, func: Any, *args: Any
        ) -> Any:
            captured["child"] = args[0]
            args[0].keywords.pop("_injected", None)
            return super().thread_handler(loop, exc_info, task_context, func, *args)

    def echo(value: int) -> int:
        return value

    assert await Instrumented(echo)(42, _injected=object()) == 42
    child = captured["child"]
    assert isinstance(child, functools.partial)
    assert child.func is echo
    assert child.args == (42,)


@pytest.mark.asyncio
async def test_thread_handler_override_keeps_exc_info_and_contextvars() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    Hooked.log = []

    def callee() -> BaseException | None:
        var.set("set by callee")
        return sys.exc_info()[1]

    error = KeyError("being handled")
    try:
        raise error
    except KeyError:
        seen = await Hooked(callee)()
    assert seen is error
    assert var.get() == "set by callee"


@pytest.mark.asyncio
async def test_thread_handler_override_still_forwards_cancellation() -> None:
    Hooked.log = []
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def inner() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def sync_part() -> None:
        async_to_sync(inner)()

    task = asyncio.ensure_future(Hooked(sync_part)())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
    await sync_to_async(lambda: None)()  # the sync thread finished sync_part
    gc.collect()  # see test_forwarded_cancellation_logs_nothing (known bug)
