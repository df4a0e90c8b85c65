"""The lifespan state machine."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_scopes import RETURN, lifespan_scope, recv, run, send
from asgibridge.validation import LifespanValidator, ServerSpecError

STARTUP = {"type": "lifespan.startup"}
SHUTDOWN = {"type": "lifespan.shutdown"}
STARTED = {"type": "lifespan.startup.complete"}
STOPPED = {"type": "lifespan.shutdown.complete"}


@pytest.mark.parametrize(
    ("steps", "rules"),
    [
        ([recv(STARTUP), send(STARTED), recv(SHUTDOWN), send(STOPPED), RETURN], []),
        (
            [
                recv(STARTUP),
                send({"type": "lifespan.startup.failed", "message": "db down"}),
                RETURN,
            ],
            [],
        ),
        (
            [
                recv(STARTUP),
                send(STARTED),
                recv(SHUTDOWN),
                send({"type": "lifespan.shutdown.failed"}),
                RETURN,
            ],
            [],
        ),
        # Raising before answering startup means "lifespan not supported".
        ([recv(STARTUP), ("return", ValueError("no lifespan here"))], []),
        ([RETURN], []),
        # Server side.
        ([recv(STARTUP), recv(STARTUP)], ["lifespan.order.startup-twice"]),
        ([recv(SHUTDOWN)], ["lifespan.order.shutdown-before-startup-reply"]),
        ([recv(STARTUP), recv(SHUTDOWN)], ["lifespan.order.shutdown-before-startup-reply"]),
        (
            [recv(STARTUP), send({"type": "lifespan.startup.failed"}), recv(SHUTDOWN)],
            ["lifespan.order.shutdown-after-startup-failed"],
        ),
        (
            [recv(STARTUP), send(STARTED), recv(SHUTDOWN), recv(SHUTDOWN)],
            ["lifespan.order.shutdown-twice"],
        ),
        ([recv({"type": "http.request"})], ["lifespan.receive.unknown-type"]),
        # App side.
        ([send(STARTED)], ["lifespan.order.startup-reply-unasked"]),
        ([recv(STARTUP), send(STARTED), send(STARTED)], ["lifespan.order.startup-reply-twice"]),
        ([recv(STARTUP), send(STARTED), send(STOPPED)], ["lifespan.order.shutdown-reply-unasked"]),
        (
            [recv(STARTUP), send(STARTED), recv(SHUTDOWN), send(STOPPED), send(STOPPED)],
            ["lifespan.order.shutdown-reply-twice"],
        ),
        ([recv(STARTUP), RETURN], ["lifespan.return.startup-unanswered"]),
        (
            [recv(STARTUP), send(STARTED), recv(SHUTDOWN), RETURN],
            ["lifespan.return.shutdown-unanswered"],
        ),
        (
            [recv(STARTUP), send({"type": "lifespan.startup.failed", "message": 3})],
            ["lifespan.startup.failed.message.type"],
        ),
        ([send({"type": "http.response.start", "status": 200})], ["lifespan.send.unknown-type"]),
    ],
)
def test_lifespan_rules(steps: list[tuple[str, Any]], rules: list[str]) -> None:
    assert run(lifespan_scope(), *steps) == rules


def test_lifespan_scope_checks() -> None:
    assert run(lifespan_scope(state=[])) == ["lifespan.scope.state.type"]
    assert run({"type": "lifespan"}) == ["lifespan.scope.asgi.missing"]
    with pytest.raises(ServerSpecError):
        LifespanValidator({"type": "lifespan", "asgi": {"version": "1.0"}})
