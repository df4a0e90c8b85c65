"""asgibridge.timeout.timeout: asgiref's deprecated timeout context manager."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from asgibridge.timeout import timeout


def make(delay: float | None, **kwargs: object) -> timeout:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return timeout(delay, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_timeout_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match=r"asyncio\.timeout") as record:
        cm = timeout(1)
    assert record[0].filename == __file__
    async with cm:
        await asyncio.sleep(0)
    assert cm.expired is False


@pytest.mark.asyncio
async def test_loop_argument_is_deprecated_too() -> None:
    loop = asyncio.get_running_loop()
    with pytest.warns(DeprecationWarning, match="deprecated") as record:
        timeout(1, loop=loop)
    assert len(record) == 2
    assert "loop argument" in str(record[1].message)


@pytest.mark.asyncio
@pytest.mark.parametrize("delay", [0, -1, 0.01])
async def test_expiry_cancels_the_block_and_raises_timeout_error(delay: float) -> None:
    reached_end = False
    cm = make(delay)

    async def block() -> None:
        nonlocal reached_end
        async with cm:
            await asyncio.Event().wait()
            reached_end = True

    with pytest.raises(TimeoutError):
        await block()
    assert cm.expired is True
    assert not reached_end


@pytest.mark.asyncio
async def test_sync_with_form_inside_a_task() -> None:
    cm = make(0)
    with pytest.raises(TimeoutError):
        with cm:
            await asyncio.Event().wait()
    assert cm.expired


@pytest.mark.asyncio
async def test_no_expiry_reports_remaining_time() -> None:
    cm = make(3600)
    async with cm:
        remaining = cm.remaining
        await asyncio.sleep(0)
    assert remaining is not None
    assert 0 < remaining <= 3600
    assert cm.expired is False


@pytest.mark.asyncio
async def test_exit_unschedules_the_cancel() -> None:
    cm = make(0.01)
    async with cm:
        pass
    # Past the delay: a cancel left scheduled would interrupt this sleep.
    await asyncio.sleep(0.05)
    assert cm.expired is False


@pytest.mark.asyncio
async def test_none_disables_the_limit() -> None:
    cm = make(None)
    async with cm:
        await asyncio.sleep(0)
    assert cm.remaining is None
    assert cm.expired is False


@pytest.mark.asyncio
async def test_outside_cancellation_is_not_turned_into_timeout() -> None:
    entered = asyncio.Event()

    async def body() -> None:
        async with make(3600):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(body())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        make(1)


@pytest.mark.asyncio
async def test_entering_outside_a_task_raises() -> None:
    loop = asyncio.get_running_loop()
    cm = make(1, loop=loop)
    errors: list[BaseException] = []

    def in_callback() -> None:  # loop callbacks run outside any task
        try:
            cm.__enter__()
        except BaseException as exc:
            errors.append(exc)

    done = asyncio.Event()
    loop.call_soon(lambda: (in_callback(), done.set()))
    await done.wait()
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert "inside a task" in str(errors[0])
