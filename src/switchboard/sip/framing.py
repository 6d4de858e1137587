"""Framing of SIP messages on stream transports (TCP, TLS): bytes in, messages out.

A stream carries messages back to back; each ends after ``Content-Length`` body octets,
which stream transports must send (RFC 3261 §18.3). Between messages, CRLF CRLF is a
keep-alive ping that the receiver answers with one CRLF (RFC 5626 §3.5.1); a lone CRLF
(the pong) is skipped. Sizes are bounded so that a peer cannot make us buffer without end.

Errors follow h11: :meth:`SipStreamFramer.next_event` raises :class:`RemoteProtocolError`.
When the message was framed intact the framer goes on with the next one; when framing
itself failed (bad or missing Content-Length, limits) :attr:`SipStreamFramer.broken` is
set, every later call raises the same error, and the adapter closes the connection after
answering the error when it can.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.sip.errors import RemoteProtocolError, UnanswerableError
from switchboard.sip.message import (
    SipRequest,
    SipResponse,
    build_message,
    content_length,
    read_head,
)

DEFAULT_MAX_HEADER_SIZE = 32 * 1024
DEFAULT_MAX_BODY_SIZE = 64 * 1024
PING = b"\r\n\r\n"
PONG = b"\r\n"


@dataclass(frozen=True, slots=True)
class KeepAliveReceived:
    """The peer sent a CRLF CRLF ping: write :data:`PONG` back (RFC 5626 §3.5.1)."""


class SipStreamFramer:
    """Cuts one connection's byte stream into SIP messages and keep-alive pings."""

    __slots__ = ("_broken", "_buffer", "_pending", "_scan_from", "max_body_size", "max_header_size")

    def __init__(
        self,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.max_header_size = max_header_size
        self.max_body_size = max_body_size
        self._buffer = bytearray()
        self._scan_from = 0
        self._pending: tuple[SipRequest | SipResponse, RemoteProtocolError | None, int] | None
        self._pending = None
        self._broken: RemoteProtocolError | None = None

    @property
    def broken(self) -> bool:
        """True once framing failed: the connection cannot be read any further."""
        return self._broken is not None

    @property
    def buffered(self) -> int:
        """Octets received and not yet returned as a message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add received bytes; call :meth:`next_event` until it returns None."""
        self._buffer += data

    def next_event(self) -> SipRequest | SipResponse | KeepAliveReceived | None:
        """The next complete message or ping, or None until more bytes arrive."""
        if self._broken is not None:
            raise self._broken
        buf = self._buffer
        if self._pending is None:
            while buf[:2] == PONG:
                if buf[:4] == PING:
                    del buf[:4]
                    return KeepAliveReceived()
                if PING.startswith(buf):
                    return None
                del buf[:2]
            if buf == b"\r":
                return None
            end = buf.find(b"\r\n\r\n", self._scan_from)
            if end < 0:
                if len(buf) > self.max_header_size:
                    raise self._fail(UnanswerableError(513, "Header block too large"))
                self._scan_from = max(0, len(buf) - 3)
                return None
            self._scan_from = 0
            if end > self.max_header_size:
                raise self._fail(UnanswerableError(513, "Header block too large"))
            head = bytes(buf[:end])
            del buf[: end + 4]
            try:
                message, error = build_message(*read_head(head))
                length = content_length(message)
            except RemoteProtocolError as exc:
                raise self._fail(exc) from None
            if length is None:
                raise self._fail(message._error("Content-Length is required on streams"))
            if length > self.max_body_size:
                raise self._fail(message._error("Message Too Large", 513))
            self._pending = (message, error, length)
        message, error, length = self._pending
        if len(buf) < length:
            return None
        self._pending = None
        message.body = bytes(buf[:length])
        del buf[:length]
        if error is not None:
            raise error
        return message

    def _fail(self, error: RemoteProtocolError) -> RemoteProtocolError:
        self._broken = error
        return error
