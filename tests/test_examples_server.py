"""examples/udp_echo_server.py: a StatelessServer over UDP on 127.0.0.1, bounded in time.

Two clients talk to the server at once; each gets its own application
instance (its own reply counter), and the server stops by itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "udp_echo_server.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("udp_echo_server_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass/typing lookups need it registered
    spec.loader.exec_module(module)
    return module


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


async def open_client(address: tuple[str, int]) -> tuple[asyncio.DatagramTransport, Client]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(Client, remote_addr=address)
    return transport, protocol


@pytest.mark.asyncio
async def test_udp_echo_numbers_replies_per_client() -> None:
    example = load_example()
    server = example.UdpEchoServer(example.numbered_echo, port=0, seconds=30.0)
    running = asyncio.ensure_future(server.arun())
    while server.address is None:  # bound once handle() has started
        await asyncio.sleep(0)
        assert not running.done(), running.exception()
    (t1, c1), (t2, c2) = await open_client(server.address), await open_client(server.address)
    try:
        t1.sendto(b"alpha")
        assert await asyncio.wait_for(c1.replies.get(), 5) == b"1: alpha"
        t2.sendto(b"beta")
        assert await asyncio.wait_for(c2.replies.get(), 5) == b"1: beta"
        t1.sendto(b"gamma")
        assert await asyncio.wait_for(c1.replies.get(), 5) == b"2: gamma"
        assert len(server.application_instances) == 2
    finally:
        t1.close()
        t2.close()
        server.stop()
        await asyncio.wait_for(running, 10)
    assert running.result() is None
    assert all(d["future"].done() for d in server.application_instances.values())


def test_udp_echo_stops_by_itself() -> None:
    example = load_example()
    server = example.UdpEchoServer(example.numbered_echo, port=0, seconds=0.05)
    server.run()  # returns once `seconds` have passed
    assert server.address is not None
    assert server.address[0] == "127.0.0.1"
