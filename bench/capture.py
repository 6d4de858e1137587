"""The delay a relay adds to RTP, measured from outside it with tcpdump on loopback.

SIPp's RTP pacing has jitter of its own (11 ms p99 at 40 calls, where the relay is 9 %
busy), so the jitter a relay *measures* on what it receives is the load generator's.
What a relay adds is the time each packet spends inside it: from the moment the sender's
datagram reaches loopback to the moment the relay sends it on. tcpdump timestamps both
in the kernel. A relay that forwards RTP unchanged keeps its SSRC and sequence number,
so the two copies of a packet are paired on them.

Only a sample is captured (SSRCs whose low four bits are zero: one stream in sixteen,
filtered in the kernel), so that tcpdump costs little beside the relay it measures.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_MASK = 0xF
"""A stream is captured when ``ssrc & SAMPLE_MASK == 0``."""

_LINK_HEADER = {0: 4, 1: 14, 113: 16, 276: 20}
"""Bytes before the IP header, by pcap link type (null, Ethernet, Linux SLL, SLL2)."""


@dataclass
class Delays:
    """Time inside the relay of every sampled packet paired in and out, in ms."""

    inside_ms: list[float] = field(default_factory=list)
    added_ms: list[float] = field(default_factory=list)
    """Each packet's time inside minus the least time inside of its stream: the delay
    variation the relay adds (what a receiver's jitter buffer must absorb)."""
    streams: int = 0

    @staticmethod
    def quantile(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def describe(self) -> str:
        inside, added = self.inside_ms, self.added_ms
        return (
            f"added jitter p99 {self.quantile(added, 0.99):.2f} ms "
            f"(max {max(added, default=float('nan')):.2f}); time inside p50 "
            f"{self.quantile(inside, 0.5):.2f} ms, p99 {self.quantile(inside, 0.99):.2f} ms; "
            f"{len(inside)} packets of {self.streams} sampled streams"
        )


class Capture:
    """tcpdump on loopback for RTP to and from two ports (the phones' media ports)."""

    def __init__(self, path: Path, ports: tuple[int, int], pinned: list[str]) -> None:
        self.path = path
        self.ports = ports
        self.pinned = pinned
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """tcpdump is installed (Debian ``tcpdump``) and we may capture (root)."""
        return shutil.which("tcpdump") is not None

    def start(self) -> None:
        first, second = self.ports
        expression = f"udp and (port {first} or port {second}) and udp[16:4] & {SAMPLE_MASK} = 0"
        self.process = subprocess.Popen(
            [*self.pinned, "tcpdump", "-i", "lo", "-nn", "-s", "64", "-B", "16384",
             "--time-stamp-precision=nano", "-w", str(self.path), expression],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.3)  # tcpdump opens its socket and compiles the filter

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def delays(self) -> Delays:
        """Pair each packet the relay sent to one phone with the same packet (SSRC and
        sequence number) the other phone sent to the relay, up to 1 s before."""
        return relay_delays(self.path, self.ports)


def _packets(path: Path) -> list[tuple[float, int, int, int, int]]:
    """(time, source port, destination port, SSRC, sequence number) of each RTP packet."""
    data = path.read_bytes() if path.exists() else b""
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
    link = _LINK_HEADER.get(struct.unpack("<I", data[20:24])[0], 14)
    out = []
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack("<IIII", data[offset : offset + 16])
        packet = data[offset + 16 : offset + 16 + length]
        offset += 16 + length
        ip = packet[link:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        udp = ip[(ip[0] & 0xF) * 4 :]
        if len(udp) < 20 or udp[8] >> 6 != 2:
            continue
        source, destination = struct.unpack(">HH", udp[:4])
        sequence, _, ssrc = struct.unpack(">HII", udp[10:20])
        out.append((seconds + fraction * scale, source, destination, ssrc, sequence))
    return out


def relay_delays(path: Path, ports: tuple[int, int]) -> Delays:
    """The :class:`Delays` in a capture of RTP between two phone ports through a relay."""
    sent: dict[tuple[int, int, int], float] = {}
    relayed: list[tuple[int, int, int, float]] = []
    for when, source, destination, ssrc, sequence in _packets(path):
        if source in ports:
            sent[source, ssrc, sequence] = when
        elif destination in ports:
            relayed.append(
                (ports[0] if destination == ports[1] else ports[1], ssrc, sequence, when)
            )
    inside: dict[tuple[int, int], list[float]] = {}
    for source, ssrc, sequence, when in relayed:
        went = sent.get((source, ssrc, sequence))
        if went is not None and 0 <= when - went < 1.0:
            inside.setdefault((source, ssrc), []).append((when - went) * 1000)
    delays = Delays(streams=len(inside))
    for times in inside.values():
        least = min(times)
        delays.inside_ms.extend(times)
        delays.added_ms.extend(t - least for t in times)
    return delays
