"""asgibridge.compatibility: telling ASGI 2 apps from ASGI 3 apps, as asgiref does."""

from __future__ import annotations

from typing import Any

import asgiref.compatibility
import pytest

from asgibridge.compatibility import (
    double_to_single_callable,
    guarantee_single_callable,
    is_double_callable,
)
from asgibridge.sync import markcoroutinefunction


def double_function(scope: dict[str, Any]) -> Any:
    async def instance(receive: Any, send: Any) -> Any:
        await send({"scope": scope["value"], "message": (await receive())["value"]})
        return "double_function done"

    return instance


class DoubleClass:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None: ...


class DoubleClassNestedFunction:
    def __call__(self, scope: dict[str, Any]) -> Any:
        async def instance(receive: Any, send: Any) -> None: ...

        return instance


async def single_function(scope: Any, receive: Any, send: Any) -> None: ...


class SingleClass:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


class MarkedSingle:
    _asgi_single_callable = True

    def __call__(self, scope: Any, receive: Any, send: Any) -> Any: ...


class MarkedDouble:
    _asgi_double_callable = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


def marked_coroutine_function(scope: Any, receive: Any, send: Any) -> Any: ...


markcoroutinefunction(marked_coroutine_function)

CASES = [
    (double_function, True),
    (DoubleClass, True),
    (DoubleClassNestedFunction(), True),
    (single_function, False),
    (SingleClass(), False),
    (MarkedSingle(), False),
    (MarkedDouble(), True),
    (marked_coroutine_function, False),
]


@pytest.mark.parametrize(("app", "double"), CASES, ids=lambda v: getattr(v, "__name__", None))
def test_is_double_callable_agrees_with_asgiref(app: Any, double: bool) -> None:
    assert is_double_callable(app) is double
    assert asgiref.compatibility.is_double_callable(app) is double


@pytest.mark.parametrize(("app", "double"), CASES, ids=lambda v: getattr(v, "__name__", None))
def test_guarantee_single_callable(app: Any, double: bool) -> None:
    single = guarantee_single_callable(app)
    assert (single is app) is (not double)
    assert is_double_callable(single) is False


@pytest.mark.asyncio
async def test_double_to_single_callable_calls_the_app_the_asgi2_way() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"value": 42}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    app = double_to_single_callable(double_function)
    assert is_double_callable(app) is False
    assert await app({"value": "scope value"}, receive, send) == "double_function done"
    assert sent == [{"scope": "scope value", "message": 42}]
