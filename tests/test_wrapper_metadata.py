"""A wrapper built the cheap way (issue 18 §1) looks exactly like ``functools.update_wrapper``'s.

`SyncToAsync` reads ``__name__``, ``__qualname__``, ``__doc__``, the annotations
and ``__wrapped__`` from the wrapped callable when asked, instead of copying
them at construction; every read below must equal what
`functools.update_wrapper` gives, for each kind of callable users wrap.
"""

from __future__ import annotations

import copy
import functools
import inspect
import typing
from typing import Any

import pytest

from asgibridge._runtime.host._coroutines import iscoroutinefunction
from asgibridge.sync import SyncToAsync, sync_to_async


def plain(x: int, *, y: str = "") -> int:
    """A plain function."""
    return x


def with_attributes(request: object) -> None:
    """A view with attributes of its own."""


with_attributes.csrf_exempt = True  # type: ignore[attr-defined]


@functools.wraps(plain)
def decorated(*args: Any, **kwargs: Any) -> int:
    return plain(*args, **kwargs)


class Middleware:
    def process_request(self, request: object) -> None:
        """Django's MiddlewareMixin method shape."""

    def __call__(self, request: object) -> None:
        """A callable object."""


WRAPPED: dict[str, Any] = {
    "function": plain,
    "function with attributes": with_attributes,
    "decorated function": decorated,
    "bound method": Middleware().process_request,
    "partial": functools.partial(plain, 1),
    "callable object": Middleware(),
    "builtin": len,
}


def _reference(func: Any) -> Any:
    """What ``functools.update_wrapper`` makes of ``func`` on a plain object."""

    class Reference:
        pass

    return functools.update_wrapper(Reference(), func)  # type: ignore[arg-type]


@pytest.mark.parametrize("func", list(WRAPPED.values()), ids=list(WRAPPED))
def test_metadata_reads_equal_update_wrapper(func: Any) -> None:
    wrapper, reference = sync_to_async(func), _reference(func)
    for name in (*functools.WRAPPER_ASSIGNMENTS, "__wrapped__", "csrf_exempt"):
        if name == "__annotations__":
            continue  # below: a plain object's class gives a default of its own
        assert getattr(wrapper, name, "missing") == getattr(reference, name, "missing"), name
    assert wrapper.__wrapped__ is func
    assert inspect.unwrap(wrapper) is inspect.unwrap(func)


@pytest.mark.parametrize(
    "func", [plain, decorated, Middleware().process_request], ids=["fn", "decorated", "method"]
)
def test_signature_type_hints_and_annotations_are_the_wrapped_ones(func: Any) -> None:
    wrapper = sync_to_async(func)
    assert inspect.signature(wrapper) == inspect.signature(func)
    assert typing.get_type_hints(wrapper) == typing.get_type_hints(func)
    assert wrapper.__annotations__ == func.__annotations__


def test_a_bound_method_wrapper_exposes_self_and_is_a_coroutine_function() -> None:
    middleware = Middleware()
    wrapper = sync_to_async(middleware.process_request, thread_sensitive=True)
    assert wrapper.__self__ is middleware
    assert iscoroutinefunction(wrapper)
    assert not hasattr(sync_to_async(plain), "__self__")


def test_the_wrapper_class_keeps_its_own_doc_module_and_annotations() -> None:
    assert SyncToAsync.__doc__ is not None
    assert SyncToAsync.__doc__.startswith("Wrap a sync callable")
    assert SyncToAsync.__module__.startswith("asgibridge.")
    assert SyncToAsync.__name__ == "SyncToAsync"
    assert isinstance(SyncToAsync.__annotations__, dict)
    assert not iscoroutinefunction(SyncToAsync)


def test_a_subclass_instance_shows_the_function_not_the_class_body() -> None:
    class Closing(SyncToAsync[Any, Any]):
        """A subclass's docstring (Channels' DatabaseSyncToAsync has one)."""

        label: str = "db"

    wrapper = Closing(plain)
    assert wrapper.__doc__ == plain.__doc__
    assert Closing.__doc__ is not None
    assert Closing.__doc__.startswith("A subclass")
    assert wrapper.__annotations__ == plain.__annotations__
    assert wrapper.__name__ == "plain"


def test_assigned_attributes_win_and_unknown_ones_raise() -> None:
    wrapper: Any = sync_to_async(plain)
    wrapper.__doc__ = "mine"
    wrapper.__name__ = "renamed"
    wrapper.flag = 1
    assert (wrapper.__doc__, wrapper.__name__, wrapper.flag) == ("mine", "renamed", 1)
    assert plain.__doc__ == "A plain function."
    with pytest.raises(AttributeError, match="'SyncToAsync' object has no attribute 'nope'"):
        wrapper.nope


def test_copies_keep_working() -> None:
    wrapper = sync_to_async(Middleware().process_request)
    clone = copy.copy(wrapper)
    assert clone.__name__ == "process_request"
    assert clone.__wrapped__ is wrapper.__wrapped__
