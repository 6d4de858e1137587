"""Benchmark the media hot path in one process on one core: what the relay does per packet,
and G.711 work per 20 ms frame, each against a baseline measured in the same run.

Relay path per packet (1,000 distinct packets over 20 legs, as the relay sees them):
- ``peek``: version/length check and (pt, seq, ts, ssrc) from the 12-byte header;
- ``peek + latch``: plus :class:`RtpLatch` source check (strictrtp=yes, learned);
- ``unpack + latch + append``: the relay's path: the unpacked tuple checked, the latch, and
  that tuple and the arrival time appended for statistics;
- ``unpack + latch + stats``: the same with the batched :meth:`ReceiveStatistics.update`
  every 250 packets per leg (5 s of 20 ms audio) counted in;
- baseline: a bare ``struct.Struct("!BBHII").unpack_from`` of the same packets.

SRTP per packet (only legs that negotiated SDES pay it; a plain leg runs the path above
unchanged): libsrtp protect, and unprotect, of 1,000 distinct 172-octet packets for each
suite, a new context per run (its set-up, a few tens of µs, is counted in).

G.711 per 160-sample frame: µ-law -> A-law payload transcoding (bare, and of a whole RTP
packet with the PT rewritten), linear -> µ-law encoding and µ-law -> linear decoding;
baselines: ``audioop`` (C) doing the same, where Python has it (up to 3.12).

Run: ``.venv/bin/python bench/rtp.py [--seconds 0.3]``. Target: the relay needs 150,000
packets/s per core with room for the socket work, so the header path must stay near 1 us.
"""

from __future__ import annotations

import argparse
import struct
import time
import warnings
from collections.abc import Callable
from typing import Any

from switchboard.media import g711
from switchboard.media.latch import RtpLatch
from switchboard.media.rtp import RtpPacket, peek, translate_payload
from switchboard.media.srtp import SUPPORTED, SrtpContext
from switchboard.media.stats import ReceiveStatistics
from switchboard.media.tones import sine
from switchboard.sdp.crypto import SrtpParameters, key_length

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+
        audioop = None

LEGS = 20
PACKETS_PER_LEG = 50
BATCH = 250


def make_packets() -> list[tuple[bytes, tuple[str, int], int]]:
    """Interleaved G.711 packets of LEGS legs: (datagram, source address, leg index)."""
    payload = bytes(160)
    out = []
    for index in range(PACKETS_PER_LEG):
        for leg in range(LEGS):
            data = RtpPacket(0, index, index * 160, 0x1000 + leg, payload).serialize()
            out.append((data, (f"192.0.2.{leg + 1}", 4000 + 2 * leg), leg))
    return out


def relay_functions() -> dict[str, Callable[[], int]]:
    """Each function relays the whole packet list once and returns the packet count."""
    packets = make_packets()
    latches = [RtpLatch(address, "yes", probation=1) for _, address, _ in packets[:LEGS]]
    for (_, address, _), latch in zip(packets[:LEGS], latches, strict=True):
        latch.accept(address, 0)
    stats = [ReceiveStatistics(min_sequential=0) for _ in range(LEGS)]
    record_header = [leg_stats.record_header for leg_stats in stats]
    record_arrival = [leg_stats.record_arrival for leg_stats in stats]
    clock = [0.0]
    bare = struct.Struct("!BBHII").unpack_from

    def bare_unpack() -> int:
        for data, _address, _leg in packets:
            bare(data)
        return len(packets)

    def peek_only() -> int:
        for data, _address, _leg in packets:
            peek(data)
        return len(packets)

    def peek_latch() -> int:
        for data, address, leg in packets:
            header = peek(data)
            if header is not None and latches[leg].accept(address, header[1]):
                pass
        return len(packets)

    def peek_latch_append() -> int:
        now = clock[0]
        for data, address, leg in packets:
            header = bare(data)  # the relay keeps the unpacked tuple for its statistics
            if header[0] & 0xCF == 0x80 and latches[leg].accept(address, header[2]):
                record_header[leg](header)
                record_arrival[leg](now)
        for leg_stats in stats:
            leg_stats.headers.clear()
            leg_stats.arrivals.clear()
        return len(packets)

    def peek_latch_stats() -> int:
        now = clock[0]
        for data, address, leg in packets:
            header = bare(data)  # the relay keeps the unpacked tuple for its statistics
            if header[0] & 0xCF == 0x80 and latches[leg].accept(address, header[2]):
                record_header[leg](header)
                record_arrival[leg](now)
        clock[0] = now + 1.0
        # Per leg, PACKETS_PER_LEG packets were recorded: update on the BATCH share.
        for leg_stats in stats:
            if leg_stats.pending >= BATCH:
                leg_stats.update()
        return len(packets)

    return {
        "bare struct unpack (baseline)": bare_unpack,
        "peek": peek_only,
        "peek + latch": peek_latch,
        "unpack + latch + append (no update)": peek_latch_append,
        "unpack + latch + stats": peek_latch_stats,
    }


