"""Type-checked only (tests/test_bridge_typing.py): sync_to_async keeps the signature."""

from __future__ import annotations

from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from typing_extensions import assert_type

from asgibridge.sync import SyncToAsync, sync_to_async


def add(a: int, b: str = "") -> float:
    return a + len(b)


def call_form() -> None:
    plain = sync_to_async(add)(1)
    assert_type(plain, Coroutine[Any, Any, float]).close()
    pool = sync_to_async(add, thread_sensitive=False)(1, "x")
    assert_type(pool, Coroutine[Any, Any, float]).close()
    with ThreadPoolExecutor(1) as executor:
        own = sync_to_async(add, thread_sensitive=False, executor=executor)(a=1, b="x")
        assert_type(own, Coroutine[Any, Any, float]).close()
    direct = SyncToAsync(add)(1)
    assert_type(direct, Coroutine[Any, Any, float]).close()


async def awaited() -> None:
    assert_type(await sync_to_async(add)(1), float)
    assert_type(await SyncToAsync(add, thread_sensitive=False)(1, b="x"), float)


@sync_to_async
def bare(x: int) -> str:
    return str(x)


@sync_to_async()
def empty_parentheses(x: int) -> bytes:
    return bytes(x)


@sync_to_async(thread_sensitive=False)
def with_arguments(x: int, *, y: bytes) -> list[str]:
    return [str(x), y.decode()]


class Model:
    @sync_to_async
    def save(self, force: bool = False) -> int:
        return int(force)

    @sync_to_async(thread_sensitive=False)
    def refresh(self, fields: list[str]) -> Model:
        return self

    def label(self, upper: bool) -> str:
        return "MODEL" if upper else "model"


async def decorator_forms(model: Model) -> None:
    assert_type(await bare(1), str)
    assert_type(await empty_parentheses(2), bytes)
    assert_type(await with_arguments(3, y=b"y"), list[str])
    assert_type(await model.save(), int)
    assert_type(await model.save(force=True), int)
    assert_type(await model.refresh(["name"]), Model)
    assert_type(await sync_to_async(model.label)(True), str)
    assert_type(await sync_to_async(Model.label)(model, upper=False), str)
