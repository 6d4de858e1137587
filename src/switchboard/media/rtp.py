"""RTP packets (RFC 3550 §5.1): a fast header peek, full parse/serialize, and
sequence-number arithmetic with the RFC 3550 Appendix A.1 validity check.

:func:`peek` is one ``struct.unpack_from`` and two compares, no object built beyond the
result tuple; the relay goes one step further on every packet and keeps
:func:`unpack_header`'s own tuple, checking the first octet itself. RTCP is version 2
too: on an rtcp-mux port, call :func:`switchboard.media.rtcp.is_rtcp` first. Everything
else (:class:`RtpPacket`, header extensions, :class:`RtpSequence`) is for endpoints,
players and tests.

RFC 2198 redundant payloads (RED, used for DTMF by some phones) are split by
:func:`parse_red`. Header extensions (RFC 8285) are kept raw in :attr:`RtpPacket.extension`;
:func:`parse_header_extensions` splits them into ``(id, data)`` elements when asked.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.media.errors import RtpError

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
RTP_SEQ_MOD = 1 << 16
RTP_TIMESTAMP_MOD = 1 << 32
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE = 0x1000

_FIXED = struct.Struct("!BBHII")
_unpack_fixed = _FIXED.unpack_from
unpack_header = _FIXED.unpack_from
"""``(first octet, second octet, sequence number, timestamp, SSRC)`` of the fixed header,
unchecked (``struct.error`` under 12 octets): the relay's hot path checks the first octet
itself and keeps this tuple for its statistics rather than build a second one."""
_EXTENSION_HEADER = struct.Struct("!HH")

Buffer = bytes | bytearray | memoryview


def peek(data: Buffer) -> tuple[int, int, int, int] | None:
    """Return ``(payload_type, sequence_number, timestamp, ssrc)``, or None if not RTP."""
    if len(data) < 12:
        return None
    b0, b1, sequence_number, timestamp, ssrc = _unpack_fixed(data)
    if b0 & 0xC0 != 0x80 or len(data) < 12 + ((b0 & 0x0F) << 2):
        return None
    return b1 & 0x7F, sequence_number, timestamp, ssrc


def header_size(data: Buffer) -> int:
    """Octets before the payload (fixed header, CSRCs, extension); :class:`RtpError` if cut."""
    size = len(data)
    if size < RTP_HEADER_SIZE:
        raise RtpError(f"RTP packet of {size} octets: expected at least {RTP_HEADER_SIZE}")
    b0 = data[0]
    offset = RTP_HEADER_SIZE + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if size < offset + 4:
            raise RtpError(f"RTP packet of {size} octets: header extension cut short")
        offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3])
    if size < offset:
        raise RtpError(f"RTP packet of {size} octets: its header takes {offset}")
    return offset


def with_payload_type(data: bytes, payload_type: int) -> bytes:
    """The same packet with another payload type (marker kept): for PT renumbering."""
    return b"".join((data[:1], bytes(((data[1] & 0x80) | payload_type,)), data[2:]))


def translate_payload(data: bytes, table: bytes, payload_type: int) -> bytes:
    """Transcode a G.711 packet: payload through a 256-octet map (g711.*_BYTES), new PT."""
    start = header_size(data)
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)
    if end < start:
        raise RtpError(f"RTP padding of {data[-1]} octets: longer than the payload")
    return b"".join(
        (
            data[:1],
            bytes(((data[1] & 0x80) | payload_type,)),
            data[2:start],
            data[start:end].translate(table),
            data[end:],
        )
    )


def parse_red(payload: bytes) -> list[tuple[int, int, bytes]]:
    """Split an RFC 2198 RED payload into (payload_type, timestamp_offset, data), primary last."""
    headers: list[tuple[int, int, int]] = []
    position = 0
    size = len(payload)
    while True:
        if position >= size:
            raise RtpError("RED payload ends inside its block headers")
        if not payload[position] & 0x80:
            primary = payload[position] & 0x7F
            position += 1
            break
        if position + 4 > size:
            raise RtpError("RED block header cut short")
        word = int.from_bytes(payload[position : position + 4], "big")
        headers.append(((word >> 24) & 0x7F, (word >> 10) & 0x3FFF, word & 0x3FF))
        position += 4
    blocks: list[tuple[int, int, bytes]] = []
    for payload_type, offset, length in headers:
        if position + length > size:
            raise RtpError(f"RED block of {length} octets: only {size - position} left")
        blocks.append((payload_type, offset, payload[position : position + length]))
        position += length
    blocks.append((primary, 0, payload[position:]))
    return blocks


def build_red(blocks: Iterable[tuple[int, int, bytes]]) -> bytes:
    """Build an RFC 2198 RED payload from (payload_type, timestamp_offset, data), primary last."""
    items = list(blocks)
    if not items:
        raise RtpError("RED payload needs at least the primary block")
    head = bytearray()
    for payload_type, offset, data in items[:-1]:
        if not 0 <= payload_type <= 127 or not 0 <= offset <= 0x3FFF or len(data) > 0x3FF:
            raise RtpError(f"RED block PT {payload_type} offset {offset} of {len(data)} octets")
        word = 0x80000000 | (payload_type << 24) | (offset << 10) | len(data)
        head += word.to_bytes(4, "big")
    head.append(items[-1][0] & 0x7F)
    return bytes(head) + b"".join(data for _, _, data in items)


def seq_delta(a: int, b: int) -> int:
    """Signed distance from sequence number ``b`` to ``a``, modulo 2**16, in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def timestamp_delta(a: int, b: int) -> int:
    """Signed distance from RTP timestamp ``b`` to ``a``, modulo 2**32."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet; ``padding`` is the number of padding octets (0: no P bit)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: Buffer) -> RtpPacket:
        """Parse a whole datagram; raise :class:`RtpError` saying what was wrong."""
        size = len(data)
        if size < RTP_HEADER_SIZE:
            raise RtpError(f"RTP packet of {size} octets: expected at least {RTP_HEADER_SIZE}")
        b0, b1, sequence_number, timestamp, ssrc = _unpack_fixed(data)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise RtpError(f"RTP version {version}: expected {RTP_VERSION}")
        csrc_count = b0 & 0x0F
        offset = RTP_HEADER_SIZE + 4 * csrc_count
        if size < offset:
            raise RtpError(f"RTP packet of {size} octets: its {csrc_count} CSRCs need {offset}")
        csrc = struct.unpack_from(f"!{csrc_count}I", data, RTP_HEADER_SIZE)
        extension_profile: int | None = None
        extension = b""
        if b0 & 0x10:
            if size < offset + 4:
                raise RtpError(f"RTP packet of {size} octets: header extension cut short")
            extension_profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            offset += 4
            if size < offset + 4 * words:
                raise RtpError(
                    f"RTP header extension of {words} words: only {size - offset} octets left"
                )
            extension = bytes(data[offset : offset + 4 * words])
            offset += 4 * words
        end = size
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or padding > size - offset:
                raise RtpError(f"RTP padding count {padding}: expected 1 to {size - offset} octets")
            end -= padding
        return cls(
            payload_type=b1 & 0x7F,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=bytes(data[offset:end]),
            marker=bool(b1 & 0x80),
            csrc=csrc,
            extension_profile=extension_profile,
            extension=extension,
            padding=padding,
        )

    def serialize(self) -> bytes:
        """Build the datagram; raise :class:`RtpError` for out-of-range fields."""
        if not 0 <= self.payload_type <= 127:
            raise RtpError(f"RTP payload type {self.payload_type}: expected 0 to 127")
        if len(self.csrc) > 15:
            raise RtpError(f"{len(self.csrc)} CSRCs: RTP carries at most 15")
        if len(self.extension) % 4:
            raise RtpError(f"RTP header extension of {len(self.extension)} octets: not words")
        if not 0 <= self.padding <= 255:
            raise RtpError(f"RTP padding of {self.padding} octets: expected 0 to 255")
        b0 = 0x80 | len(self.csrc)
        if self.extension_profile is not None:
            b0 |= 0x10
        if self.padding:
            b0 |= 0x20
        try:
            parts = [
                _FIXED.pack(
                    b0,
                    (0x80 if self.marker else 0) | self.payload_type,
                    self.sequence_number,
                    self.timestamp,
                    self.ssrc,
                ),
                struct.pack(f"!{len(self.csrc)}I", *self.csrc),
            ]
            if self.extension_profile is not None:
                parts.append(
                    _EXTENSION_HEADER.pack(self.extension_profile, len(self.extension) // 4)
                )
        except struct.error as exc:
            raise RtpError(f"RTP header field out of range: {exc}") from None
        parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


def parse_header_extensions(profile: int, data: bytes) -> list[tuple[int, bytes]]:
    """Split an RFC 8285 one-byte or two-byte extension block into ``(id, data)`` elements."""
    elements: list[tuple[int, bytes]] = []
    position = 0
    size = len(data)
    if profile == ONE_BYTE_PROFILE:
        while position < size:
            byte = data[position]
            position += 1
            if byte == 0:
                continue
            element_id = byte >> 4
            if element_id == 15:
                break
            length = (byte & 0x0F) + 1
            if position + length > size:
                raise RtpError(f"RTP one-byte extension element {element_id} cut short")
            elements.append((element_id, data[position : position + length]))
            position += length
    elif profile & 0xFFF0 == TWO_BYTE_PROFILE:
        while position < size:
            element_id = data[position]
            position += 1
            if element_id == 0:
                continue
            if position >= size:
                raise RtpError(f"RTP two-byte extension element {element_id} has no length")
            length = data[position]
            position += 1
            if position + length > size:
                raise RtpError(f"RTP two-byte extension element {element_id} cut short")
            elements.append((element_id, data[position : position + length]))
            position += length
    else:
        raise RtpError(f"RTP header extension profile {profile:#06x}: not RFC 8285")
    return elements


def build_header_extensions(elements: Iterable[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Encode elements as RFC 8285 one-byte form when they fit, else two-byte; pad to words."""
    items = list(elements)
    for element_id, value in items:
        if not 1 <= element_id <= 255 or len(value) > 255:
            raise RtpError(f"RTP extension element {element_id} of {len(value)} octets")
    one_byte = all(element_id <= 14 and 1 <= len(value) <= 16 for element_id, value in items)
    out = bytearray()
    if one_byte:
        profile = ONE_BYTE_PROFILE
        for element_id, value in items:
            out.append((element_id << 4) | (len(value) - 1))
            out += value
    else:
        profile = TWO_BYTE_PROFILE
        for element_id, value in items:
            out.append(element_id)
            out.append(len(value))
            out += value
    out += bytes(-len(out) % 4)
    return profile, bytes(out)


