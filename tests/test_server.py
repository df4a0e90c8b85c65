"""StatelessServer: one instance per scope id, LRU eviction, crash reports, clean exit.

A fake "message source" server drives the instances from a list of
(scope_id, message) pairs, so no sockets are involved here (the UDP example
has its own test).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from asgibridge.server import StatelessServer

Scope = dict[str, Any]


async def echo(scope: Scope, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message == "crash":
            raise ValueError(f"crash in {scope['id']}")
        await send((scope["id"], message))


class ListServer(StatelessServer):
    """Feeds `inputs` to instances, then waits until `expected` replies arrived."""

    def __init__(self, inputs: list[tuple[str, Any]], expected: int, **kwargs: Any) -> None:
        super().__init__(echo, **kwargs)
        self.inputs = inputs
        self.expected = expected
        self.sent: list[tuple[str, Any]] = []
        self.crashes: list[tuple[BaseException, Scope]] = []
        self.all_sent = asyncio.Event()

    async def handle(self) -> None:
        for scope_id, message in self.inputs:
            queue = self.get_or_create_application_instance(scope_id, {"id": scope_id})
            await queue.put(message)
            await asyncio.sleep(0)  # let the instance run, as a real source would
        await asyncio.wait_for(self.all_sent.wait(), 10)

    async def application_send(self, scope: Scope, message: Any) -> None:
        self.sent.append(message)
        if len(self.sent) >= self.expected:
            self.all_sent.set()

    async def application_exception(
        self, exception: BaseException, application_details: dict[str, Any]
    ) -> None:
        self.crashes.append((exception, application_details["scope"]))
        if len(self.sent) >= self.expected:
            self.all_sent.set()


@pytest.mark.asyncio
async def test_one_instance_per_scope_id() -> None:
    server = ListServer([("a", 1), ("b", 2), ("a", 3)], expected=3)
    await server.arun()
    assert server.sent == [("a", 1), ("b", 2), ("a", 3)]


@pytest.mark.asyncio
async def test_lru_eviction_keeps_at_most_max_applications() -> None:
    inputs = [("a", 1), ("b", 2), ("a", 3), ("c", 4)]  # "b" is least recently used
    server = ListServer(inputs, expected=4, max_applications=2)
    seen: list[list[str]] = []
    original = server.get_or_create_application_instance

    def spy(scope_id: Any, scope: Any) -> asyncio.Queue[Any]:
        queue = original(scope_id, scope)
        seen.append(list(server.application_instances))
        return queue

    server.get_or_create_application_instance = spy  # type: ignore[method-assign]
    await server.arun()
    assert seen[-1] == ["a", "c"]
    assert max(len(keys) for keys in seen) == 2


@pytest.mark.asyncio
async def test_crashed_instance_is_reported_and_forgotten() -> None:
    server = ListServer([("a", 1), ("a", "crash"), ("b", 2)], expected=2)
    await server.arun()
    assert len(server.crashes) == 1
    exc, scope = server.crashes[0]
    assert isinstance(exc, ValueError)
    assert scope == {"id": "a"}
    assert "a" not in server.application_instances


@pytest.mark.asyncio
async def test_default_exception_report_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Quiet(ListServer):
        application_exception = StatelessServer.application_exception  # type: ignore[assignment]

    server = Quiet([("a", "crash")], expected=0)
    server.all_sent.set()
    with caplog.at_level(logging.ERROR, logger="asgibridge.server"):
        await server.arun()
    records = [r for r in caplog.records if r.name == "asgibridge.server"]
    assert records
    assert records[0].exc_info is not None
    assert "crash in a" in records[0].getMessage()


@pytest.mark.asyncio
async def test_arun_cancels_instances_it_leaves_behind() -> None:
    server = ListServer([("a", 1), ("b", 2)], expected=2)
    await server.arun()
    futures = [d["future"] for d in server.application_instances.values()]
    assert futures
    assert all(f.cancelled() for f in futures)


@pytest.mark.asyncio
async def test_handle_failure_propagates_and_cleans_up() -> None:
    class Broken(ListServer):
        async def handle(self) -> None:
            self.get_or_create_application_instance("a", {"id": "a"})
            raise OSError("source closed")

    server = Broken([], expected=0)
    with pytest.raises(OSError, match="source closed"):
        await server.arun()
    assert all(d["future"].done() for d in server.application_instances.values())


def test_run_manages_its_own_loop_in_a_fresh_thread() -> None:
    server = ListServer([("a", "hello")], expected=1)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            server.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert not errors
    assert server.sent == [("a", "hello")]


@pytest.mark.asyncio
async def test_unimplemented_methods_raise() -> None:
    server = StatelessServer(echo)
    with pytest.raises(NotImplementedError):
        await server.handle()
    with pytest.raises(NotImplementedError):
        await server.application_send({}, {})


@pytest.mark.asyncio
async def test_failing_exception_reporter_stops_the_server() -> None:
    handle_cancelled: list[bool] = []
    reports: list[BaseException] = []

    class BrokenReporter(StatelessServer):
        async def handle(self) -> None:
            self.get_or_create_application_instance("a", {"id": "a"}).put_nowait("crash")
            try:
                await asyncio.Event().wait()  # serves forever
            except asyncio.CancelledError:
                handle_cancelled.append(True)
                raise

        async def application_send(self, scope: Scope, message: Any) -> None:
            pass

        async def application_exception(
            self, exception: BaseException, application_details: dict[str, Any]
        ) -> None:
            reports.append(exception)
            raise RuntimeError("reporter broke")

    server = BrokenReporter(echo)
    with pytest.raises(RuntimeError, match="reporter broke"):
        await asyncio.wait_for(server.arun(), 10)
    assert handle_cancelled == [True]  # it did not go on serving without crash reports
    assert len(reports) == 1  # reported once, not again at exit
    assert isinstance(reports[0], ValueError)
    assert not server.application_instances


def test_uses_no_deprecated_loop_api() -> None:
    import inspect

    from asgibridge._asgi import server

    source = inspect.getsource(server)
    for name in ("get_event_loop", "set_event_loop", "new_event_loop", "get_event_loop_policy"):
        assert name not in source
