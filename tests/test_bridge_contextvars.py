"""ContextVars across the bridge, both directions.

The callee runs in a copy of the caller's context (it sees the caller's values)
and whatever it sets comes back to the caller when it returns, as asgiref
does. Values are carried by identity: their ``__eq__`` is never called.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from bridge_routes import ROUTES, run_on_route

JOIN = 10.0

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
counter: contextvars.ContextVar[int] = contextvars.ContextVar("counter", default=0)
MANY = [contextvars.ContextVar[int](f"many_{i}") for i in range(100)]


class RaisingEq:
    """A value whose comparison must never be attempted."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __eq__(self, other: object) -> bool:
        raise AssertionError(f"__eq__ called on {self.label}")

    def __ne__(self, other: object) -> bool:
        raise AssertionError(f"__ne__ called on {self.label}")

    __hash__ = object.__hash__


class AlwaysEqual:
    """Distinct objects that all compare equal (identity must still win)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AlwaysEqual)

    __hash__ = object.__hash__


raising: contextvars.ContextVar[RaisingEq] = contextvars.ContextVar("raising")
equal: contextvars.ContextVar[AlwaysEqual] = contextvars.ContextVar("equal")


def in_fresh_context(fn: Any) -> Any:
    """Run ``fn`` on a plain thread in an empty context; return or raise its outcome."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = contextvars.Context().run(fn)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main)
    thread.start()
    thread.join(JOIN)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


# -- sync_to_async -----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_sync_callee_sees_caller_values_and_changes_come_back(
    thread_sensitive: bool,
) -> None:
    request_id.set("req-1")
    counter.set(1)

    def callee() -> str:
        seen = request_id.get()
        request_id.set("changed-by-callee")
        counter.set(counter.get() + 1)
        return seen

    seen = await sync_to_async(callee, thread_sensitive=thread_sensitive)()
    assert seen == "req-1"
    assert request_id.get() == "changed-by-callee"
    assert counter.get() == 2


@pytest.mark.asyncio
async def test_sync_callee_changes_come_back_inside_a_thread_sensitive_context() -> None:
    def callee() -> None:
        counter.set(counter.get() + 10)

    async with ThreadSensitiveContext():
        await sync_to_async(callee)()
        await sync_to_async(callee)()
        assert counter.get() == 20


@pytest.mark.asyncio
async def test_var_first_set_by_the_callee_appears_in_the_caller() -> None:
    fresh: contextvars.ContextVar[str] = contextvars.ContextVar("fresh")

    def callee() -> None:
        fresh.set("new")

    await sync_to_async(callee)()
    assert fresh.get() == "new"


@pytest.mark.asyncio
async def test_sibling_tasks_do_not_see_each_others_changes() -> None:
    def set_to(value: str) -> str:
        request_id.set(value)
        return request_id.get()

    async def task(value: str) -> tuple[str, str]:
        inside = await sync_to_async(set_to)(value)
        return inside, request_id.get()

    request_id.set("parent")
    results = await asyncio.gather(task("a"), task("b"))
    assert results == [("a", "a"), ("b", "b")]
    assert request_id.get() == "parent"


@pytest.mark.asyncio
async def test_hundred_vars_both_ways() -> None:
    for i, var in enumerate(MANY):
        var.set(i)

    def callee() -> list[int]:
        seen = [var.get() for var in MANY]
        for var in MANY:
            var.set(var.get() * 2)
        return seen

    seen = await sync_to_async(callee)()
    assert seen == list(range(100))
    assert [var.get() for var in MANY] == [2 * i for i in range(100)]


@pytest.mark.asyncio
async def test_values_with_raising_eq_are_carried_without_comparing() -> None:
    before = RaisingEq("caller's")
    after = RaisingEq("callee's")
    raising.set(before)

    def unchanged() -> RaisingEq:
        return raising.get()

    def changed() -> None:
        raising.set(after)

    assert await sync_to_async(unchanged)() is before
    assert raising.get() is before
    await sync_to_async(changed)()
    assert raising.get() is after


@pytest.mark.asyncio
async def test_equal_but_distinct_value_replaces_the_callers() -> None:
    original = AlwaysEqual()
    replacement = AlwaysEqual()
    equal.set(original)

    def callee() -> None:
        equal.set(replacement)

    await sync_to_async(callee)()
    assert equal.get() is replacement


