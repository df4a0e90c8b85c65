"""The error classes, and the bridge errors a user meets first.

Every error class subclasses `AsgiBridgeError` and the built-in exception
asgiref raises in the same situation; ``args[0]`` is asgiref's wording (checked
against the real asgiref here) and ``str()`` adds a hint.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asgibridge import _errors, exceptions
from asgibridge._errors import with_notes
from asgibridge.exceptions import AsgiBridgeError, AsyncToSyncInLoopError
from asgibridge.sync import async_to_sync, sync_to_async

BUILTIN_EXCEPTIONS = {
    cls
    for cls in vars(builtins).values()
    if isinstance(cls, type) and issubclass(cls, BaseException) and cls is not Exception
}
PUBLIC = [getattr(exceptions, name) for name in exceptions.__all__]
ERRORS = [cls for cls in PUBLIC if not issubclass(cls, Warning)]
WARNINGS = [cls for cls in PUBLIC if issubclass(cls, Warning)]


def test_exceptions_module_re_exports_every_class_of_errors() -> None:
    defined = {
        name
        for name, value in vars(_errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and not name.startswith("_")
        and value.__module__ == _errors.__name__
    }
    assert set(exceptions.__all__) == defined
    for name in exceptions.__all__:
        assert getattr(exceptions, name) is getattr(_errors, name)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_subclasses_asgibridge_error_and_a_builtin(cls: type) -> None:
    assert issubclass(cls, AsgiBridgeError)
    if cls is not AsgiBridgeError:
        assert BUILTIN_EXCEPTIONS & set(cls.__mro__), f"{cls.__name__} has no built-in base"


@pytest.mark.parametrize("cls", WARNINGS, ids=lambda c: c.__name__)
def test_every_warning_subclasses_user_warning(cls: type) -> None:
    # asgiref warns with a plain UserWarning.
    assert issubclass(cls, UserWarning)


@pytest.mark.parametrize(
    "cls",
    [cls for cls in ERRORS if cls.__init__ is AsgiBridgeError.__init__],
    ids=lambda c: c.__name__,
)
def test_message_hint_and_pickling(cls: type[AsgiBridgeError]) -> None:
    error = cls("what happened.", "what to do.")
    assert error.args == ("what happened.",)
    assert str(error) == "what happened."  # asgiref's message stays alone in str()
    assert error.__notes__ == ["what to do."]  # the hint is a note (PEP 678)
    assert str(cls("only a message")) == "only a message"
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is cls
    assert str(clone) == str(error)
    assert clone.__notes__ == error.__notes__


# -- async_to_sync in a thread whose loop is running -------------------------------------


@pytest.mark.asyncio
async def test_async_to_sync_in_a_running_loop_raises_with_advice() -> None:
    calls: list[str] = []

    async def coroutine_function() -> None:
        calls.append("called")

    with pytest.raises(RuntimeError) as info:
        async_to_sync(coroutine_function)()
    assert isinstance(info.value, AsyncToSyncInLoopError)
    assert "await the async function directly" in info.value.args[0]
    assert "event loop" in str(info.value)
    assert calls == []  # refused before creating the coroutine (no "never awaited")


@pytest.mark.asyncio
async def test_async_to_sync_in_a_running_loop_raises_inside_nested_sync_code() -> None:
    # A plain sync helper called straight from async code (no sync_to_async).
    async def coroutine_function() -> None: ...

    def sync_helper() -> None:
        async_to_sync(coroutine_function)()

    with pytest.raises(AsyncToSyncInLoopError):
        sync_helper()


# -- asgiref's own wording -----------------------------------------------------


def asgiref_error(action: Callable[[Any], Any]) -> BaseException:
    import asgiref.sync

    try:
        action(asgiref.sync)
    except BaseException as exc:
        return exc
    raise AssertionError("asgiref did not raise")


def asgibridge_error(action: Callable[[Any], Any]) -> BaseException:
    import asgibridge.sync

    try:
        action(asgibridge.sync)
    except BaseException as exc:
        return exc
    raise AssertionError("asgibridge did not raise")


async def _coroutine_function() -> None: ...


def _in_running_loop(module: Any) -> None:
    async def main() -> None:
        module.async_to_sync(_coroutine_function)()

    asyncio.run(main())


def _executor_with_thread_sensitive(module: Any) -> None:
    with ThreadPoolExecutor(1) as executor:
        module.sync_to_async(print, thread_sensitive=True, executor=executor)


@pytest.mark.parametrize(
    "action",
    [
        _in_running_loop,
        _executor_with_thread_sensitive,
        lambda module: module.sync_to_async(_coroutine_function),
    ],
    ids=["async_to_sync-in-loop", "executor-thread-sensitive", "sync_to_async-of-async"],
)
def test_errors_keep_asgirefs_type_and_message(action: Callable[[Any], Any]) -> None:
    theirs = asgiref_error(action)
    ours = asgibridge_error(action)
    assert isinstance(ours, type(theirs))
    assert isinstance(ours, AsgiBridgeError)
    assert ours.args[0] == theirs.args[0]
    assert str(ours) == str(theirs)
    assert len(ours.__notes__) == 1  # plus the hint, as a note


def test_sync_to_async_of_async_function_names_the_function() -> None:
    with pytest.raises(TypeError) as info:
        sync_to_async(_coroutine_function)  # type: ignore[arg-type]
    assert "_coroutine_function" in with_notes(info.value)
