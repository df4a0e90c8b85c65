"""A runnable tour of the bridge: sync code from async code, and async code from sync code.

Run: ``python examples/bridge_demo.py``. It prints which thread ran what, so
the thread-sensitive rules are visible: a request's sync work shares one thread,
and sync work nested inside ``async_to_sync`` comes back to the caller's thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from asgibridge.sync import ThreadSensitiveContext, async_to_sync, sync_to_async


def here() -> str:
    return threading.current_thread().name


# --- a "sync view" using a sync library (sqlite3 objects belong to one thread) ---
_connections = threading.local()


def db() -> sqlite3.Connection:
    conn = getattr(_connections, "conn", None)
    if conn is None:
        conn = _connections.conn = sqlite3.connect(":memory:")
        conn.execute("create table hits (path text)")
    return conn


def sync_view(path: str) -> str:
    conn = db()  # same thread for the whole request, so the same connection
    conn.execute("insert into hits values (?)", (path,))
    (count,) = conn.execute("select count(*) from hits").fetchone()
    return f"{path}: {count} hit(s), sync view ran on {here()}"


async def handle_request(path: str) -> list[str]:
    """An async server calling sync code, as Django's ASGI handler does."""
    async with ThreadSensitiveContext():  # one thread for this request's sync work
        first = await sync_to_async(sync_view)(path)
        second = await sync_to_async(sync_view)(path)
    return [first, second]


# --- async code called from a sync program ---
async def fetch_greeting(name: str) -> str:
    await asyncio.sleep(0.01)  # pretend to talk to a network service
    inner = await sync_to_async(here)()  # comes back to the blocked sync caller
    return f"hello {name}: coroutine ran on {here()}, nested sync work on {inner}"


def sync_program() -> str:
    return async_to_sync(fetch_greeting)("world")


async def main() -> None:
    print("== async server calling a sync view (two requests at once) ==")
    for lines in await asyncio.gather(handle_request("/a"), handle_request("/b")):
        for line in lines:
            print(" ", line)


if __name__ == "__main__":
    asyncio.run(main())
    print("== sync program calling async code (twice: the loop is reused) ==")
    print(" ", sync_program(), f"(caller: {here()})")
    print(" ", sync_program())
