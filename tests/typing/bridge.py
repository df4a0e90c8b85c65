"""sync_to_async / async_to_sync keep the wrapped signature (ParamSpec) for callers."""

from __future__ import annotations

from typing_extensions import assert_type

from asgibridge.sync import async_to_sync, sync_to_async


def fetch_user(user_id: int, *, active: bool = True) -> dict[str, str]:
    return {"id": str(user_id), "active": str(active)}


async def notify(channel: str, message: bytes) -> int:
    return len(channel) + len(message)


@sync_to_async
def count_rows(table: str) -> int:
    return len(table)


@sync_to_async(thread_sensitive=False)
def render(template: str, **context: str) -> str:
    return template.format(**context)


@async_to_sync
async def ping(host: str, port: int = 80) -> float:
    return float(port)


class Repository:
    @sync_to_async
    def save(self, force: bool = False) -> int:
        return int(force)


async def view() -> str:
    user = await sync_to_async(fetch_user)(1, active=False)
    assert_type(user, dict[str, str])
    rows = await count_rows("auth_user")
    assert_type(rows, int)
    saved = await Repository().save(force=True)
    assert_type(saved, int)
    return await render("{name}", name=user["id"])


def sync_caller() -> int:
    sent = async_to_sync(notify)("group", b"payload")
    assert_type(sent, int)
    assert_type(ping("example.com"), float)
    return sent
