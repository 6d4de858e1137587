"""The UDP adapter's socket: a receive buffer that absorbs a burst while the loop pauses."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from switchboard.sip.transaction import TransactionLayer
from switchboard.transport.stack import SipStack
from switchboard.transport.udp import RECEIVE_BUFFER


@pytest.mark.asyncio
async def test_the_sip_socket_asks_for_a_large_receive_buffer() -> None:
    stack = SipStack(TransactionLayer(lambda: "b1"), asyncio.get_running_loop())
    await stack.listen_udp("transport-udp", "127.0.0.1", 0)
    transport = stack.udp[0].transport
    assert transport is not None
    try:
        sock = transport.get_extra_info("socket")
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        ceiling = int(Path("/proc/sys/net/core/rmem_max").read_text())
        # Linux doubles what it grants, for its bookkeeping (its default: 208 KiB, doubled).
        assert granted >= 2 * min(RECEIVE_BUFFER, ceiling)
    finally:
        transport.close()
