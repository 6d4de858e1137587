"""RTCP packets (RFC 3550 §6): SR, RR, SDES, BYE and APP, compound packets, and the
RTP/RTCP demultiplexing rule for rtcp-mux (RFC 5761 §4).

Other packet types (RTPFB/PSFB feedback, XR, ...) are kept as :class:`RtcpUnknown` so that
a compound packet with them still parses. Every parse error is an :class:`RtcpError`.
Of the A.2 validity checks, version, lengths and padding-only-last are enforced; "the
first packet is SR or RR" is not, so reduced-size RTCP (RFC 5506) parses too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.media.errors import RtcpError

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204

SDES_END = 0
SDES_CNAME = 1
SDES_NAME = 2
SDES_EMAIL = 3
SDES_PHONE = 4
SDES_LOC = 5
SDES_TOOL = 6
SDES_NOTE = 7
SDES_PRIV = 8

NTP_UNIX_OFFSET = 2208988800
"""Seconds from the NTP epoch (1900) to the Unix epoch (1970)."""

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IQIII")
_REPORT_BLOCK = struct.Struct("!IIIIII")
_SSRC = struct.Struct("!I")

Buffer = bytes | bytearray | memoryview


RTCP_MIN_TIME = 5.0
RTCP_SENDER_BW_FRACTION = 0.25
RTCP_RCVR_BW_FRACTION = 1.0 - RTCP_SENDER_BW_FRACTION
COMPENSATION = 2.71828 - 1.5
"""Makes up for the timer reconsideration's bias to lower intervals (A.7)."""


def rtcp_interval(
    members: int,
    senders: int,
    *,
    rtcp_bw: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    random_value: float,
) -> float:
    """Seconds to the next report (RFC 3550 A.7); ``random_value`` in [0, 1), injected."""
    minimum = RTCP_MIN_TIME / 2 if initial else RTCP_MIN_TIME
    count = members
    if senders <= members * RTCP_SENDER_BW_FRACTION:
        if we_sent:
            rtcp_bw *= RTCP_SENDER_BW_FRACTION
            count = senders
        else:
            rtcp_bw *= RTCP_RCVR_BW_FRACTION
            count -= senders
    interval = max(avg_rtcp_size * count / rtcp_bw, minimum)
    return interval * (random_value + 0.5) / COMPENSATION


