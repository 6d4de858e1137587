"""Per-stream RTP statistics: loss, jitter, round-trip time and an MOS estimate.

The relay's hot path only appends, per packet, the six octets of its sequence number and
timestamp (``data[2:8]``) to a ``bytearray`` and the arrival time to a list, through the
bound methods :attr:`ReceiveStatistics.record_header` and
:attr:`ReceiveStatistics.record_arrival` (two C calls, no Python frame). Nothing it keeps
until the fold is a container the cyclic garbage collector tracks: kept header tuples
were, and at 50,000 packets/s the young generation filled with them (up to 39,000 at a
pass), so its passes took 10-30 ms each, stalling every call's media.
:meth:`ReceiveStatistics.update` folds the pending packets in, vectorised with numpy, when
a report is due (every few seconds), with the same results as running RFC 3550 Appendix
A.1 (sequence validity) and A.8 (interarrival jitter) packet by packet:

- sequence numbers are unwrapped from consecutive signed 16-bit differences; when every
  packet lies within A.1's window of the running maximum (less than ``MAX_DROPOUT`` ahead,
  less than ``MAX_MISORDER`` behind) the batch is accounted at once, otherwise (probation,
  jumps, restarts) it goes through :class:`~switchboard.media.rtp.RtpSequence` one by one;
- jitter ``J += (|D| - J) / 16`` is a first-order filter, so over a batch of ``m``
  differences it is ``J_m = a**m J_0 + (1/16) sum a**(m-k) |D_k|`` with ``a = 15/16``.

MOS estimate (:func:`mos_estimate`), the E-model of ITU-T G.107 with its defaults and the
delay impairment simplified as by Cole and Rosenbluth (2001)::

    d       = rtt/2 + 2 * jitter + 10               one-way delay in ms (jitter buffer, codec)
    Id      = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)          H: 1 when positive, else 0
    Ie_eff  = Ie + (95 - Ie) * Ppl / (Ppl + Bpl)      Ppl: loss in %, G.107 §7.2, BurstR = 1
    R       = 93.2 - Id - Ie_eff                      93.2 = R0 - Is with G.107 defaults
    MOS     = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6    (G.107 Annex B; 1 if R < 0;
                                                          R never exceeds 93.2 here)

G.711 has ``Ie = 0``; ``Bpl = 25.1`` with packet-loss concealment, 4.3 without (G.113).
"""

from __future__ import annotations

from dataclasses import dataclass
from struct import Struct
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from switchboard.media.rtcp import RtcpReportBlock, RtcpSenderReport, ntp_short
from switchboard.media.rtp import MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL, RtpSequence

JITTER_GAIN = 1.0 / 16.0
_DECAY = 1.0 - JITTER_GAIN
_WEIGHTS_SIZE = 1024
_WEIGHTS = _DECAY ** np.arange(_WEIGHTS_SIZE, dtype=np.float64)
"""Filter weights a**k; beyond 1024 differences they fall under 1e-28 and are dropped."""
_Array = TypeVar(
    "_Array",
    npt.NDArray[np.uint16],
    npt.NDArray[np.uint32],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
)
_PYTHON_FOLD = 250
"""Batches up to this size are tried in pure Python first (:meth:`_fold_in_order`)."""
_HEADER = Struct("!HI")
"""What is recorded of each packet: octets 2-7 of its RTP header (sequence, timestamp)."""
_HEADER_DTYPE = np.dtype([("sequence", ">u2"), ("timestamp", ">u4")])


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """A summary of one received stream for CDRs, metrics and the event bus."""

    packets_received: int
    packets_expected: int
    packets_lost: int
    loss: float
    jitter_ms: float
    rtt_ms: float | None
    mos: float


