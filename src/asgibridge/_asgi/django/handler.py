"""A Django ASGI handler that serves a sync request in one thread-sensitive hop.

Django's ``ASGIHandler`` crosses from the loop to the request's thread for
``request_started``, for each sync middleware method, for the view and for
``response.close()``: about 16 hops for a sync view behind the default
middleware. `OneHopASGIHandler` keeps Django's handler for everything it does
on the loop (reading the body, the disconnect watch, sending) and replaces
the crossings with one call on the request's thread (its
ThreadSensitiveContext) that runs ``request_started``, creates the request,
runs the middleware chain built the way ``WSGIHandler`` builds it and the
view, then closes the response when its body is already known:

- a non-streaming response is closed in the same hop (``request_finished``
  runs there), before the loop sends it: no second crossing. An error from
  ``close()`` is raised on the loop after the response was sent, where
  Django's handler raises it;
- a streaming response with a sync iterator is iterated on the same thread
  in bounded batches (`BATCH_PARTS` parts or `BATCH_BYTES` bytes per hop;
  Django's handler reads the whole iterator into a list in one hop), and the
  hop that finds the end closes it;
- an async iterator is sent by Django's own ``send_response`` and closed
  with one more hop, as Django does.

On the loop, per request, it pays for what Django's handler pays there and no
more (the loop's share is most of the handler's cost over WSGIHandler): a
non-streaming body is sent with the messages ``send_response`` would send,
built without its generator when the class keeps Django's ``send_response``
and ``chunk_bytes``; the disconnect watch starts eagerly (Python >= 3.12, no
task factory set on the loop): its first ``receive()`` runs inline instead of
costing a turn of the loop.

Who sends ``request_finished`` after a disconnect is settled by one claim
(``dict.setdefault``, atomic): the hop that closes the response, or the loop
that gave up on it, whichever comes first, so it is sent exactly once.

Requests the one hop cannot serve as Django would (see `plan`) go to
Django's ``ASGIHandler.handle`` unchanged, with a debug log saying why; its
async middleware chain is built on first use.

The bridge is the one Django's handler module imported (asgibridge's once
``install_as_asgiref()`` ran, asgiref's otherwise), so both paths share one
ThreadSensitiveContext and one request thread.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import sys
import threading
from typing import Any

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi as django_asgi
from django.http import FileResponse
from django.urls import set_script_prefix

from .plan import Plan

__all__ = ("BATCH_BYTES", "BATCH_PARTS", "OneHopASGIHandler", "logger")

logger = logging.getLogger("asgibridge.django")

# Bounds of one batch of a sync streaming response (whichever is reached first).
BATCH_PARTS = 64
BATCH_BYTES = 256 * 1024

# Python 3.12 added eager tasks (asyncio.Task(..., eager_start=True)).
_EAGER_TASKS = sys.version_info >= (3, 12)

_END = "end"  # the claim: who closes the response (or sends request_finished)
_HOP = "hop"
_LOOP = "loop"

Message = dict[str, Any]


class _Outcome:
    """What a hop hands back to the loop."""

    __slots__ = (
        "close_error",
        "closed",
        "error",
        "error_response",
        "finished",
        "iterator",
        "parts",
        "response",
    )

    def __init__(self, response: Any) -> None:
        self.response = response
        self.closed = False  # close() ran (or the loop claimed it): nothing left to close
        self.close_error: Exception | None = None
        self.finished = True  # streaming: the iterator is exhausted
        self.iterator: Any = None
        self.parts: list[bytes] = []
        self.error: Exception | None = None  # streaming: the iterator raised
        self.error_response = False  # the request could not be built (400, 413)


class OneHopASGIHandler(django_asgi.ASGIHandler):  # type: ignore[misc]
    """Django's ASGI handler, with sync requests served in one thread-sensitive hop."""

    # None on an instance of a subclass whose __init__ does not call this one
    # (Django's ASGIStaticFilesHandler): every request takes Django's path then.
    _plan: Plan | None = None
    # True when the class sends as Django's ASGIHandler does (its own send_response
    # and chunk_bytes): a non-streaming body is then sent without the generator.
    _django_send = False

    def __init__(self) -> None:
        # Django's __init__ builds the async chain; it is built on first use instead
        # (most processes never fall back), from a thread (middleware __init__ may be sync).
        self._plan = Plan(self.request_class)
        self._load_lock = threading.Lock()
        self._sync_core: Any = None
        if self._plan.static_reason is None:
            core = copy.copy(self)
            core.load_middleware(is_async=False)  # WSGIHandler's chain
            self._sync_core = core
        else:
            self.load_middleware(is_async=True)
        bridge = django_asgi.sync_to_async
        self._serve_hop = bridge(self._serve, thread_sensitive=True)
        self._batch_hop = bridge(self._next_batch, thread_sensitive=True)
        django_handler, cls = django_asgi.ASGIHandler, type(self)
        self._django_send = (
            cls.send_response is django_handler.send_response
            and getattr(cls.chunk_bytes, "__func__", None) is django_handler.chunk_bytes.__func__
        )

    def _load_async_chain(self) -> None:
        with self._load_lock:
            if self._middleware_chain is None:
                self.load_middleware(is_async=True)

    async def handle(self, scope: Message, receive: Any, send: Any) -> None:
        plan = self._plan
        reason = (
            "the handler was not set up by its __init__" if plan is None else plan.reason(scope)
        )
        if reason is not None:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s served by Django's ASGI path: %s", scope.get("path"), reason)
            if plan is not None and self._middleware_chain is None:
                await django_asgi.sync_to_async(self._load_async_chain, thread_sensitive=True)()
            await super().handle(scope, receive, send)
            return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:  # what closing(body_file) does, without its object per request
            set_script_prefix(django_asgi.get_script_prefix(scope))
            claim: dict[str, str] = {}
            outcome = await self._respond(scope, body_file, claim, receive, send)
            if outcome is None:
                # The client left before the hop handed a response back: Django
                # sends request_finished here (unless the hop already closed it).
                if claim.setdefault(_END, _LOOP) == _LOOP:
                    await signals.request_finished.asend(sender=self.__class__)
                return
            if not outcome.closed and claim.setdefault(_END, _LOOP) == _LOOP:
                await django_asgi.sync_to_async(outcome.response.close)()
            if outcome.close_error is not None:
                raise outcome.close_error
        finally:
            body_file.close()

    def _watch(self, receive: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Task[Any]:
        """The disconnect watch's task (Django's listen_for_disconnect)."""
        watch = self.listen_for_disconnect(receive)
        if _EAGER_TASKS and loop.get_task_factory() is None:
            # Its first step (up to receive()'s first wait) runs here, now.
            # Hazard: a loop's task factory (APM agents install one) must see
            # the task as it sees Django's, so it is only bypassed when unset.
            return asyncio.Task(watch, loop=loop, eager_start=True)  # type: ignore[call-arg]
        return loop.create_task(watch)

    if sys.version_info >= (3, 11):

        async def _respond(
            self, scope: Message, body_file: Any, claim: dict[str, str], receive: Any, send: Any
        ) -> _Outcome | None:
            # Django's handler runs the response inside an asyncio.TaskGroup with its
            # listen_for_disconnect task. The same watch by hand (a task and a done
            # callback that cancels this task) costs a fraction of the group's
            # machinery (exception groups, the sentinel raise) on every request.
            task = asyncio.current_task()
            assert task is not None
            listener = self._watch(receive, task.get_loop())
            stopped: list[BaseException] = []

            def on_listener_done(done: asyncio.Future[Any]) -> None:
                if not done.cancelled():
                    stopped.append(done.exception() or RequestAborted())
                    task.cancel()  # delivered where this task waits, as the group does

            listener.add_done_callback(on_listener_done)
            outcome: _Outcome | None = None
            try:
                outcome = await self._serve_hop(scope, body_file, claim)
                if not outcome.error_response:
                    await self._send(outcome, claim, send)
            except asyncio.CancelledError:
                if not stopped or task.uncancel() > 0:
                    raise  # cancelled from outside, not by the watch
            finally:
                listener.remove_done_callback(on_listener_done)
                if not listener.done():
                    listener.cancel()
            if outcome is not None and outcome.close_error is not None:
                # The application is about to fail: let the watch end first, as Django's
                # group does (a consumer of the messages sees them before the error).
                await asyncio.wait((listener,))
            if stopped and not isinstance(stopped[0], RequestAborted):
                raise stopped[0]  # e.g. the AssertionError for an unexpected message
            if outcome is not None and outcome.error_response and not stopped:
                # Django answers a request it could not build without the watch.
                await self.send_response(outcome.response, send)
            return outcome

    else:  # Plan.static_reason sends every request to Django's path on 3.10

        async def _respond(
            self, scope: Message, body_file: Any, claim: dict[str, str], receive: Any, send: Any
        ) -> _Outcome | None:
            raise NotImplementedError

    # -- on the request's thread ------------------------------------------------------------

    def _serve(self, scope: Message, body_file: Any, claim: dict[str, str]) -> _Outcome:
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            outcome = _Outcome(error_response)
            outcome.error_response = True
            self._close(outcome, claim)
            return outcome
        response = self._sync_core.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size  # the server chunks: large reads
        outcome = _Outcome(response)
        if not response.streaming:
            self._close(outcome, claim)
        elif not response.is_async:
            outcome.iterator = iter(response.streaming_content)
            self._fill(outcome, claim)
        else:  # an async iterator: consumed on the loop, closed afterwards
            outcome.finished = False
        return outcome

    def _next_batch(self, outcome: _Outcome, claim: dict[str, str]) -> None:
        self._fill(outcome, claim)

    def _fill(self, outcome: _Outcome, claim: dict[str, str]) -> None:
        parts: list[bytes] = []
        size = 0
        iterator = outcome.iterator
        outcome.finished = False
        try:
            for part in iterator:
                parts.append(part)
                size += len(part)
                if size >= BATCH_BYTES or len(parts) >= BATCH_PARTS:
                    break
            else:
                outcome.finished = True
        except Exception as exc:
            # Sent on the loop after the parts read so far; the response is not
            # closed (Django's handler raises out of send_response too).
            outcome.error = exc
            outcome.closed = True
        outcome.parts = parts
        if outcome.finished:
            self._close(outcome, claim)

    @staticmethod
    def _close(outcome: _Outcome, claim: dict[str, str]) -> None:
        outcome.closed = True
        if claim.setdefault(_END, _HOP) != _HOP:
            return  # the loop gave up on this request and sent request_finished
        try:
            outcome.response.close()
        except Exception as exc:
            outcome.close_error = exc

    # -- on the loop --------------------------------------------------------------------------

    async def _send(self, outcome: _Outcome, claim: dict[str, str], send: Any) -> None:
        response = outcome.response
        if outcome.iterator is None:
            if self._django_send and not response.streaming:
                # send_response's messages for a body already known, without its generator.
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": _headers(response),
                    }
                )
                content = response.content
                if len(content) <= self.chunk_size:
                    await send({"type": "http.response.body", "body": content, "more_body": False})
                    return
                for chunk, last in self.chunk_bytes(content):
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": not last}
                    )
                return
            await self.send_response(response, send)  # Django's (a subclass's, an async iterator)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": _headers(response),
            }
        )
        chunks = self.chunk_bytes
        while True:
            for part in outcome.parts:
                for chunk, _ in chunks(part):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if outcome.error is not None:
                raise outcome.error
            if outcome.finished:
                break
            await self._batch_hop(outcome, claim)
        await send({"type": "http.response.body"})


def _headers(response: Any) -> list[tuple[bytes, bytes]]:
    """The response's headers and cookies as ASGI wants them (names' case kept, as Django)."""
    encoded: list[tuple[bytes, bytes]] = []
    for name, value in response.items():
        raw_name = name.encode("ascii") if isinstance(name, str) else bytes(name)
        raw_value = value.encode("latin1") if isinstance(value, str) else bytes(value)
        encoded.append((raw_name, raw_value))
    encoded.extend(
        (b"Set-Cookie", morsel.OutputString().encode("ascii"))
        for morsel in response.cookies.values()
    )
    return encoded