def is_rtcp(data: Buffer) -> bool:
    """True when a datagram on an rtcp-mux port is RTCP: second octet in 192..223."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point) for a Unix time in seconds."""
    return round((seconds + NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_short(ntp_timestamp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp, as used in LSR (16.16 seconds)."""
    return (ntp_timestamp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class RtcpReportBlock:
    """One reception report block (RFC 3550 §6.4.1); ``jitter`` in timestamp units."""

    ssrc: int
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int

    @classmethod
    def parse(cls, data: Buffer, offset: int) -> RtcpReportBlock:
        """Read the 24-octet block at ``offset`` (the caller checked the length)."""
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        packets_lost = lost_word & 0xFFFFFF
        if packets_lost & 0x800000:
            packets_lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, packets_lost, highest, jitter, lsr, dlsr)

    def serialize(self) -> bytes:
        """Build the 24 octets; the cumulative loss is clamped to its signed 24-bit range."""
        lost = max(-(1 << 23), min(self.packets_lost, (1 << 23) - 1)) & 0xFFFFFF
        if not 0 <= self.fraction_lost <= 255:
            raise RtcpError(f"fraction lost {self.fraction_lost}: expected 0 to 255")
        try:
            return _REPORT_BLOCK.pack(
                self.ssrc,
                (self.fraction_lost << 24) | lost,
                self.highest_sequence,
                self.jitter,
                self.lsr,
                self.dlsr,
            )
        except struct.error as exc:
            raise RtcpError(f"report block field out of range: {exc}") from None


@dataclass(frozen=True, slots=True)
class RtcpSenderReport:
    """SR (PT 200): sender info and reception reports; profile extension kept raw."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[RtcpReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """Build the packet."""
        try:
            body = _SENDER_INFO.pack(
                self.ssrc,
                self.ntp_timestamp,
                self.rtp_timestamp,
                self.packet_count,
                self.octet_count,
            )
        except struct.error as exc:
            raise RtcpError(f"sender report field out of range: {exc}") from None
        body += b"".join(block.serialize() for block in self.reports) + self.extension
        return _build(RTCP_SR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class RtcpReceiverReport:
    """RR (PT 201): reception reports from a participant that does not send."""

    ssrc: int
    reports: tuple[RtcpReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """Build the packet."""
        body = _pack_ssrc(self.ssrc)
        body += b"".join(block.serialize() for block in self.reports) + self.extension
        return _build(RTCP_RR, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class RtcpSdesChunk:
    """One SDES chunk: an SSRC and its ``(item type, value)`` items (CNAME is type 1)."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class RtcpSourceDescription:
    """SDES (PT 202): source description chunks."""

    chunks: tuple[RtcpSdesChunk, ...] = ()

    def serialize(self) -> bytes:
        """Build the packet; each chunk ends with a null item and pads to a word."""
        body = bytearray()
        for chunk in self.chunks:
            body += _pack_ssrc(chunk.ssrc)
            for item_type, value in chunk.items:
                if not 1 <= item_type <= 255 or len(value) > 255:
                    raise RtcpError(f"SDES item {item_type} of {len(value)} octets")
                body.append(item_type)
                body.append(len(value))
                body += value
            body += bytes(4 - len(body) % 4)
        return _build(RTCP_SDES, len(self.chunks), bytes(body))


@dataclass(frozen=True, slots=True)
class RtcpBye:
    """BYE (PT 203): the sources leave, with an optional reason."""

    sources: tuple[int, ...] = ()
    reason: bytes = b""

    def serialize(self) -> bytes:
        """Build the packet."""
        body = b"".join(_pack_ssrc(ssrc) for ssrc in self.sources)
        if self.reason:
            if len(self.reason) > 255:
                raise RtcpError(f"BYE reason of {len(self.reason)} octets: at most 255")
            text = bytes((len(self.reason),)) + self.reason
            body += text + bytes(-len(text) % 4)
        return _build(RTCP_BYE, len(self.sources), body)


@dataclass(frozen=True, slots=True)
class RtcpApp:
    """APP (PT 204): application-defined, with a 5-bit subtype and a 4-character name."""

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    def serialize(self) -> bytes:
        """Build the packet; ``data`` must be whole words."""
        if len(self.name) != 4:
            raise RtcpError(f"APP name {self.name!r}: expected 4 octets")
        if len(self.data) % 4:
            raise RtcpError(f"APP data of {len(self.data)} octets: not whole words")
        return _build(RTCP_APP, self.subtype, _pack_ssrc(self.ssrc) + self.name + self.data)


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    """A packet type this module does not decode (feedback, XR, ...), kept raw."""

    packet_type: int
    count: int
    payload: bytes

    def serialize(self) -> bytes:
        """Build the packet."""
        if len(self.payload) % 4:
            raise RtcpError(f"RTCP payload of {len(self.payload)} octets: not whole words")
        return _build(self.packet_type, self.count, self.payload)


RtcpPacket = (
    RtcpSenderReport | RtcpReceiverReport | RtcpSourceDescription | RtcpBye | RtcpApp | RtcpUnknown
)


def parse_compound(data: Buffer) -> list[RtcpPacket]:
    """Parse a compound RTCP datagram (RFC 3550 §6.1, validity checks of A.2)."""
    packets: list[RtcpPacket] = []
    size = len(data)
    if size < 4:
        raise RtcpError(f"RTCP datagram of {size} octets: expected at least 4")
    offset = 0
    while offset < size:
        if size - offset < 4:
            raise RtcpError(f"{size - offset} octets after the last RTCP packet")
        b0, packet_type, words = _HEADER.unpack_from(data, offset)
        if b0 >> 6 != 2:
            raise RtcpError(f"RTCP version {b0 >> 6}: expected 2")
        end = offset + 4 + 4 * words
        if end > size:
            raise RtcpError(f"RTCP packet of {4 + 4 * words} octets: only {size - offset} left")
        body_end = end
        if b0 & 0x20:
            if end != size:
                raise RtcpError("RTCP padding on a packet that is not the last one")
            padding = data[end - 1]
            if padding == 0 or padding > 4 * words:
                raise RtcpError(f"RTCP padding count {padding}: expected 1 to {4 * words}")
            body_end -= padding
        packets.append(_parse_one(packet_type, b0 & 0x1F, bytes(data[offset + 4 : body_end])))
        offset = end
    return packets


def serialize_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound datagram."""
    return b"".join(packet.serialize() for packet in packets)


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == RTCP_SR:
        blocks_end = 24 + 24 * count
        if len(body) < blocks_end:
            raise RtcpError(f"SR with {count} reports needs {blocks_end} octets, has {len(body)}")
        ssrc, ntp, rtp_timestamp, packet_count, octet_count = _SENDER_INFO.unpack_from(body)
        reports = tuple(RtcpReportBlock.parse(body, 24 + 24 * i) for i in range(count))
        return RtcpSenderReport(
            ssrc, ntp, rtp_timestamp, packet_count, octet_count, reports, body[blocks_end:]
        )
    if packet_type == RTCP_RR:
        blocks_end = 4 + 24 * count
        if len(body) < blocks_end:
            raise RtcpError(f"RR with {count} reports needs {blocks_end} octets, has {len(body)}")
        reports = tuple(RtcpReportBlock.parse(body, 4 + 24 * i) for i in range(count))
        return RtcpReceiverReport(_SSRC.unpack_from(body)[0], reports, body[blocks_end:])
    if packet_type == RTCP_SDES:
        return RtcpSourceDescription(_parse_sdes(count, body))
    if packet_type == RTCP_BYE:
        if len(body) < 4 * count:
            raise RtcpError(f"BYE with {count} sources needs {4 * count} octets")
        sources = struct.unpack_from(f"!{count}I", body)
        reason = b""
        if len(body) > 4 * count:
            length = body[4 * count]
            reason = body[4 * count + 1 : 4 * count + 1 + length]
            if len(reason) != length:
                raise RtcpError(f"BYE reason of {length} octets cut short")
        return RtcpBye(sources, reason)
    if packet_type == RTCP_APP:
        if len(body) < 8:
            raise RtcpError(f"APP of {len(body)} octets: expected at least 8")
        return RtcpApp(count, _SSRC.unpack_from(body)[0], body[4:8], body[8:])
    return RtcpUnknown(packet_type, count, body)


def _parse_sdes(count: int, body: bytes) -> tuple[RtcpSdesChunk, ...]:
    chunks: list[RtcpSdesChunk] = []
    offset = 0
    for _ in range(count):
        if len(body) - offset < 4:
            raise RtcpError("SDES chunk without its SSRC")
        ssrc = _SSRC.unpack_from(body, offset)[0]
        offset += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if offset >= len(body):
                raise RtcpError("SDES chunk without its terminating null item")
            item_type = body[offset]
            if item_type == SDES_END:
                offset += 4 - offset % 4
                break
            if offset + 2 > len(body):
                raise RtcpError(f"SDES item {item_type} has no length")
            length = body[offset + 1]
            value = body[offset + 2 : offset + 2 + length]
            if len(value) != length:
                raise RtcpError(f"SDES item {item_type} of {length} octets cut short")
            items.append((item_type, value))
            offset += 2 + length
        chunks.append(RtcpSdesChunk(ssrc, tuple(items)))
    return tuple(chunks)


def _pack_ssrc(ssrc: int) -> bytes:
    try:
        return _SSRC.pack(ssrc)
    except struct.error as exc:
        raise RtcpError(f"SSRC {ssrc}: {exc}") from None


def _build(packet_type: int, count: int, body: bytes) -> bytes:
    if not 0 <= count <= 31:
        raise RtcpError(f"RTCP count {count}: expected 0 to 31")
    if len(body) % 4:  # pragma: no cover - every builder pads to words
        raise RtcpError("RTCP body not in whole words")
    return _HEADER.pack(0x80 | count, packet_type, len(body) // 4) + body