class ReceiveStatistics:
    """Receive statistics of one RTP stream (one SSRC), RFC 3550 A.1, A.3 and A.8."""

    __slots__ = (
        "_last_arrival",
        "_last_sr_at",
        "_last_timestamp",
        "arrivals",
        "clock_rate",
        "fraction_lost",
        "headers",
        "jitter",
        "lsr",
        "min_sequential",
        "packets_invalid",
        "record_arrival",
        "record_header",
        "sequence",
    )

    def __init__(self, clock_rate: int = 8000, min_sequential: int = MIN_SEQUENTIAL) -> None:
        """``min_sequential``: probation packets (rtp.conf ``probation``) before counting."""
        self.clock_rate = clock_rate
        self.min_sequential = min_sequential
        self.sequence: RtpSequence | None = None
        self.jitter = 0.0
        """Interarrival jitter in timestamp units (A.8), as a float."""
        self.fraction_lost = 0.0
        """Loss in the last report interval, 0..1 (A.3)."""
        self.packets_invalid = 0
        self.lsr = 0
        self._last_sr_at = 0.0
        self.headers = bytearray()
        """Pending sequence numbers and timestamps, six octets a packet (``_HEADER``)."""
        self.arrivals: list[float] = []
        """Pending arrival times in seconds, one per header."""
        self.record_header = self.headers.extend
        self.record_arrival = self.arrivals.append
        self._last_arrival: float | None = None
        self._last_timestamp = 0

    def record(self, sequence_number: int, timestamp: int, arrival: float) -> None:
        """Note one received packet (the relay appends the header's octets 2-7 instead)."""
        self.headers += _HEADER.pack(sequence_number, timestamp)
        self.arrivals.append(arrival)

    @property
    def pending(self) -> int:
        """Packets recorded and not yet folded in by :meth:`update`."""
        return len(self.arrivals)

    def update(self) -> None:
        """Fold the recorded packets into the counters and the jitter."""
        count = len(self.arrivals)
        if not count:
            return
        raw = bytes(self.headers)
        self.headers.clear()
        if count <= _PYTHON_FOLD and self._fold_in_order(raw, self.arrivals):
            self.arrivals.clear()
            return
        fields = np.frombuffer(raw, _HEADER_DTYPE, count)
        seqs = fields["sequence"].astype(np.uint16)
        timestamps = fields["timestamp"].astype(np.uint32)
        arrivals = np.fromiter(self.arrivals, np.float64, count)
        self.arrivals.clear()
        valid = self._update_sequence(seqs)
        if valid is not None:
            self.packets_invalid += int(count - np.count_nonzero(valid))
            timestamps = timestamps[valid]
            arrivals = arrivals[valid]
        if len(arrivals):
            self._update_jitter(timestamps, arrivals)

    def _fold_in_order(self, headers: bytes, arrivals: list[float]) -> bool:
        """Fold a batch whose sequence numbers only go forward within A.1's window (the
        common case) in a plain loop, which beats numpy's fixed cost on a few hundred
        packets; False, and nothing changed, for any other batch."""
        source = self.sequence
        if source is None or source.probation:
            return False
        max_seq = source.max_seq
        cycles = source.cycles
        last_arrival = self._last_arrival
        last_timestamp = self._last_timestamp
        if last_arrival is None:
            last_arrival = arrivals[0]
            last_timestamp = _HEADER.unpack_from(headers)[1]
        jitter = self.jitter
        rate = self.clock_rate
        for (seq, timestamp), arrival in zip(_HEADER.iter_unpack(headers), arrivals, strict=True):
            if not 0 < (seq - max_seq) & 0xFFFF < MAX_DROPOUT:
                return False
            if seq < max_seq:
                cycles += 0x10000
            max_seq = seq
            step = timestamp - last_timestamp  # small: no big-integer work in the usual case
            if not -0x80000000 <= step < 0x80000000:
                step = ((step + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            difference = (arrival - last_arrival) * rate - step
            jitter += (abs(difference) - jitter) * JITTER_GAIN
            last_arrival = arrival
            last_timestamp = timestamp
        source.received += len(arrivals)
        source.cycles = cycles
        source.max_seq = max_seq
        self.jitter = jitter
        self._last_arrival = last_arrival
        self._last_timestamp = last_timestamp
        return True

    def _update_sequence(self, seqs: npt.NDArray[np.uint16]) -> npt.NDArray[np.bool_] | None:
        """Account the batch; return None when all packets are valid, else the valid mask."""
        source = self.sequence
        if source is None:
            source = self.sequence = RtpSequence(int(seqs[0]), self.min_sequential)
        if not source.probation:
            # uint16 differences wrap; read as int16 they are the signed steps.
            steps = _steps(seqs, source.max_seq).view(np.int16)
            start = source.extended_max
            extended = np.cumsum(steps, dtype=np.int64)
            extended += start
            running = np.maximum.accumulate(extended)
            np.maximum(running, start, out=running)
            behind = int((extended - running).min())
            ahead = int(_steps(running, start).max())
            if behind > -MAX_MISORDER and ahead < MAX_DROPOUT:
                highest = int(running[-1])
                source.received += len(seqs)
                source.cycles = highest & ~0xFFFF
                source.max_seq = highest & 0xFFFF
                return None
        return np.array([source.update(int(seq)) for seq in seqs], dtype=bool)

    def _update_jitter(
        self, timestamps: npt.NDArray[np.uint32], arrivals: npt.NDArray[np.float64]
    ) -> None:
        if self._last_arrival is None:
            self._last_arrival = float(arrivals[0])
            self._last_timestamp = int(timestamps[0])
        steps = _steps(timestamps, self._last_timestamp).view(np.int32)
        differences = _steps(arrivals, self._last_arrival)
        differences *= self.clock_rate
        differences -= steps
        np.abs(differences, out=differences)
        count = len(differences)
        used = min(count, _WEIGHTS_SIZE)
        weighted = float(_WEIGHTS[used - 1 :: -1] @ differences[count - used :])
        self.jitter = _DECAY**count * self.jitter + JITTER_GAIN * weighted
        self._last_arrival = float(arrivals[-1])
        self._last_timestamp = int(timestamps[-1])

    def sender_report_received(self, report: RtcpSenderReport, now: float) -> None:
        """Remember the source's last SR (LSR) and when it came, for the next DLSR."""
        self.lsr = ntp_short(report.ntp_timestamp)
        self._last_sr_at = now

    def report_block(self, ssrc: int, now: float) -> RtcpReportBlock | None:
        """Build the reception report about source ``ssrc`` (A.3); None before any packet."""
        self.update()
        source = self.sequence
        if source is None or source.probation:
            return None
        expected = source.expected
        expected_interval = expected - source.expected_prior
        received_interval = source.received - source.received_prior
        source.expected_prior = expected
        source.received_prior = source.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        self.fraction_lost = fraction / 256.0
        dlsr = int((now - self._last_sr_at) * 65536) & 0xFFFFFFFF if self.lsr else 0
        return RtcpReportBlock(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=expected - source.received,
            highest_sequence=source.extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter) & 0xFFFFFFFF,
            lsr=self.lsr,
            dlsr=dlsr,
        )

    @property
    def jitter_ms(self) -> float:
        """Interarrival jitter in milliseconds."""
        return 1000.0 * self.jitter / self.clock_rate

    def quality(self, rtt: float | None = None) -> StreamQuality:
        """Summarise the stream so far; ``rtt`` in seconds when known."""
        self.update()
        source = self.sequence
        received = source.received if source else 0
        expected = max(source.expected, 0) if source else 0
        lost = max(expected - received, 0)
        loss = lost / expected if expected else 0.0
        rtt_ms = None if rtt is None else 1000.0 * rtt
        return StreamQuality(
            packets_received=received,
            packets_expected=expected,
            packets_lost=lost,
            loss=loss,
            jitter_ms=self.jitter_ms,
            rtt_ms=rtt_ms,
            mos=mos_estimate(loss, self.jitter_ms, rtt_ms),
        )


def _steps(values: _Array, previous: float) -> _Array:
    """Consecutive differences (wrapping in the array's type), the first from ``previous``."""
    out: _Array = np.empty_like(values)
    np.subtract(values[1:], values[:-1], out=out[1:])
    out[:1] = values[:1] - values.dtype.type(previous)
    return out


class SendStatistics:
    """Counts of one sent stream for its SRs, and the SRs sent, to compute RTT from reports."""

    __slots__ = ("_sent", "octet_count", "packet_count")

    HISTORY = 8

    def __init__(self) -> None:
        """Start with nothing sent."""
        self.packet_count = 0
        self.octet_count = 0
        self._sent: dict[int, float] = {}

    def record(self, payload_octets: int) -> None:
        """Count one sent packet (RFC 3550 §6.4.1 counts payload octets only)."""
        self.packet_count += 1
        self.octet_count += payload_octets

    def sender_report(
        self,
        ssrc: int,
        ntp_timestamp: int,
        rtp_timestamp: int,
        now: float,
        reports: tuple[RtcpReportBlock, ...] = (),
    ) -> RtcpSenderReport:
        """Build an SR and remember when it left, under its LSR value."""
        self._sent[ntp_short(ntp_timestamp)] = now
        while len(self._sent) > self.HISTORY:
            del self._sent[next(iter(self._sent))]
        return RtcpSenderReport(
            ssrc,
            ntp_timestamp,
            rtp_timestamp & 0xFFFFFFFF,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
            reports,
        )

    def round_trip_time(self, block: RtcpReportBlock, now: float) -> float | None:
        """RTT in seconds from a report about our stream: now - SR sent - DLSR."""
        sent_at = self._sent.get(block.lsr) if block.lsr else None
        if sent_at is None:
            return None
        return max(0.0, now - sent_at - block.dlsr / 65536.0)


def round_trip_time(arrival_ntp_short: int, lsr: int, dlsr: int) -> float | None:
    """RFC 3550 §6.4.1 RTT in seconds: A - LSR - DLSR in 16.16 NTP units; None if LSR is 0."""
    if lsr == 0:
        return None
    value = (arrival_ntp_short - lsr - dlsr) & 0xFFFFFFFF
    if value & 0x80000000:
        return 0.0
    return value / 65536.0


def mos_estimate(
    loss: float,
    jitter_ms: float,
    rtt_ms: float | None = None,
    *,
    ie: float = 0.0,
    bpl: float = 25.1,
) -> float:
    """MOS 1..4.5 from loss (0..1), jitter and RTT in ms by the simplified E-model above."""
    delay = (rtt_ms or 0.0) / 2.0 + 2.0 * jitter_ms + 10.0
    id_ = 0.024 * delay + (0.11 * (delay - 177.3) if delay > 177.3 else 0.0)
    ppl = 100.0 * loss
    ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl)
    r = 93.2 - id_ - ie_eff
    if r < 0:
        return 1.0
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
