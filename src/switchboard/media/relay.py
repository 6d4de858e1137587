"""The anchored media relay of one call: two legs, each an RTP+RTCP socket pair from the pool.

Leg A's phone sends to leg A's port; what it sends leaves through leg B's RTP socket to
B's remote, and the other way round. Per RTP packet the hot path
(:meth:`_RtpProtocol.datagram_received`) does only: one ``struct`` unpack of the fixed
header and a compare on its first octet, a compare with the latched source (a call to
:meth:`~switchboard.media.latch.RtpLatch.accept` only while it is learning), two counters,
the two ``list.append`` calls of :class:`~switchboard.media.stats.ReceiveStatistics` (the
unpacked tuple itself and the arrival time), and ``sendto``. No task, no log line, no
allocation beyond that tuple, the arrival float and what asyncio gives.
Rarer packets leave the hot path through one compare each: RFC 4733 telephone events (fed
to a :class:`~switchboard.media.dtmf.DtmfReceiver` and relayed), the audio of a leg whose
phone sends DTMF in-band (``dtmf_mode=inband``: put through the media graph's
:class:`~switchboard.media.rtpport.RtpReceiver`, which orders and decodes it into a
:class:`~switchboard.media.dtmf.DtmfToneDetector` sink, then relayed; the payload type is
-1, never matched, on every other leg) and payload-type rewrites (PT renumbering, µ-law <->
A-law transcoding with the G.711 tables, or, between other codecs, a
:class:`~switchboard.media.transcode.RtpTranscoder` set at wiring time: decode, resample,
encode, stateful per leg direction; a plain leg's rewrite table stays empty).

Where each leg's media goes: the remote from SDP (:meth:`RelayLeg.set_remote`), replaced by
the latched source when the endpoint has ``rtp_symmetric=yes`` (the :class:`RtpLatch` under
rtp.conf ``strictrtp``/``probation`` decides what is accepted either way); packets from
other sources are dropped and counted.

RTCP is relayed the same way (accepted from the leg's RTCP address or the host its RTP comes
from; on the RTP port too, for rtcp-mux, told apart by packet type as RFC 5761 §4 says) and
parsed: the phones' receiver reports give each leg the loss and jitter *it* sees;
the round-trip time of a leg is the time from the relay forwarding the other phone's SR to
this phone until this phone's report about it arrives, less its DLSR (RFC 3550 §6.4.1, the
relay standing in for the SR's sender). One timer per relay (``report_interval``) folds the
batched statistics, ends DTMF digits whose end packets were lost, and fires the RTP timeout
hook (``rtp_timeout``: no RTP from a leg for that many seconds).

SRTP (:meth:`RelayLeg.secure`): a leg whose phone negotiated SDES keys gets its own receive
protocol on its RTP socket (unprotect, then the plain path above) and its own output
(protect, then ``sendto``). Everything that reaches that phone goes through
:attr:`RelayLeg.output`, the relayed media of the other phone, its echo, a prompt from
the player; everything from it is unprotected before the latch, the DTMF receiver or a
recording sees it. That is the one place where SRTP happens, and a plain leg keeps the
transport's own ``sendto`` and the unchanged protocol: no per-packet cost. SRTCP is
unprotected and protected on the RTCP path the same way.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from struct import error as struct_error
from typing import Any, Literal, Protocol, cast

from switchboard.media.codecs import codec_named
from switchboard.media.dtmf import DtmfEvent, DtmfReceiver, DtmfToneDetector
from switchboard.media.errors import MediaError
from switchboard.media.latch import RtpLatch
from switchboard.media.portpool import PortPair, PortPool
from switchboard.media.ports import Frame
from switchboard.media.rtcp import (
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSenderReport,
    ntp_short,
    parse_compound,
)
from switchboard.media.rtp import (
    header_size,
    translate_payload,
    unpack_header,
    with_payload_type,
)
from switchboard.media.rtpport import RtpReceiver
from switchboard.media.srtp import SrtpContext, SrtpFailure
from switchboard.media.stats import ReceiveStatistics, StreamQuality
from switchboard.media.transcode import RtpTranscoder
from switchboard.sdp.crypto import SrtpParameters

LegName = Literal["a", "b"]
Address = tuple[Any, ...]
DtmfCallback = Callable[[LegName, DtmfEvent], None]
TimeoutCallback = Callable[[LegName], None]
Rewrite = tuple[bytes | RtpTranscoder | None, int]
"""A payload type's rewrite: (None: renumber only, a G.711 map, or a transcoder; new PT)."""

