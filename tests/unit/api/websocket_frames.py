"""RFC 6455 §5.2 server frames spelled out independently of the code under test."""

from __future__ import annotations


def rfc6455_text(payload: str) -> bytes:
    """An unmasked final text frame (FIN + opcode 1) for a payload under 64 KiB."""
    data = payload.encode()
    if len(data) < 126:
        return bytes([0b1000_0001, len(data)]) + data
    return bytes([0b1000_0001, 126, len(data) >> 8, len(data) & 0xFF]) + data


def texts(data: bytes) -> list[str]:
    """The payloads of the unmasked final text frames that ``data`` is made of."""
    found = []
    while data:
        assert data[0] == 0x81 and data[1] & 0x80 == 0  # FIN + text, unmasked
        size, start = data[1], 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        assert size < 127 or start == 4
        found.append(data[start : start + size].decode())
        data = data[start + size :]
    return found