class RtpSequence:
    """Sequence-number state of one source, as in RFC 3550 Appendix A.1 (``source``)."""

    __slots__ = (
        "bad_seq",
        "base_seq",
        "cycles",
        "expected_prior",
        "max_seq",
        "min_sequential",
        "probation",
        "received",
        "received_prior",
    )

    def __init__(self, seq: int, min_sequential: int = MIN_SEQUENTIAL) -> None:
        """Start on the first packet heard; it is then passed to :meth:`update` too."""
        self.min_sequential = min_sequential
        self.init_seq(seq)
        if min_sequential:
            self.max_seq = (seq - 1) & 0xFFFF
        self.probation = min_sequential

    def init_seq(self, seq: int) -> None:
        """Restart the counts at ``seq`` (A.1 ``init_seq``)."""
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update(self, seq: int) -> bool:
        """Account one packet (A.1 ``update_seq``); False: not (yet) valid, do not use it."""
        udelta = (seq - self.max_seq) & 0xFFFF
        if self.probation:
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self.init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = self.min_sequential - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:
                # Two sequential packets after a big jump: the source restarted.
                self.init_seq(seq)
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        self.received += 1
        return True

    @property
    def extended_max(self) -> int:
        """Extended highest sequence number received (cycles + max_seq)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since the base (A.3)."""
        return self.extended_max - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost (A.3); negative when duplicates arrived."""
        return self.expected - self.received