def srtp_functions() -> dict[str, Callable[[], int]]:
    """Each function protects (or unprotects) 1,000 packets with a new context."""
    packets = [data for data, _address, _leg in make_packets()]
    functions: dict[str, Callable[[], int]] = {}
    for suite in SUPPORTED:
        ours, theirs = bytes([1]) * key_length(suite), bytes([2]) * key_length(suite)
        sending = SrtpParameters(suite, ours, theirs)
        receiving = SrtpParameters(suite, theirs, ours)
        protected = [SrtpContext(receiving).protect(data) for data in packets]

        def protect(parameters: SrtpParameters = sending) -> int:
            context = SrtpContext(parameters)
            for data in packets:
                context.protect(data)
            return len(packets)

        def unprotect(parameters: SrtpParameters = sending, sent: list[bytes] = protected) -> int:
            context = SrtpContext(parameters)
            for data in sent:
                context.unprotect(data)
            return len(sent)

        functions[f"srtp {suite} protect"] = protect
        functions[f"srtp {suite} unprotect"] = unprotect
    return functions


def g711_functions() -> dict[str, Callable[[], int]]:
    """Each function handles 100 frames of 160 samples and returns the frame count."""
    pcm = sine(1000, 2.0)
    frames = [pcm[i * 160 : (i + 1) * 160] for i in range(100)]
    linear = [frame.tobytes() for frame in frames]
    ulaw = [g711.encode_payload(frame, "ulaw") for frame in frames]
    functions: dict[str, Callable[[], int]] = {}

    def transcode() -> int:
        for payload in ulaw:
            g711.ulaw_to_alaw(payload)
        return len(ulaw)

    def encode() -> int:
        for frame in frames:
            g711.ulaw_encode(frame).tobytes()
        return len(frames)

    def decode() -> int:
        for payload in ulaw:
            g711.decode_payload(payload, "ulaw")
        return len(ulaw)

    packets = [
        RtpPacket(0, index, index * 160, 7, payload).serialize()
        for index, payload in enumerate(ulaw)
    ]

    def transcode_packet() -> int:
        for data in packets:
            translate_payload(data, g711.ULAW_TO_ALAW_BYTES, 8)
        return len(packets)

    functions["ulaw->alaw transcode"] = transcode
    functions["ulaw->alaw whole RTP packet"] = transcode_packet
    functions["linear->ulaw encode"] = encode
    functions["ulaw->linear decode"] = decode
    if audioop is not None:
        lin2ulaw: Any = audioop.lin2ulaw
        ulaw2lin: Any = audioop.ulaw2lin
        lin2alaw: Any = audioop.lin2alaw

        def audioop_transcode() -> int:
            for payload in ulaw:
                lin2alaw(ulaw2lin(payload, 2), 2)
            return len(ulaw)

        def audioop_encode() -> int:
            for data in linear:
                lin2ulaw(data, 2)
            return len(linear)

        def audioop_decode() -> int:
            for payload in ulaw:
                ulaw2lin(payload, 2)
            return len(ulaw)

        functions["audioop ulaw->lin->alaw (baseline)"] = audioop_transcode
        functions["audioop lin2ulaw (baseline)"] = audioop_encode
        functions["audioop ulaw2lin (baseline)"] = audioop_decode
    return functions


def rates(functions: dict[str, Callable[[], int]], seconds: float) -> dict[str, float]:
    """Best items/s of each function over five interleaved rounds."""
    best = dict.fromkeys(functions, 0.0)
    for function in functions.values():
        function()
    for _ in range(5):
        for name, function in functions.items():
            count = 0
            start = time.process_time()
            deadline = start + seconds
            while True:
                count += function()
                now = time.process_time()
                if now >= deadline:
                    break
            best[name] = max(best[name], count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="length of each timed run")
    args = parser.parse_args()
    relay = rates(relay_functions(), args.seconds)
    for name, rate in relay.items():
        print(f"{name}: {rate:,.0f} packets/s ({1e6 / rate:.2f} us/packet)")
    srtp = rates(srtp_functions(), args.seconds)
    for name, rate in srtp.items():
        print(f"{name}: {rate:,.0f} packets/s ({1e6 / rate:.2f} us/packet)")
    codec = rates(g711_functions(), args.seconds)
    for name, rate in codec.items():
        print(f"{name}: {rate:,.0f} frames/s of 160 samples ({1e6 / rate:.2f} us/frame)")
    if "audioop lin2ulaw (baseline)" in codec:
        print(
            "transcode / audioop ulaw->lin->alaw: "
            f"{codec['ulaw->alaw transcode'] / codec['audioop ulaw->lin->alaw (baseline)']:.2f}"
        )
        print(
            "encode / audioop lin2ulaw: "
            f"{codec['linear->ulaw encode'] / codec['audioop lin2ulaw (baseline)']:.2f}"
        )
    hot = relay["unpack + latch + append (no update)"]
    update_cost = 1e6 / relay["unpack + latch + stats"] - 1e6 / hot
    print(f"stats update, amortised: {update_cost:.2f} us/packet")
    both = sum(
        1e6 / srtp[f"srtp AES_CM_128_HMAC_SHA1_80 {way}"] for way in ("protect", "unprotect")
    )
    print(f"srtp AES_CM_128_HMAC_SHA1_80 unprotect + protect: {both:.2f} us/packet")
    full = hot / relay["bare struct unpack (baseline)"]
    print(f"relay hot path (unpack + latch + append) / bare struct unpack: {full:.2f}")


if __name__ == "__main__":
    main()
