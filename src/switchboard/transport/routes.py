"""Which of our addresses a peer reaches us on: for Contact, Via and SDP when bound to any."""

from __future__ import annotations

import functools
import socket


@functools.lru_cache(maxsize=1024)
def local_address_for(host: str) -> str:
    """Our source address towards ``host`` as the kernel routes it (no packet is sent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, 9))
        except OSError:
            return "::1" if family == socket.AF_INET6 else "127.0.0.1"
        return str(probe.getsockname()[0])


def host_port(host: str, port: int) -> str:
    """``host:port`` with an IPv6 host in brackets, as SIP writes it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
