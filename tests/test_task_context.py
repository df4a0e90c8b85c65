"""Consecutive sync_to_async calls of one task share one Context (asgiref issue #534).

A ContextVar token made in one call can be reset in a later call awaited by
the same task (an old-style middleware's ``process_request`` /
``process_response``, as under WSGI), while every call still sees exactly
its caller's values. Hazards: calls of other tasks (``gather``) never share,
an abandoned call still running in its context is never entered twice,
``context=`` is used as given, thread-critical `Local` values stay per thread.
The Django scenario (with and without OpenTelemetry's Django instrumentation)
runs in tests/test_apm_agents.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest

from asgibridge.local import Local
from asgibridge.sync import sync_to_async

pytestmark = pytest.mark.asyncio

tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")
other: contextvars.ContextVar[str] = contextvars.ContextVar("other", default="none")
_WAIT = 10.0


class Middleware:
    """Sets in process_request, resets with the token in process_response."""

    def __init__(self) -> None:
        self.token: contextvars.Token[str] | None = None
        self.seen: list[str] = []

    def process_request(self, value: str) -> None:
        self.token = tenant.set(value)

    def view(self) -> str:
        self.seen.append(tenant.get())
        return tenant.get()

    def process_response(self) -> str:
        assert self.token is not None
        tenant.reset(self.token)
        return tenant.get()


@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_a_token_from_one_call_resets_in_a_later_call(thread_sensitive: bool) -> None:
    mw = Middleware()
    s2a = sync_to_async
    await s2a(mw.process_request, thread_sensitive=thread_sensitive)("acme")
    assert tenant.get() == "acme"  # carried back, as today
    assert await s2a(mw.view, thread_sensitive=thread_sensitive)() == "acme"
    assert await s2a(mw.process_response, thread_sensitive=thread_sensitive)() == "none"


async def test_each_call_sees_exactly_its_callers_values() -> None:
    mw = Middleware()
    await sync_to_async(mw.process_request)("acme")
    other.set("changed between calls")  # async code between the calls
    tenant.set("overridden by the caller")
    assert await sync_to_async(mw.view)() == "overridden by the caller"
    assert await sync_to_async(other.get)() == "changed between calls"
    # The token still belongs to the shared context: it resets to before process_request.
    assert await sync_to_async(mw.process_response)() == "none"


async def test_a_variable_the_caller_dropped_is_not_seen() -> None:
    token = tenant.set("set by the caller")
    assert await sync_to_async(tenant.get)() == "set by the caller"
    tenant.reset(token)  # the caller has no value any more; the shared context had one
    assert await sync_to_async(tenant.get)() == "none"
    assert await sync_to_async(tenant.get)() == "none"


async def test_gathered_calls_do_not_share_and_run_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=_WAIT)
    tokens: dict[str, contextvars.Token[str]] = {}

    def first_call(name: str) -> None:
        tokens[name] = tenant.set(name)
        barrier.wait()  # both run at once: two threads, two contexts

    def reset_other(name: str) -> str:
        peer = "b" if name == "a" else "a"
        try:
            tenant.reset(tokens[peer])
        except ValueError:
            return "refused"
        return "reset"

    async def one(name: str) -> str:
        await sync_to_async(first_call, thread_sensitive=False)(name)
        return await sync_to_async(reset_other, thread_sensitive=False)(name)

    assert await asyncio.gather(one("a"), one("b")) == ["refused", "refused"]


async def test_an_abandoned_call_in_the_same_task_is_never_entered_twice() -> None:
    started, release = threading.Event(), threading.Event()

    def stuck() -> None:
        started.set()
        release.wait(_WAIT)

    async def requester() -> str:
        await sync_to_async(tenant.set)("mine")
        try:
            await sync_to_async(stuck, thread_sensitive=False)()
        except asyncio.CancelledError:
            pass
        # Cancelled while ``stuck`` runs on in the shared context: this call
        # runs on another thread at the same time, in a fresh copy.
        value = await sync_to_async(tenant.get, thread_sensitive=False)()
        release.set()
        return value

    task = asyncio.ensure_future(requester())
    await asyncio.get_running_loop().run_in_executor(None, started.wait, _WAIT)
    task.cancel()
    assert await task == "mine"


async def test_an_explicit_context_is_used_as_given() -> None:
    mine = contextvars.copy_context()
    token = await sync_to_async(tenant.set, context=mine)("in mine")
    assert tenant.get() == "none"  # nothing is carried back from context=
    assert mine[tenant] == "in mine"
    await sync_to_async(tenant.reset, context=mine)(token)
    assert tenant not in mine
    # The task's own shared context is untouched by calls with context=.
    assert await sync_to_async(tenant.get)() == "none"


async def test_thread_critical_locals_stay_per_thread() -> None:
    local = Local(thread_critical=True)
    threads: list[int] = []

    def write() -> None:
        local.value = threading.get_ident()
        threads.append(threading.get_ident())

    def read() -> Any:
        return getattr(local, "value", None)

    await sync_to_async(write, thread_sensitive=True)()
    assert await sync_to_async(read, thread_sensitive=True)() == threads[0]  # same thread
    assert await sync_to_async(read, thread_sensitive=False)() is None  # another thread
    assert getattr(local, "value", None) is None  # the loop's thread never saw it