_clock = time.monotonic
_unpack_header = unpack_header
_SR_HISTORY = 8
_CAPTURED = ("captured", 0)
"""The destination a captured leg reports: its packets go to a sink, not a socket."""


class DatagramSink(Protocol):
    """Where packets to a phone go: a datagram transport, or the SRTP output around it."""

    def sendto(self, data: bytes, addr: Address) -> None:
        """Send one datagram to ``addr``."""

    def is_closing(self) -> bool:
        """Whether the socket is closing."""


class _Destination:
    """A fixed destination (``rtp_symmetric=no``): the SDP address, whatever the source."""

    __slots__ = ("address",)

    def __init__(self, address: Address | None) -> None:
        """Send to ``address``."""
        self.address = address


@dataclass(frozen=True, slots=True)
class LegStats:
    """A snapshot of one leg: what the relay received from its phone and what it reported."""

    remote: Address | None
    packets_received: int
    octets_received: int
    packets_sent: int
    packets_dropped: int
    packets_invalid: int
    packets_lost: int
    loss: float
    jitter_ms: float
    rtt_ms: float | None
    mos: float
    reported_loss: float | None
    reported_lost: int | None
    reported_jitter_ms: float | None
    rtcp_received: int


class _RtpProtocol(asyncio.DatagramProtocol):
    """The RTP socket of one leg: the relay's hot path."""

    __slots__ = (
        "dtmf_payload_type",
        "inband_payload_type",
        "invalid",
        "latch",
        "leg",
        "octets",
        "packets",
        "record_arrival",
        "record_header",
        "rewrite",
        "sendto",
        "target",
        "transport",
        "unsent",
    )

    __deletable__ = ("leg",)

    def __init__(self, leg: RelayLeg) -> None:
        """Read the leg's settings into slots, to keep lookups short on the hot path."""
        self.leg = leg
        self.transport: asyncio.DatagramTransport | None = None
        self.latch = leg.latch
        self.record_header = leg.statistics.record_header
        self.record_arrival = leg.statistics.record_arrival
        self.dtmf_payload_type = -1
        self.inband_payload_type = -1
        self.rewrite: dict[int, Rewrite] = {}
        self.sendto: Callable[[bytes, Any], None] = _discard
        self.target: RtpLatch | _Destination = _Destination(None)
        self.packets = 0
        self.octets = 0
        self.invalid = 0
        self.unsent = 0

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Check, latch, count, record and relay one RTP packet."""
        try:
            header = _unpack_header(data)
        except struct_error:  # under 12 octets
            self.invalid += 1
            return
        b0 = header[0]
        if b0 & 0xCF != 0x80 and (b0 & 0xC0 != 0x80 or len(data) < 12 + ((b0 & 0x0F) << 2)):
            self.invalid += 1  # not version 2, or shorter than its CSRC list
            return
        payload_type = header[1] & 0x7F
        if 64 <= payload_type < 96:
            # RTCP on the RTP port (rtcp-mux, RFC 5761 §4: packet types 192-223).
            self.leg.rtcp_received(data, addr)
            return
        latch = self.latch
        if addr != latch.latched and not latch.accept(addr, header[2]):
            return
        self.packets += 1
        self.octets += len(data)
        self.record_header(data[2:8])
        self.record_arrival(_clock())
        destination = self.target.address
        if payload_type == self.dtmf_payload_type:
            self.leg.telephone_event_received(data, header[3])
        elif payload_type == self.inband_payload_type:
            self.leg.audio_received(data)
        if self.rewrite:
            rewrite = self.rewrite.get(payload_type)
            if rewrite is not None:
                try:
                    rewritten = _rewrite(data, rewrite)
                except MediaError:
                    self.invalid += 1
                    return
                if rewritten is None:  # a transcoder still filling its first frame
                    return
                data = rewritten
        if destination is None:
            self.unsent += 1
            return
        self.sendto(data, destination)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (a phone gone away): the RTP timeout deals with dead legs."""


