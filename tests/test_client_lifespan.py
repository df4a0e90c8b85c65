"""Lifespan through the test client: startup/shutdown on ``with``, state copied into scopes.

"auto" (the default) runs lifespan when the app speaks it and goes on without
it otherwise (uvicorn's rule); "on" requires it; "off" never sends it; an
explicit ``lifespan.startup.failed`` always fails the ``with``.
"""

from __future__ import annotations

from typing import Any

import pytest

from asgibridge.lifespan import LifespanStartupError, LifespanUnsupportedError
from asgibridge.testclient import AsyncTestClient, TestClient

Scope = dict[str, Any]


def app_with_lifespan(log: list[str], fail: bool = False) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()
            if fail:
                await send({"type": "lifespan.startup.failed", "message": "no config"})
                return
            scope["state"]["counter"] = [0]
            log.append("startup")
            await send({"type": "lifespan.startup.complete"})
            await receive()
            log.append("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        state = scope.get("state")
        text = "no state"
        if state is not None:
            state["counter"][0] += 1  # a shallow copy: the list is shared
            state["per_request"] = True  # ...but keys added here are not
            text = f"count={state['counter'][0]}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": text.encode()})

    return app


def test_sync_client_runs_lifespan_and_shares_state() -> None:
    log: list[str] = []
    with TestClient(app_with_lifespan(log)) as client:
        assert log == ["startup"]
        assert client.get("/").text == "count=1"
        assert client.get("/").text == "count=2"
        assert client.lifespan_state == {"counter": [2]}  # per_request stayed in its copy
    assert log == ["startup", "shutdown"]


@pytest.mark.asyncio
async def test_async_client_runs_lifespan_and_shares_state() -> None:
    log: list[str] = []
    async with AsyncTestClient(app_with_lifespan(log)) as client:
        assert (await client.get("/")).text == "count=1"
    assert log == ["startup", "shutdown"]


def test_lifespan_off_sends_no_lifespan_and_no_state() -> None:
    log: list[str] = []
    with TestClient(app_with_lifespan(log), lifespan="off") as client:
        assert client.get("/").text == "no state"
    assert log == []


async def no_lifespan(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError("only http")
    await receive()
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body"})


def test_auto_goes_on_without_lifespan_on_required_fails() -> None:
    with TestClient(no_lifespan) as client:
        assert client.get("/").status_code == 204
    with pytest.raises(LifespanUnsupportedError, match="LifespanMiddleware"):
        with TestClient(no_lifespan, lifespan="on"):
            pass


@pytest.mark.asyncio
async def test_startup_failure_fails_the_with_block() -> None:
    with pytest.raises(LifespanStartupError, match="no config"):
        async with AsyncTestClient(app_with_lifespan([], fail=True)):
            pass
    with pytest.raises(LifespanStartupError, match="no config"):
        with TestClient(app_with_lifespan([], fail=True)):
            pass