@pytest.mark.asyncio
async def test_custom_context_is_used_and_not_carried_back() -> None:
    request_id.set("caller")
    custom = contextvars.Context()
    custom.run(request_id.set, "custom")

    def callee() -> str:
        seen = request_id.get()
        request_id.set("set-in-custom")
        return seen

    seen = await sync_to_async(callee, context=custom)()
    assert seen == "custom"
    assert request_id.get() == "caller"
    assert custom[request_id] == "set-in-custom"


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_carries_contextvars_both_ways(route: str) -> None:
    def callee() -> str:
        seen = request_id.get()
        request_id.set(f"set on {route}")
        counter.set(counter.get() + 1)
        return seen

    async def body(wrap: Any) -> tuple[str, str, int]:
        request_id.set("caller")
        counter.set(41)
        seen = await wrap(callee)()
        return seen, request_id.get(), counter.get()

    assert run_on_route(route, body) == ("caller", f"set on {route}", 42)


# -- async_to_sync -----------------------------------------------------------


def test_async_callee_sees_caller_values_and_changes_come_back() -> None:
    async def callee() -> str:
        seen = request_id.get()
        request_id.set("changed-by-coroutine")
        counter.set(counter.get() + 1)
        return seen

    def caller() -> tuple[str, str, int]:
        request_id.set("plain-thread")
        counter.set(5)
        seen = async_to_sync(callee)()
        return seen, request_id.get(), counter.get()

    assert in_fresh_context(caller) == ("plain-thread", "changed-by-coroutine", 6)


def test_async_callee_hundred_vars_both_ways() -> None:
    async def callee() -> list[int]:
        seen = [var.get() for var in MANY]
        for var in MANY:
            var.set(var.get() + 1000)
        return seen

    def caller() -> tuple[list[int], list[int]]:
        for i, var in enumerate(MANY):
            var.set(i)
        seen = async_to_sync(callee)()
        return seen, [var.get() for var in MANY]

    seen, after = in_fresh_context(caller)
    assert seen == list(range(100))
    assert after == [i + 1000 for i in range(100)]


def test_async_callee_raising_eq_values() -> None:
    mine = RaisingEq("thread's")
    theirs = RaisingEq("coroutine's")

    async def keep() -> RaisingEq:
        return raising.get()

    async def change() -> None:
        raising.set(theirs)

    def caller() -> tuple[RaisingEq, RaisingEq, RaisingEq]:
        raising.set(mine)
        seen = async_to_sync(keep)()
        kept = raising.get()
        async_to_sync(change)()
        return seen, kept, raising.get()

    seen, kept, changed = in_fresh_context(caller)
    assert seen is mine
    assert kept is mine
    assert changed is theirs


@pytest.mark.asyncio
async def test_round_trip_async_sync_async_carries_changes_to_the_top() -> None:
    async def bottom() -> None:
        request_id.set("from-bottom")

    def middle() -> str:
        async_to_sync(bottom)()
        return request_id.get()

    request_id.set("top")
    seen_in_middle = await sync_to_async(middle)()
    assert seen_in_middle == "from-bottom"
    assert request_id.get() == "from-bottom"


def test_changes_by_the_async_callee_after_a_sync_hop_come_back() -> None:
    def bottom() -> None:
        counter.set(counter.get() + 100)

    async def middle() -> int:
        await sync_to_async(bottom)()
        return counter.get()

    def caller() -> tuple[int, int]:
        counter.set(1)
        seen = async_to_sync(middle)()
        return seen, counter.get()

    assert in_fresh_context(caller) == (101, 101)


@pytest.mark.asyncio
async def test_sync_callee_changes_come_back_even_when_it_raises() -> None:
    def callee() -> None:
        request_id.set("set-before-raising")
        raise LookupError("after setting")

    request_id.set("before")
    with pytest.raises(LookupError):
        await sync_to_async(callee)()
    assert request_id.get() == "set-before-raising"


def test_async_callee_changes_come_back_even_when_it_raises() -> None:
    async def callee() -> None:
        request_id.set("set-before-raising")
        raise LookupError("after setting")

    def caller() -> str:
        request_id.set("before")
        try:
            async_to_sync(callee)()
        except LookupError:
            return request_id.get()
        return "did not raise"

    assert in_fresh_context(caller) == "set-before-raising"