class _SrtpReceiver(asyncio.DatagramProtocol):
    """The RTP socket of an SRTP leg: SRTCP (rtcp-mux) to the RTCP path, SRTP unprotected
    and handed to the leg's plain protocol; a packet that fails counts as invalid."""

    __slots__ = ("leg", "plain", "unprotect")

    def __init__(self, leg: RelayLeg, context: SrtpContext) -> None:
        """Unprotect with ``context``, then feed ``leg``'s RTP protocol."""
        self.leg = leg
        self.plain = leg.rtp
        self.unprotect = context.unprotect

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Unprotect and relay one packet."""
        if len(data) > 1 and 192 <= data[1] <= 223:
            self.leg.rtcp_received(data, addr)
            return
        try:
            data = self.unprotect(data)
        except SrtpFailure:
            self.plain.invalid += 1
            return
        self.plain.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors: as for plain RTP."""


class _SrtpOutput:
    """An SRTP leg's output: protect with the leg's key, then send from its socket."""

    __slots__ = ("protect", "transport")

    def __init__(self, transport: asyncio.DatagramTransport, context: SrtpContext) -> None:
        """Protect with ``context``, send through ``transport``."""
        self.transport = transport
        self.protect = context.protect

    def sendto(self, data: bytes, addr: Address) -> None:
        """Send ``data`` as SRTP (a packet libsrtp refuses, too long, is dropped)."""
        try:
            packet = self.protect(data)
        except SrtpFailure:
            return
        self.transport.sendto(packet, addr)

    def is_closing(self) -> bool:
        """Whether the socket is closing."""
        return self.transport.is_closing()


class _RtcpProtocol(asyncio.DatagramProtocol):
    """The RTCP socket of one leg: relays and reads reports (a few packets per second)."""

    __slots__ = ("leg", "transport")
    __deletable__ = ("leg",)

    def __init__(self, leg: RelayLeg) -> None:
        """Serve ``leg``."""
        self.leg = leg
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Hand the packet to the leg."""
        self.leg.rtcp_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        """Ignore ICMP errors, as for RTP."""


def _discard(data: bytes, address: Address) -> None:
    """Send nowhere: the other leg is not connected yet."""


def _rewrite(data: bytes, rewrite: Rewrite) -> bytes | None:
    table, payload_type = rewrite
    if table is None:
        return with_payload_type(data, payload_type)
    if isinstance(table, bytes):
        return translate_payload(data, table, payload_type)
    return table(data)


class _ToneSink:
    """A media sink that runs the in-band DTMF detector and reports what it hears."""

    __slots__ = ("detector", "leg")

    def __init__(self, leg: RelayLeg, detector: DtmfToneDetector) -> None:
        self.leg = leg
        self.detector = detector

    def write(self, frame: Frame) -> None:
        """Listen to one frame of the phone's audio."""
        for event in self.detector.feed(frame):
            self.leg.relay.report_dtmf(self.leg.name, event)


