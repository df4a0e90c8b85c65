"""Type-checked only (tests/test_bridge_typing.py): async_to_sync keeps the signature."""

from __future__ import annotations

from collections.abc import Awaitable

from typing_extensions import assert_type

from asgibridge.sync import AsyncToSync, async_to_sync


async def fetch(url: str, retries: int = 3) -> bytes:
    return url.encode() * retries


def returns_awaitable(x: int) -> Awaitable[int]:
    return fetch_length(x)


async def fetch_length(x: int) -> int:
    return x


def call_form() -> None:
    assert_type(async_to_sync(fetch)("u"), bytes)
    assert_type(async_to_sync(fetch, force_new_loop=True)("u", retries=1), bytes)
    assert_type(async_to_sync(returns_awaitable)(1), int)
    assert_type(AsyncToSync(fetch)("u", 2), bytes)


@async_to_sync
async def bare(x: int) -> str:
    return str(x)


@async_to_sync()
async def empty_parentheses(x: int) -> bytes:
    return bytes(x)


@async_to_sync(force_new_loop=True)
async def with_arguments(x: int, *, y: bytes) -> list[str]:
    return [str(x), y.decode()]


class Client:
    @async_to_sync
    async def get(self, path: str, *, timeout: float = 1.0) -> dict[str, str]:
        return {"path": path}


def decorator_forms(client: Client) -> None:
    assert_type(bare(1), str)
    assert_type(empty_parentheses(2), bytes)
    assert_type(with_arguments(3, y=b"y"), list[str])
    assert_type(client.get("/"), dict[str, str])
    assert_type(client.get("/", timeout=2.0), dict[str, str])
