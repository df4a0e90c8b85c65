"""Type-checked only (tests/test_bridge_typing.py): each line marked ``# E: code`` must fail.

The ParamSpec carries the wrapped function's parameters through the bridge, so
a wrong call is caught by the type checker, not at run time.
"""

from __future__ import annotations

from asgibridge.sync import async_to_sync, sync_to_async


def sync_function(a: int, *, b: str) -> None: ...


async def async_function(a: int, *, b: str) -> None: ...


class Model:
    @sync_to_async
    def save(self, force: bool) -> None: ...

    @async_to_sync
    async def load(self, key: str) -> None: ...


async def sync_to_async_calls(model: Model) -> None:
    await sync_to_async(sync_function)("1", b="x")  # E: arg-type
    await sync_to_async(sync_function)(1, b=2)  # E: arg-type
    await sync_to_async(sync_function)(1)  # E: call-arg
    await sync_to_async(sync_function)(1, b="x", c=3)  # E: call-arg
    await sync_to_async(thread_sensitive=False)(sync_function)("1", b="x")  # E: arg-type
    await model.save("yes")  # E: arg-type
    sync_to_async(sync_function, thread_sensitive="no")  # E: call-overload


def async_to_sync_calls(model: Model) -> None:
    async_to_sync(async_function)("1", b="x")  # E: arg-type
    async_to_sync(async_function)(1, b=None)  # E: arg-type
    async_to_sync(async_function)(1, 2)  # E: call-arg, arg-type
    async_to_sync(force_new_loop=True)(async_function)(b"1", b="x")  # E: arg-type
    model.load(1)  # E: arg-type


def wrong_return_type() -> str:
    return async_to_sync(async_function)(1, b="x")  # E: return-value