class RelayLeg:
    """One side of the call: its phone's addresses, latch, statistics and DTMF receiver."""

    __deletable__ = ("relay", "other")

    def __init__(
        self,
        name: LegName,
        relay: MediaRelay,
        *,
        strictrtp: str,
        probation: int,
        dtmf_timeout: float,
    ) -> None:
        """Nothing is bound until :meth:`MediaRelay.start`."""
        self.name: LegName = name
        self.relay = relay
        self.family = relay.pool.family
        self.latch = RtpLatch(None, strictrtp, probation)
        self.statistics = ReceiveStatistics()
        self.dtmf = DtmfReceiver(timeout=dtmf_timeout)
        self.tones: RtpReceiver | None = None
        """The in-band DTMF path: packets in timestamp order, decoded, into a detector."""
        self.tones_codec = "ulaw"
        self.symmetric = True
        self.sdp_address: Address | None = None
        self.rtcp_address: Address | None = None
        self.rtcp_mux = False
        self.rtcp_dropped = 0
        self.rtcp_count = 0
        self.rtcp_invalid = 0
        self.rtt: float | None = None
        self.reported: RtcpReportBlock | None = None
        self.sr_forwarded: dict[int, float] = {}
        self.pair: PortPair | None = None
        self.srtp_parameters: SrtpParameters | None = None
        self.srtp: SrtpContext | None = None
        self.output: DatagramSink | None = None
        """Where everything for this leg's phone is sent (SRTP-protected on an SRTP leg)."""
        self.rtp = _RtpProtocol(self)
        self.rtcp = _RtcpProtocol(self)
        self.other: RelayLeg = self
        self.last_activity = 0.0
        self.seen_packets = 0
        self.timed_out = False

    @property
    def port(self) -> int:
        """The local RTP port (for this leg's SDP)."""
        assert self.pair is not None, "start() the relay first"
        return self.pair.port

    @property
    def destination(self) -> Address | None:
        """Where the other phone's media to this leg is sent now."""
        return cast(Address | None, self.other.rtp.target.address)

    def set_remote(
        self,
        address: Address | None,
        rtcp: Address | None = None,
        *,
        symmetric: bool = True,
        rtcp_mux: bool = False,
    ) -> None:
        """The phone's RTP address from SDP (RTCP default: port + 1); learn the source again."""
        self.sdp_address = None if address is None else self._normalize(address)
        self.rtcp_mux = rtcp_mux
        if rtcp_mux:
            rtcp = address
        if rtcp is None and self.sdp_address is not None:
            rtcp = (self.sdp_address[0], self.sdp_address[1] + 1, *self.sdp_address[2:])
        self.rtcp_address = None if rtcp is None else self._normalize(rtcp)
        self.symmetric = symmetric
        self.latch.relearn(self.sdp_address)
        # The other leg's protocol sends to this leg: through the latch, or to the SDP.
        self.other.rtp.target = self.latch if symmetric else _Destination(self.sdp_address)

    def secure(self, parameters: SrtpParameters | None) -> None:
        """Use SRTP with the negotiated ``parameters`` for this leg's phone (None: plain
        RTP). The same parameters again change nothing (libsrtp's state is kept)."""
        if parameters == self.srtp_parameters:
            return
        self.srtp_parameters = parameters
        self.srtp = None if parameters is None else SrtpContext(parameters)
        self._attach()

    def _attach(self) -> None:
        """Put this leg's receive protocol and output in place; whoever sent through the
        old output (the other leg, an echo) sends through the new one."""
        transport = self.rtp.transport
        if transport is None:
            return
        old = self.output
        if self.srtp is None:
            self.output = transport
            transport.set_protocol(self.rtp)
        else:
            self.output = _SrtpOutput(transport, self.srtp)
            transport.set_protocol(_SrtpReceiver(self, self.srtp))
        if old is not None:
            for protocol in (self.other.rtp, self.rtp):
                if protocol.sendto == old.sendto:
                    protocol.sendto = self.output.sendto

    def mute(self, muted: bool) -> None:
        """Stop (or resume) relaying the other phone's media to this one, while a prompt
        plays to it from this leg's socket."""
        output = self.output
        self.other.rtp.sendto = _discard if muted or output is None else output.sendto

    def capture(self, sink: Callable[[bytes], None] | None) -> None:
        """Hand every RTP packet this leg's phone sends to ``sink`` instead of relaying it
        (a recording); None relays again. Costs nothing per packet: the send is swapped."""
        rtp = self.rtp
        other = self.other
        if sink is None:
            output = other.output
            rtp.sendto = _discard if output is None else output.sendto
            rtp.target = other.latch if other.symmetric else _Destination(other.sdp_address)
            return
        rtp.sendto = lambda data, _address: sink(data)
        rtp.target = _Destination(_CAPTURED)

    def set_telephone_event(self, payload_type: int | None) -> None:
        """The RFC 4733 payload type this leg's phone sends DTMF with (None: no DTMF)."""
        self.rtp.dtmf_payload_type = -1 if payload_type is None else payload_type

    def detect_tones(self, payload_type: int | None, codec: str = "ulaw") -> None:
        """Listen for in-band DTMF in the audio of PT ``payload_type`` (``codec``, by its
        Asterisk name) this leg's phone sends (None: stop). Only such legs pay a decode
        per packet."""
        audio = codec_named(codec)
        if payload_type is None or audio is None:
            self.rtp.inband_payload_type = -1
            self.tones = None
            return
        if self.tones is None or self.tones_codec != codec:
            detector = _ToneSink(self, DtmfToneDetector())
            self.tones = RtpReceiver(payload_type, audio, (detector,))
        self.tones.payload_type = payload_type
        self.tones_codec = codec
        self.rtp.inband_payload_type = payload_type

    def map_payload(self, payload_type: int, to: int, table: bytes | None = None) -> None:
        """Rewrite PT ``payload_type`` from this phone as ``to``, through a G.711 ``table``."""
        self.rtp.rewrite[payload_type] = (table, to)

    def transcode(self, payload_type: int, transcoder: RtpTranscoder) -> None:
        """Transcode PT ``payload_type`` from this phone with ``transcoder`` (its own state,
        this direction only)."""
        self.rtp.rewrite[payload_type] = (transcoder, transcoder.payload_type)

    def _normalize(self, address: Address) -> Address:
        """The address as the socket reports sources: IPv4-mapped on a dual-stack socket."""
        if self.family != socket.AF_INET6:
            return (address[0], address[1])
        host = str(address[0])
        if ":" not in host:
            host = "::ffff:" + host
        return (host, address[1], 0, 0)

    def telephone_event_received(self, data: bytes, timestamp: int) -> None:
        """Feed an RFC 4733 packet to the receiver and report its events."""
        try:
            events = self.dtmf.receive(data[header_size(data) :], timestamp, _clock())
        except MediaError:
            return
        relay = self.relay  # a callback may close the relay, which cuts the leg loose
        for event in events:
            relay.report_dtmf(self.name, event)

    def audio_received(self, data: bytes) -> None:
        """Feed an audio packet to the in-band DTMF path (a jitter buffer first: a
        reordered packet would cut a tone in two)."""
        if self.tones is not None:
            self.tones.put(data)

    def rtcp_received(self, data: bytes, addr: Address) -> None:
        """Accept RTCP from this phone (either port), relay it to the other phone, read it."""
        latched = cast(Address | None, self.latch.address)
        if addr != self.rtcp_address and (latched is None or addr[0] != latched[0]):
            self.rtcp_dropped += 1
            return
        if self.srtp is not None:
            try:
                data = self.srtp.unprotect_rtcp(data)
            except SrtpFailure:
                self.rtcp_invalid += 1
                return
        self.rtcp_address = addr
        self.rtcp_count += 1
        now = _clock()
        other = self.other
        other.send_rtcp(data)
        try:
            packets = parse_compound(data)
        except MediaError:
            self.rtcp_invalid += 1
            return
        for packet in packets:
            if isinstance(packet, RtcpSenderReport):
                self.statistics.sender_report_received(packet, now)
                other.sr_forwarded[ntp_short(packet.ntp_timestamp)] = now
                while len(other.sr_forwarded) > _SR_HISTORY:
                    del other.sr_forwarded[next(iter(other.sr_forwarded))]
            if isinstance(packet, RtcpSenderReport | RtcpReceiverReport):
                for block in packet.reports:
                    self._report_received(block, now)

    def send_rtcp(self, data: bytes) -> None:
        """Send RTCP to this phone: to its RTCP port, or its RTP port with rtcp-mux."""
        if self.rtcp_mux:
            address, transport = self.destination, self.rtp.transport
        else:
            address, transport = self.rtcp_address, self.rtcp.transport
        if address is None or transport is None:
            return
        if self.srtp is not None:
            try:
                data = self.srtp.protect_rtcp(data)
            except SrtpFailure:
                return
        transport.sendto(data, address)

    def _report_received(self, block: RtcpReportBlock, now: float) -> None:
        """A report from this phone about the stream it receives (the other phone's)."""
        self.reported = block
        forwarded = self.sr_forwarded.get(block.lsr) if block.lsr else None
        if forwarded is not None:
            self.rtt = max(0.0, now - forwarded - block.dlsr / 65536.0)

    def tick(self, now: float, rtp_timeout: float) -> bool:
        """Fold statistics, end stale digits; True when the RTP timeout just expired."""
        self.statistics.update()
        relay = self.relay  # as in telephone_event_received
        for event in self.dtmf.handle_timer(now):
            relay.report_dtmf(self.name, event)
        if self.rtp.packets != self.seen_packets:
            self.seen_packets = self.rtp.packets
            self.last_activity = now
            self.timed_out = False
            return False
        if rtp_timeout > 0 and not self.timed_out and now - self.last_activity >= rtp_timeout:
            self.timed_out = True
            return True
        return False

    def snapshot(self) -> LegStats:
        """What the relay knows about this leg now."""
        quality: StreamQuality = self.statistics.quality(self.rtt)
        reported = self.reported
        rtp = self.rtp
        other = self.other.rtp
        return LegStats(
            remote=cast(Address | None, self.latch.address if self.symmetric else self.sdp_address),
            packets_received=rtp.packets,
            octets_received=rtp.octets,
            packets_sent=other.packets - other.unsent,
            packets_dropped=self.latch.dropped,
            packets_invalid=rtp.invalid,
            packets_lost=quality.packets_lost,
            loss=quality.loss,
            jitter_ms=quality.jitter_ms,
            rtt_ms=quality.rtt_ms,
            mos=quality.mos,
            reported_loss=None if reported is None else reported.fraction_lost / 256.0,
            reported_lost=None if reported is None else reported.packets_lost,
            reported_jitter_ms=(
                None if reported is None else 1000.0 * reported.jitter / self.statistics.clock_rate
            ),
            rtcp_received=self.rtcp_count,
        )


