"""Misuse situations in which asgiref 3.13.0 raises or warns, run on one side of the comparison.

``python asgiref_situations.py asgiref`` runs them on the real asgiref;
``python asgiref_situations.py bridge`` on asgibridge under
``install_as_asgiref()``. Each situation is recorded as the built-in class of
what was raised (or the warning category), ``str()`` of it and, for
asgibridge's side, its PEP 678 notes; the last line printed is JSON, which
``test_alias_messages.py`` compares side by side.

The situations come from reading asgiref 3.13.0's raise and warn sites
(sync, current_thread_executor, local, server, timeout, wsgi, testing).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

if __name__ == "__main__" and sys.argv[1] == "bridge":
    import asgibridge

    asgibridge.install_as_asgiref()

import asgiref
from asgiref.current_thread_executor import CurrentThreadExecutor
from asgiref.local import Local
from asgiref.server import StatelessServer
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from asgiref.wsgi import WsgiToAsgi

OUT: dict[str, Any] = {}
HTTP_SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/",
    "query_string": b"",
    "headers": [],
    "http_version": "1.1",
    "scheme": "http",
    "root_path": "",
    "asgi": {"version": "3.0"},
}


def builtin_of(kind: type) -> str:
    if issubclass(kind, asyncio.CancelledError):
        return "CancelledError"
    return next(c.__name__ for c in kind.__mro__ if c.__module__ == "builtins")


def record(key: str, action: Callable[[], Any]) -> None:
    try:
        result = action()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except BaseException as exc:
        OUT[key] = {
            "class": builtin_of(type(exc)),
            "str": str(exc),
            "notes": list(getattr(exc, "__notes__", ())),
        }
    else:
        OUT[key] = None


def record_warnings(key: str, action: Callable[[], Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    OUT[key] = [
        {"class": builtin_of(w.category), "str": str(w.message)}
        for w in caught
        if not str(w.message).startswith("There is no current event loop")
    ]


async def coroutine_function() -> int:
    return 1


def plain() -> int:
    return 1


async def never_sends(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.Event().wait()


async def crashes(scope: Any, receive: Any, send: Any) -> None:
    raise ValueError("the application's own failure")


def bridge_in_loop() -> None:
    async def main() -> None:
        async_to_sync(coroutine_function)()

    asyncio.run(main())


def executor_from_another_thread() -> None:
    executor = CurrentThreadExecutor(None)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            executor.run_until_future(Future())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    raise errors[0]


def executor_quit() -> None:
    executor = CurrentThreadExecutor(None)
    done: Future[None] = Future()
    done.set_result(None)
    executor.run_until_future(done)  # returns at once: the executor has quit
    with ThreadPoolExecutor(1) as pool:
        pool.submit(executor.submit, plain).result(10)


def local_subclass() -> None:
    class Sub(Local):  # type: ignore[misc]
        pass

    Sub()


async def context_entered_twice() -> None:
    with ThreadPoolExecutor(1) as pool:
        context = ThreadSensitiveContext(executor=pool)
        async with context, context:
            pass


async def context_entered_again() -> None:
    with ThreadPoolExecutor(1) as pool:
        context = ThreadSensitiveContext(executor=pool)
        async with context:
            pass
        async with context:
            pass


async def task_outlives_context() -> None:
    release = asyncio.Event()

    async def late() -> None:
        await release.wait()
        await sync_to_async(plain)()

    with ThreadPoolExecutor(1) as pool:
        async with ThreadSensitiveContext(executor=pool):
            task = asyncio.ensure_future(late())
        release.set()
        await task


async def single_thread_deadlock() -> None:
    def start_a_loop() -> None:
        async def inner() -> None:
            await sync_to_async(plain)()

        asyncio.run(inner())

    await sync_to_async(start_a_loop)()


async def server_handle() -> None:
    await StatelessServer(never_sends).handle()


async def server_application_send() -> None:
    await StatelessServer(never_sends).application_send({}, {})


def old_timeout() -> None:
    from asgiref.timeout import timeout

    loop = asyncio.new_event_loop()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with timeout(1, loop=loop):
                pass
    finally:
        loop.close()


def old_timeout_warnings() -> None:
    from asgiref.timeout import timeout

    loop = asyncio.new_event_loop()
    try:
        timeout(1, loop=loop)
    finally:
        loop.close()


async def start_response_twice() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b""]

    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    await asyncio.wait_for(WsgiToAsgi(app)(HTTP_SCOPE, receive, send), 20)


async def wsgi_unknown_scope() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        return [b""]

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    await WsgiToAsgi(app)({"type": "not-a-protocol"}, receive, send)


async def old_timeout_expires() -> None:
    from asgiref.timeout import timeout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        async with timeout(0.01):
            await asyncio.Event().wait()


async def returns(scope: Any, receive: Any, send: Any) -> None:
    return None


async def communicator_app_returned() -> None:
    communicator = ApplicationCommunicator(returns, HTTP_SCOPE)
    await communicator.receive_output(0.01)


async def communicator_send_after_timeout() -> None:
    communicator = ApplicationCommunicator(never_sends, HTTP_SCOPE)
    try:
        await communicator.receive_output(0.01)
    except TimeoutError:
        pass
    await communicator.send_input({"type": "http.request"})


async def communicator_receive_timeout() -> None:
    communicator = ApplicationCommunicator(never_sends, HTTP_SCOPE)
    await communicator.receive_output(0.01)


async def communicator_crashed_app() -> None:
    communicator = ApplicationCommunicator(crashes, HTTP_SCOPE)
    await communicator.wait()


def main() -> None:
    OUT["__version__"] = asgiref.__version__
    record("async_to_sync() inside a running event loop", bridge_in_loop)
    record("sync_to_async(coroutine function)", lambda: sync_to_async(coroutine_function))
    record("sync_to_async(not callable)", lambda: sync_to_async(42))  # type: ignore[call-overload]
    record(
        "SyncToAsync(thread_sensitive=True, executor=...)",
        lambda: SyncToAsync(plain, thread_sensitive=True, executor=object()),  # type: ignore[arg-type]
    )
    record_warnings("async_to_sync(plain function)", lambda: async_to_sync(plain))
    record(
        "CurrentThreadExecutor.run_until_future from another thread", executor_from_another_thread
    )
    record(
        "CurrentThreadExecutor.submit from its own thread",
        lambda: CurrentThreadExecutor(None).submit(plain),
    )
    record("CurrentThreadExecutor.submit after it quit", executor_quit)
    record("Local subclass", local_subclass)
    record("Local()._data = ...", lambda: setattr(Local(), "_data", 1))
    record("ThreadSensitiveContext(executor=...) entered twice", context_entered_twice)
    record("ThreadSensitiveContext(executor=...) entered again", context_entered_again)
    record("a task outlives its ThreadSensitiveContext(executor=...)", task_outlives_context)
    record("single thread executor already in use", single_thread_deadlock)
    record("StatelessServer.handle not overridden", server_handle)
    record("StatelessServer.application_send not overridden", server_application_send)
    record("asgiref.timeout.timeout outside a task", old_timeout)
    record("asgiref.timeout.timeout expires", old_timeout_expires)
    record_warnings("asgiref.timeout.timeout(loop=...) warnings", old_timeout_warnings)
    record("WsgiToAsgi: start_response called twice without exc_info", start_response_twice)
    record("WsgiToAsgi: a scope of an unknown type", wsgi_unknown_scope)
    record("ApplicationCommunicator.receive_output timeout", communicator_receive_timeout)
    record(
        "ApplicationCommunicator.send_input after a receive_output timeout",
        communicator_send_after_timeout,
    )
    record(
        "ApplicationCommunicator.receive_output after the app returned",
        communicator_app_returned,
    )
    record("ApplicationCommunicator.wait on a crashed application", communicator_crashed_app)
    print(json.dumps(OUT), flush=True)


if __name__ == "__main__":
    main()
