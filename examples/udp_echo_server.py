"""A UDP echo server built on `asgibridge.server.StatelessServer`.

Each client address gets its own application instance (the scope id is the
address), so per-client state lives in the application: here, a counter that
numbers the replies. Run it and talk to it with netcat::

    python examples/udp_echo_server.py --port 9999 --seconds 60
    nc -u 127.0.0.1 9999        # type lines; each comes back as "1: line", "2: ..."

The server binds to 127.0.0.1 only and stops after ``--seconds`` (or when
``stop()`` is called), so it is safe to leave in a test.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from asgibridge.server import StatelessServer

Scope = dict[str, Any]


async def numbered_echo(scope: Scope, receive: Any, send: Any) -> None:
    """The ASGI application: echo each datagram back, numbered per client."""
    count = 0
    while True:
        message = await receive()
        count += 1
        await send({"type": "udp.send", "data": b"%d: %s" % (count, message["data"])})


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[bytes, Any]]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait((data, addr))


class UdpEchoServer(StatelessServer):
    """Feed every datagram to the application instance of its sender.

    Args:
        application: the ASGI app; it receives ``{"type": "udp.datagram",
            "data": bytes}`` and sends ``{"type": "udp.send", "data": bytes}``.
        port: UDP port on 127.0.0.1 (0: any free port; see ``address``).
        seconds: stop after this long (None: until ``stop()``).
        max_applications: instances kept at once (least recently used go first).
    """

    def __init__(
        self,
        application: Any,
        port: int = 0,
        seconds: float | None = None,
        max_applications: int = 1000,
    ) -> None:
        super().__init__(application, max_applications=max_applications)
        self.port = port
        self.seconds = seconds
        self.address: tuple[str, int] | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def handle(self) -> None:
        """Receive datagrams until stopped (or ``seconds`` passed)."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        inbox: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: _Inbox(inbox), local_addr=("127.0.0.1", self.port)
        )
        self._transport = transport
        self.address = transport.get_extra_info("sockname")[:2]
        stop = asyncio.ensure_future(self._stop.wait())
        deadline = None if self.seconds is None else self._loop.time() + self.seconds
        try:
            while True:
                get = asyncio.ensure_future(inbox.get())
                remaining = None if deadline is None else max(0.0, deadline - self._loop.time())
                done, _ = await asyncio.wait(
                    {get, stop}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
                if get not in done:
                    get.cancel()
                    return
                data, addr = get.result()
                queue = self.get_or_create_application_instance(
                    addr, {"type": "udp", "client": addr}
                )
                queue.put_nowait({"type": "udp.datagram", "data": data})
        finally:
            stop.cancel()
            transport.close()

    async def application_send(self, scope: Scope, message: dict[str, Any]) -> None:
        """Send the application's reply back to the client of its scope."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(message["data"], scope["client"])

    def stop(self) -> None:
        """Make ``handle()`` return (safe from any thread)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: ``--port`` and ``--seconds``."""
    parser = argparse.ArgumentParser(description="UDP echo server on 127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    server = UdpEchoServer(numbered_echo, port=args.port, seconds=args.seconds)
    print(f"UDP echo on 127.0.0.1:{args.port} for {args.seconds} s", flush=True)
    server.run()


if __name__ == "__main__":
    main()