class MediaRelay:
    """An anchored relay for one call; ``start()`` binds both legs, ``close()`` frees them."""

    def __init__(
        self,
        pool: PortPool,
        *,
        strictrtp: str = "yes",
        probation: int = 4,
        rtp_timeout: float = 0.0,
        dtmf_timeout: float = 3000 / 8000,
        report_interval: float = 1.0,
        on_dtmf: DtmfCallback | None = None,
        on_timeout: TimeoutCallback | None = None,
    ) -> None:
        """Options as rtp.conf (``strictrtp``, ``probation``) and pjsip (``rtp_timeout``)."""
        self.pool = pool
        self.rtp_timeout = rtp_timeout
        self.report_interval = report_interval
        self.on_dtmf = on_dtmf
        self.on_timeout = on_timeout
        self.a = RelayLeg(
            "a", self, strictrtp=strictrtp, probation=probation, dtmf_timeout=dtmf_timeout
        )
        self.b = RelayLeg(
            "b", self, strictrtp=strictrtp, probation=probation, dtmf_timeout=dtmf_timeout
        )
        self.a.other = self.b
        self.b.other = self.a
        self.a.rtp.target = self.b.latch
        self.b.rtp.target = self.a.latch
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    async def start(self) -> None:
        """Take two port pairs from the pool (warm ones keep their sockets and transports
        from earlier calls) and put this call's protocols on them; PortPoolExhaustedError
        if none is left."""
        if self.closed:
            raise MediaError("the relay was closed")
        loop = self._loop = asyncio.get_running_loop()
        try:
            for leg in (self.a, self.b):
                pair = leg.pair = await self.pool.open()
                rtcp = pair.rtcp_transport
                assert pair.rtp_transport is not None and rtcp is not None
                leg.rtp.transport = pair.rtp_transport
                leg.rtcp.transport = rtcp
                rtcp.set_protocol(leg.rtcp)
        except BaseException:
            self._release()
            raise
        for leg in (self.a, self.b):
            leg._attach()
        for leg in (self.a, self.b):
            output = leg.other.output
            assert output is not None
            leg.rtp.sendto = output.sendto
            leg.last_activity = _clock()
        self._timer = loop.call_later(self.report_interval, self._tick)

    def leg(self, name: LegName) -> RelayLeg:
        """Leg ``"a"`` or ``"b"``."""
        return self.a if name == "a" else self.b

    def translate(self, source: LegName, payload_type: int, to: int, table: bytes) -> None:
        """Transcode packets of ``payload_type`` from leg ``source`` to ``to`` via ``table``."""
        self.leg(source).map_payload(payload_type, to, table)

    def echo(self, name: LegName) -> None:
        """Send what leg ``name``'s phone sends straight back to it (the Echo application)."""
        leg = self.leg(name)
        if leg.output is None:
            raise MediaError("start() the relay first")
        leg.rtp.sendto = leg.output.sendto
        leg.rtp.target = leg.latch if leg.symmetric else _Destination(leg.sdp_address)

    def report_dtmf(self, name: LegName, event: DtmfEvent) -> None:
        """Hand a DTMF event from leg ``name`` to the callback."""
        if self.on_dtmf is not None:
            self.on_dtmf(name, event)

    def _tick(self) -> None:
        loop = self._loop
        if self.closed or loop is None:
            return
        now = _clock()
        for leg in (self.a, self.b):
            expired = leg.tick(now, self.rtp_timeout)
            if expired and self.on_timeout is not None:
                self.on_timeout(leg.name)
            if self.closed:  # the callback hung up
                return
        self._timer = loop.call_later(self.report_interval, self._tick)

    def stats(self) -> dict[LegName, LegStats]:
        """A snapshot of both legs."""
        return {"a": self.a.snapshot(), "b": self.b.snapshot()}

    def media_stats(self) -> dict[LegName, LegStats]:
        """A snapshot of the legs that received RTP (none, on a call with direct media):
        what a call record keeps."""
        return {leg.name: leg.snapshot() for leg in (self.a, self.b) if leg.rtp.packets}

    def close(self) -> None:
        """End the relay for good: its ports go back to the pool, and the links that make
        the relay, its legs and their protocols (and, through the callbacks, the call) a
        cycle are cut, so the call is freed at once rather than by the cyclic collector,
        in pauses that grow with the call rate. A closed relay is not started again."""
        if self.closed:
            return
        self._release()
        self.closed = True
        self.on_dtmf = self.on_timeout = None
        for leg in (self.a, self.b):
            leg.tones = None
            del leg.relay, leg.other, leg.rtp.leg, leg.rtcp.leg

    def _release(self) -> None:
        """Stop the timer and return both port pairs to the pool, which parks (or closes)
        their sockets: a late packet to them reaches no protocol of this call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for leg in (self.a, self.b):
            leg.rtp.transport = None
            leg.rtcp.transport = None
            leg.rtp.sendto = _discard
            leg.output = None
            if leg.pair is not None:
                self.pool.release(leg.pair)
                leg.pair = None
