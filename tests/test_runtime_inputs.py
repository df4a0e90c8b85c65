"""Inputs that cannot break the runtime: options, environment variables, names, timeouts, streams.

Covers the configuration table (every option's type and range, from
``configure()`` and from ``ASGIBRIDGE_*`` variables), names that never come
from ``repr()``, ``asgibridge.timeout``'s cancellation accounting, and the
streaming bridges' thread bounds and cancellation.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import asgibridge
from asgibridge._runtime._config import OPTIONS, from_environment
from asgibridge._runtime.observe._names import function_name, iterable_name, safe_name
from asgibridge.exceptions import AsgiBridgeError, ConfigTypeError, ConfigValueError
from asgibridge.iterators import async_iter_to_sync, sync_iter_to_async

JOIN = 10.0

INVALID = [
    ("health_interval", 0, ConfigValueError),
    ("health_interval", -1.0, ConfigValueError),
    ("health_interval", float("nan"), ConfigValueError),
    ("health_interval", None, ConfigTypeError),
    ("max_workers", -3, ConfigValueError),
    ("max_workers", 0, ConfigValueError),
    ("max_workers", "4", ConfigTypeError),
    ("max_workers", 2.5, ConfigTypeError),
    ("max_workers", True, ConfigTypeError),
    ("worker_idle_timeout", "30", ConfigTypeError),
    ("loop_idle_timeout", -5, ConfigValueError),
    ("loop_idle_timeout", float("inf"), ConfigValueError),
    ("hang_timeout", "5", ConfigTypeError),
    ("hang_timeout", -1, ConfigValueError),
    ("hang_mode", "loud", ConfigValueError),
    ("hang_mode", 1, ConfigTypeError),
    ("leftover_timeout", 0, ConfigValueError),
]


@pytest.mark.parametrize(("name", "value", "error"), INVALID)
def test_configure_rejects_invalid_values_naming_the_option(
    name: str, value: Any, error: type[Exception]
) -> None:
    before = dict(asgibridge.runtime_stats())  # touch the runtime: nothing may change
    from asgibridge._runtime import _state

    setting = _state.config[name]
    with pytest.raises(error) as raised:
        asgibridge.configure(**{name: value})
    assert name in str(raised.value)
    assert isinstance(raised.value, AsgiBridgeError)
    assert _state.config[name] == setting  # unchanged
    assert asgibridge.runtime_stats().keys() == before.keys()


def test_configure_is_all_or_nothing() -> None:
    from asgibridge._runtime import _state

    before = dict(_state.config)
    with pytest.raises(ConfigValueError):
        asgibridge.configure(max_workers=8, health_interval=0)
    assert _state.config == before


def test_configure_accepts_valid_values_and_returns_the_previous_ones() -> None:
    previous = asgibridge.configure(max_workers=8, health_interval=2, hang_timeout=None)
    try:
        from asgibridge._runtime import _state

        assert _state.config["health_interval"] == 2.0
        assert isinstance(_state.config["health_interval"], float)
    finally:
        asgibridge.configure(**previous)


def test_unknown_options_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown asgibridge option"):
        asgibridge.configure(max_threads=3)


@pytest.mark.parametrize(
    ("variable", "raw", "error"),
    [
        ("ASGIBRIDGE_MAX_WORKERS", "abc", ConfigTypeError),
        ("ASGIBRIDGE_MAX_WORKERS", "-2", ConfigValueError),
        ("ASGIBRIDGE_HANG_TIMEOUT", "-1", ConfigValueError),
        ("ASGIBRIDGE_HEALTH_INTERVAL", "0", ConfigValueError),
        ("ASGIBRIDGE_HANG_MODE", "sometimes", ConfigValueError),
    ],
)
def test_environment_variables_are_validated_naming_the_variable(
    variable: str, raw: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        from_environment({variable: raw})
    assert variable in str(raised.value)


def test_environment_variables_set_every_option() -> None:
    values = from_environment(
        {
            "ASGIBRIDGE_MAX_WORKERS": "7",
            "ASGIBRIDGE_HANG_TIMEOUT": "off",
            "ASGIBRIDGE_LEFTOVER_TIMEOUT": "0.5",
        }
    )
    assert values["max_workers"] == 7
    assert values["hang_timeout"] is None
    assert values["leftover_timeout"] == 0.5
    assert set(values) == set(OPTIONS)
    assert all(option.env for option in OPTIONS.values())


def test_an_invalid_variable_fails_the_import_with_its_name() -> None:
    # Checked when the runtime loads (``import asgibridge`` alone does not load
    # it: type-only imports stay light, see tests/test_typing_corpus.py).
    env = dict(os.environ, ASGIBRIDGE_MAX_WORKERS="lots")
    result = subprocess.run(
        [sys.executable, "-c", "import asgibridge.sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ASGIBRIDGE_MAX_WORKERS" in result.stderr


# -- names ----------------------------------------------------------------------------


class _Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __getattr__(self, name: str) -> Any:
        raise KeyError(name)  # not even an AttributeError

    def __call__(self) -> None:
        pass


def _plain() -> None:
    pass


def test_names_never_come_from_repr_and_never_raise() -> None:
    assert function_name(_Hostile()) == f"{__name__}._Hostile"
    assert function_name(_plain) == f"{__name__}._plain"
    assert function_name(functools.partial(_plain)) == f"{__name__}._plain"
    assert safe_name(object()) == "builtins.object"
    # One name per type, however many instances: a statistics table cannot grow.
    assert len({function_name(_Hostile()) for _ in range(50)}) == 1
    assert iterable_name(iter([1])) == "builtins.list_iterator"


# -- asgibridge.timeout's cancellation accounting ----------------------------------------


needs_uncancel = pytest.mark.skipif(sys.version_info < (3, 11), reason="cancelling() is 3.11+")


def _timeout(delay: float) -> Any:
    import warnings

    from asgibridge.timeout import timeout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return timeout(delay)


@needs_uncancel
@pytest.mark.asyncio
async def test_timeout_takes_back_its_own_cancellation() -> None:
    task = asyncio.current_task()
    assert task is not None
    before = task.cancelling()
    with pytest.raises(TimeoutError):
        async with _timeout(0):
            await asyncio.sleep(3600)
    assert task.cancelling() == before
    with pytest.raises(TimeoutError):  # a later asyncio.timeout works as if nothing happened
        async with asyncio.timeout(0):
            await asyncio.sleep(3600)
    assert task.cancelling() == before


@needs_uncancel
@pytest.mark.asyncio
async def test_an_outside_cancellation_with_the_expiry_propagates_as_cancelled() -> None:
    async def body() -> None:
        async with _timeout(0):
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # an outside cancel arriving with the expiry
            await asyncio.sleep(3600)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(body())


@needs_uncancel
@pytest.mark.asyncio
async def test_a_swallowed_expiry_still_restores_cancelling() -> None:
    task = asyncio.current_task()
    assert task is not None
    async with _timeout(0):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # the block swallows the cancellation
    assert task.cancelling() == 0


# -- streaming bridges ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_many_thread_insensitive_streams_share_the_bounded_pool() -> None:
    previous = asgibridge.configure(max_workers=4)
    asgibridge.shutdown()
    threads: set[int] = set()
    lock = threading.Lock()

    def produce(n: int) -> Iterator[int]:
        for i in range(n):
            with lock:
                threads.add(threading.get_ident())
            yield i

    async def consume() -> int:
        return sum(
            [item async for item in sync_iter_to_async(produce(20), thread_sensitive=False)]
        )

    try:
        totals = await asyncio.wait_for(asyncio.gather(*(consume() for _ in range(200))), 60)
        assert totals == [190] * 200
        assert len(threads) <= 4
        assert asgibridge.runtime_stats()["pool_threads"] <= 4
    finally:
        asgibridge.configure(**previous)


@pytest.mark.asyncio
@pytest.mark.parametrize("thread_sensitive", [True, False])
async def test_cancelling_a_consumer_returns_while_the_item_is_still_produced(
    thread_sensitive: bool,
) -> None:
    release = threading.Event()
    producing = threading.Event()
    closed = threading.Event()

    def slow() -> Iterator[int]:
        try:
            yield 1
            producing.set()
            release.wait(JOIN)  # the item in flight
            yield 2
        finally:
            closed.set()

    async def consume(agen: AsyncIterator[int]) -> list[int]:
        return [item async for item in agen]

    before = asgibridge.runtime_stats()["abandoned_calls"]
    task = asyncio.create_task(
        consume(sync_iter_to_async(slow(), thread_sensitive=thread_sensitive))
    )
    await asyncio.to_thread(producing.wait, JOIN)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # returns while the item is still being produced
    assert not release.is_set()
    assert not closed.is_set()
    assert asgibridge.runtime_stats()["abandoned_calls"] == before + 1
    release.set()
    assert await asyncio.to_thread(closed.wait, JOIN)  # closed on its thread after the item


def test_async_iter_to_sync_keeps_the_generators_helper_task_between_items() -> None:
    async def numbers() -> AsyncIterator[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def feeder() -> None:
            for i in range(3):
                await queue.put(i * 10)

        helper = asyncio.get_running_loop().create_task(feeder())
        try:
            for _ in range(3):
                yield await queue.get()
        finally:
            helper.cancel()

    got: list[int] = []
    thread = threading.Thread(target=lambda: got.extend(async_iter_to_sync(numbers())))
    thread.start()
    thread.join(JOIN)
    assert got == [0, 10, 20]
