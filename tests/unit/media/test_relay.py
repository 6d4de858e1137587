"""The anchored relay with real sockets on 127.0.0.1: relaying, latching, strict sources,
transcoding, DTMF, RTCP statistics, port exhaustion and the RTP timeout hook."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
import pytest_asyncio

from switchboard.media import g711
from switchboard.media.codecs import CODECS, encode_all
from switchboard.media.dtmf import DtmfEnded, DtmfEvent, DtmfStarted, generate_dtmf
from switchboard.media.errors import MediaError
from switchboard.media.portpool import PortPool, PortPoolExhaustedError
from switchboard.media.relay import LegName, MediaRelay
from switchboard.media.rtcp import (
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSenderReport,
    ntp_from_unix,
    ntp_short,
    parse_compound,
)
from switchboard.media.rtp import RtpPacket
from switchboard.media.tones import sine, tone_fraction
from switchboard.media.transcode import RtpTranscoder
from tests.unit.cycles import cyclic_garbage
from tests.unit.media.test_portpool import free_range

HOST = "127.0.0.1"
DEADLINE = 3.0


class Phone:
    """A test socket pair playing one phone: RTP on some port, RTCP on another."""

    def __init__(self, host: str = HOST) -> None:
        self.rtp = self._socket(host)
        self.rtcp = self._socket(host)

    @staticmethod
    def _socket(host: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        sock.setblocking(False)
        return sock

    @property
    def address(self) -> tuple[str, int]:
        name = self.rtp.getsockname()
        return (name[0], name[1])

    @property
    def rtcp_address(self) -> tuple[str, int]:
        name = self.rtcp.getsockname()
        return (name[0], name[1])

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


async def receive(sock: socket.socket, timeout: float = DEADLINE) -> tuple[bytes, tuple[str, int]]:
    """The next datagram on ``sock``, or TimeoutError after ``timeout`` seconds (polled:
    uvloop has no ``sock_recvfrom``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            data, address = sock.recvfrom(2048)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing on {sock.getsockname()} in {timeout} s") from None
            await asyncio.sleep(0.001)
            continue
        return data, (address[0], address[1])


async def receive_all(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` datagrams, each within the deadline."""
    return [(await receive(sock))[0] for _ in range(count)]


async def nothing_arrives(sock: socket.socket, timeout: float = 0.2) -> bool:
    """True when no datagram arrives within ``timeout`` (a bounded negative check)."""
    try:
        await receive(sock, timeout)
    except TimeoutError:
        return True
    return False


async def until(condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Poll ``condition`` until true; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.005)


def rtp(seq: int, pt: int = 0, payload: bytes = b"\xff" * 160, ssrc: int = 0x1234) -> bytes:
    return RtpPacket(pt, seq & 0xFFFF, seq * 160, ssrc, payload).serialize()


@pytest_asyncio.fixture
async def pool() -> AsyncIterator[PortPool]:
    start = free_range(8)
    ports = PortPool(start, start + 16, HOST)
    yield ports
    ports.close()


@pytest_asyncio.fixture
async def phones() -> AsyncIterator[tuple[Phone, Phone]]:
    a, b = Phone(), Phone()
    yield a, b
    a.close()
    b.close()


async def started(pool: PortPool, a: Phone, b: Phone, **options: object) -> MediaRelay:
    relay = MediaRelay(pool, **options)  # type: ignore[arg-type]
    await relay.start()
    relay.a.set_remote(a.address, a.rtcp_address)
    relay.b.set_remote(b.address, b.rtcp_address)
    return relay


@pytest.mark.asyncio
async def test_packets_flow_both_ways_out_of_the_other_legs_port(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    relay = await started(pool, a, b)
    try:
        sent = [rtp(seq) for seq in range(5)]
        for data in sent:
            a.rtp.sendto(data, (HOST, relay.a.port))
        received = [await receive(b.rtp) for _ in sent]
        assert [data for data, _ in received] == sent
        assert {address for _, address in received} == {(HOST, relay.b.port)}
        back = rtp(7, ssrc=0x9999)
        b.rtp.sendto(back, (HOST, relay.b.port))
        assert await receive(a.rtp) == (back, (HOST, relay.a.port))
        stats = relay.stats()
        assert stats["a"].packets_received == 5
        assert stats["a"].octets_received == 5 * 172
        assert stats["b"].packets_sent == 5
        assert stats["a"].packets_sent == 1
        assert stats["a"].remote == a.address
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_a_call_record_keeps_only_the_legs_that_received_media(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    relay = await started(pool, a, b)
    try:
        assert relay.media_stats() == {}  # direct media: the relay never hears a packet
        a.rtp.sendto(rtp(1), (HOST, relay.a.port))
        await receive(b.rtp)
        stats = relay.media_stats()
        assert list(stats) == ["a"]
        assert stats["a"] == relay.stats()["a"]
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_nated_phone_is_latched_after_probation_and_gets_the_media(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    nat = Phone()  # the phone's public address differs from the one in its SDP
    relay = await started(pool, a, b, probation=4)
    try:
        for seq in range(100, 106):
            nat.rtp.sendto(rtp(seq), (HOST, relay.a.port))
        got = await receive_all(b.rtp, 3)  # the 4th packet latches: 4th, 5th, 6th relayed
        assert [RtpPacket.parse(data).sequence_number for data in got] == [103, 104, 105]
        assert relay.a.destination == nat.address
        b.rtp.sendto(rtp(1), (HOST, relay.b.port))
        data, _ = await receive(nat.rtp)
        assert RtpPacket.parse(data).sequence_number == 1
        assert await nothing_arrives(a.rtp, 0.05)
        assert relay.stats()["a"].packets_dropped == 3
    finally:
        relay.close()
        nat.close()


@pytest.mark.asyncio
async def test_strict_source_check_drops_and_counts_other_senders(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    attacker = Phone()
    relay = await started(pool, a, b, strictrtp="yes", probation=2)
    try:
        for seq in range(4):
            a.rtp.sendto(rtp(seq), (HOST, relay.a.port))
        await receive_all(b.rtp, 4)
        for seq in range(4, 10):
            attacker.rtp.sendto(rtp(seq, ssrc=0x666), (HOST, relay.a.port))
        a.rtp.sendto(rtp(4), (HOST, relay.a.port))
        data, _ = await receive(b.rtp)
        assert RtpPacket.parse(data).ssrc == 0x1234
        await until(lambda: relay.stats()["a"].packets_dropped == 6)
        assert await nothing_arrives(b.rtp, 0.05)
        attacker.rtp.sendto(b"not rtp at all", (HOST, relay.a.port))
        await until(lambda: relay.stats()["a"].packets_invalid == 1)
    finally:
        relay.close()
        attacker.close()


@pytest.mark.asyncio
async def test_without_rtp_symmetric_media_goes_to_the_sdp_address(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    nat = Phone()
    relay = await started(pool, a, b, strictrtp="no")
    relay.a.set_remote(a.address, symmetric=False)
    try:
        nat.rtp.sendto(rtp(1), (HOST, relay.a.port))
        await receive(b.rtp)
        b.rtp.sendto(rtp(2), (HOST, relay.b.port))
        data, _ = await receive(a.rtp)
        assert RtpPacket.parse(data).sequence_number == 2
        assert relay.a.destination == a.address
    finally:
        relay.close()
        nat.close()


@pytest.mark.asyncio
async def test_ulaw_to_alaw_transcoding_keeps_a_1khz_tone(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    relay = await started(pool, a, b)
    relay.translate("a", 0, 8, g711.ULAW_TO_ALAW_BYTES)
    try:
        tone = sine(1000.0, 1.0)
        frames = [tone[i : i + 160] for i in range(0, len(tone), 160)]
        for seq, frame in enumerate(frames):
            payload = g711.encode_payload(frame, "ulaw")
            a.rtp.sendto(rtp(seq, 0, payload), (HOST, relay.a.port))
        packets = [RtpPacket.parse(data) for data in await receive_all(b.rtp, len(frames))]
        assert {packet.payload_type for packet in packets} == {8}
        packets.sort(key=lambda packet: packet.sequence_number)
        pcm = np.concatenate([g711.decode_payload(packet.payload, "alaw") for packet in packets])
        assert tone_fraction(pcm, 1000.0) >= 0.9
        assert tone_fraction(pcm, 400.0) == 0.0
        # The other direction is untouched.
        b.rtp.sendto(rtp(1, 8), (HOST, relay.b.port))
        assert RtpPacket.parse((await receive(a.rtp))[0]).payload_type == 8
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_dtmf_is_relayed_renumbered_and_reported(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(pool, a, b, on_dtmf=lambda leg, event: events.append((leg, event)))
    relay.a.set_telephone_event(101)
    relay.a.map_payload(101, 96)  # leg B negotiated telephone-event/8000 as 96
    try:
        packets = generate_dtmf(
            "5", payload_type=101, ssrc=0x1234, sequence_number=10, timestamp=8000
        )
        for packet in packets:
            a.rtp.sendto(packet.serialize(), (HOST, relay.a.port))
        got = [RtpPacket.parse(data) for data in await receive_all(b.rtp, len(packets))]
        assert {packet.payload_type for packet in got} == {96}
        assert sorted(packet.payload for packet in got) == sorted(p.payload for p in packets)
        await until(lambda: len(events) == 2)
        assert events[0] == ("a", DtmfStarted("5", 8000))
        leg, ended = events[1]
        assert leg == "a"
        assert isinstance(ended, DtmfEnded)
        assert ended.digit == "5"
        assert ended.duration_ms == pytest.approx(100.0)
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_dtmf_without_end_packets_ends_on_the_timer(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(
        pool,
        a,
        b,
        dtmf_timeout=0.1,
        report_interval=0.02,
        on_dtmf=lambda leg, event: events.append((leg, event)),
    )
    relay.b.set_telephone_event(101)
    try:
        packets = generate_dtmf("#", payload_type=101, ssrc=7, sequence_number=1, timestamp=0)
        b.rtp.sendto(packets[0].serialize(), (HOST, relay.b.port))
        await until(lambda: len(events) == 2)
        assert [(leg, type(event)) for leg, event in events] == [
            ("b", DtmfStarted),
            ("b", DtmfEnded),
        ]
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_rtcp_is_relayed_and_gives_loss_jitter_and_rtt(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    relay = await started(pool, a, b)
    try:
        # Phone A sends 50 packets with 10 missing: the relay counts the loss itself.
        for seq in range(50):
            if seq % 5 != 0:
                a.rtp.sendto(rtp(seq), (HOST, relay.a.port))
        await receive_all(b.rtp, 40)
        # Phone B's SR goes through the relay to phone A ...
        ntp = ntp_from_unix(time.time())
        sr = RtcpSenderReport(0x9999, ntp, 1000, 10, 1600).serialize()
        b.rtcp.sendto(sr, (HOST, relay.b.port + 1))
        data, source = await receive(a.rtcp)
        assert data == sr
        assert source == (HOST, relay.a.port + 1)
        # ... and phone A's report about it comes back: RTT, and the loss A saw.
        block = RtcpReportBlock(0x9999, 64, 3, 10, 80, ntp_short(ntp), 0)
        b_rr = RtcpReceiverReport(0x1234, (block,)).serialize()
        a.rtcp.sendto(b_rr, (HOST, relay.a.port + 1))
        relayed, _ = await receive(b.rtcp)
        assert parse_compound(relayed) == [RtcpReceiverReport(0x1234, (block,))]
        stats = relay.stats()["a"]
        assert stats.rtcp_received == 1
        assert stats.rtt_ms is not None
        assert 0.0 <= stats.rtt_ms < 1000.0
        assert stats.reported_loss == 0.25
        assert stats.reported_lost == 3
        assert stats.reported_jitter_ms == pytest.approx(10.0)
        assert stats.packets_received == 40
        # Sequence 0 was never heard; 1 starts A.1's probation, so 2..49 are expected.
        assert stats.packets_lost == 9
        assert stats.loss == pytest.approx(9 / 48)
        assert 1.0 <= stats.mos < 4.0
        assert relay.stats()["b"].rtcp_received == 1
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_rtcp_from_another_host_is_dropped(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    stranger = Phone("127.0.0.2")  # another host (Linux routes all of 127/8 to loopback)
    relay = await started(pool, a, b)
    try:
        sr = RtcpSenderReport(1, 0, 0, 0, 0).serialize()
        stranger.rtcp.sendto(sr, (HOST, relay.a.port + 1))
        await until(lambda: relay.a.rtcp_dropped == 1)
        assert await nothing_arrives(b.rtcp, 0.05)
    finally:
        relay.close()
        stranger.close()


@pytest.mark.asyncio
async def test_rtcp_mux_on_the_rtp_port_is_read_and_relayed_as_rtcp(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    relay = await started(pool, a, b)
    relay.a.set_remote(a.address, rtcp_mux=True)
    try:
        rr = RtcpReceiverReport(0x1234, (RtcpReportBlock(7, 0, 0, 1, 16, 0, 0),)).serialize()
        a.rtp.sendto(rr, (HOST, relay.a.port))  # muxed: on the RTP port
        data, source = await receive(b.rtcp)  # B does not mux: its RTCP port
        assert (data, source) == (rr, (HOST, relay.b.port + 1))
        sr = RtcpSenderReport(0x9999, 1 << 32, 0, 0, 0).serialize()
        b.rtcp.sendto(sr, (HOST, relay.b.port + 1))
        assert await receive(a.rtp) == (sr, (HOST, relay.a.port))  # to A's RTP port
        stats = relay.stats()["a"]
        assert stats.rtcp_received == 1
        assert stats.reported_jitter_ms == pytest.approx(2.0)
        assert stats.packets_received == 0  # not counted, latched or relayed as RTP
        assert stats.packets_dropped == 0
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_ports_run_out_with_a_clear_error_and_close_gives_them_back(
    phones: tuple[Phone, Phone],
) -> None:
    a, b = phones
    start = free_range(4)
    pool = PortPool(start, start + 8, HOST)  # 4 pairs: two calls
    first = await started(pool, a, b)
    second = await started(pool, a, b)
    third = MediaRelay(pool)
    with pytest.raises(PortPoolExhaustedError, match="no free RTP port pair"):
        await third.start()
    assert pool.in_use == 4
    first.close()
    assert pool.in_use == 2
    await third.start()  # a failed start can be retried once ports are free
    assert not third.closed
    assert pool.in_use == 4
    second.close()
    third.close()
    assert pool.in_use == 0


@pytest.mark.asyncio
async def test_a_reused_port_pair_relays_nothing_of_the_last_call(
    phones: tuple[Phone, Phone],
) -> None:
    await reuse_one_pool_for_two_calls(*phones)


def test_a_reused_port_pair_relays_nothing_of_the_last_call_on_uvloop() -> None:
    import uvloop

    a, b = Phone(), Phone()
    try:
        uvloop.run(reuse_one_pool_for_two_calls(a, b))
    finally:
        a.close()
        b.close()


async def reuse_one_pool_for_two_calls(a: Phone, b: Phone) -> None:
    """Call a-b, then c-d on the same two port pairs, with a's late packets to the port."""
    c, d = Phone(), Phone()
    start = free_range(2)
    pool = PortPool(start, start + 4, HOST, quarantine=0.0)  # two pairs, reused at once
    try:
        first = await started(pool, a, b)
        old = first.a.port
        ports = {old, first.b.port}
        for seq in range(6):
            a.rtp.sendto(rtp(seq), (HOST, old))
        await receive_all(b.rtp, 6)
        first.close()
        assert pool.warm == 2
        a.rtp.sendto(rtp(6), (HOST, old))  # while parked
        second = await started(pool, c, d)
        assert {second.a.port, second.b.port} == ports
        assert second.a.pair is not None and second.a.pair.uses == 2
        stats = second.stats()
        assert (stats["a"].packets_received, stats["b"].packets_sent) == (0, 0)
        # The old phone's late packets (fewer than probation) reach neither phone.
        for seq in range(7, 10):
            a.rtp.sendto(rtp(seq), (HOST, old))
        await until(lambda: second.stats()["a"].packets_dropped == 3)
        c.rtp.sendto(rtp(500, ssrc=0xC), (HOST, second.a.port))
        data, source = await receive(d.rtp)
        assert (RtpPacket.parse(data).ssrc, source) == (0xC, (HOST, second.b.port))
        assert await nothing_arrives(d.rtp, 0.05)
        assert await nothing_arrives(b.rtp, 0.05)
        stats = second.stats()
        assert (stats["a"].packets_received, stats["a"].packets_dropped) == (1, 3)
        assert stats["a"].remote == c.address
        second.close()
    finally:
        pool.close()
        c.close()
        d.close()


@pytest.mark.asyncio
async def test_a_warm_port_waits_out_its_quarantine_unless_no_other_is_free(
    phones: tuple[Phone, Phone],
) -> None:
    a, b = phones
    start = free_range(3)
    pool = PortPool(start, start + 6, HOST, quarantine=60.0)
    try:
        first = await started(pool, a, b)
        used = {first.a.port, first.b.port}
        first.close()
        second = await started(pool, a, b)  # one cold pair, then a parked one
        assert second.a.port not in used
        assert second.b.port in used
        assert pool.in_use == 2 and pool.warm == 1
        second.close()
    finally:
        pool.close()
    assert pool.warm == 0 and pool.available == 3


@pytest.mark.asyncio
async def test_pairs_past_the_warm_limit_are_closed(phones: tuple[Phone, Phone]) -> None:
    a, b = phones
    start = free_range(2)
    pool = PortPool(start, start + 4, HOST, warm_limit=1, quarantine=0.0)
    relay = await started(pool, a, b)
    pairs = [relay.a.pair, relay.b.pair]
    relay.close()
    assert pool.warm == 1 and pool.available == 2
    closed = [pair for pair in pairs if pair is not None and pair.rtp_transport is None]
    assert len(closed) == 1 and closed[0].rtp.fileno() == -1
    again = await started(pool, a, b)
    try:
        sent = rtp(1)
        a.rtp.sendto(sent, (HOST, again.a.port))
        assert (await receive(b.rtp))[0] == sent
    finally:
        again.close()
        pool.close()


@pytest.mark.asyncio
async def test_rtp_timeout_hook_fires_once_per_silent_leg(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    timeouts: list[LegName] = []
    relay = await started(
        pool, a, b, rtp_timeout=0.15, report_interval=0.02, on_timeout=timeouts.append
    )
    try:
        began = time.monotonic()
        a.rtp.sendto(rtp(1), (HOST, relay.a.port))
        await until(lambda: "b" in timeouts)  # B never sent anything
        assert time.monotonic() - began >= 0.15
        await until(lambda: "a" in timeouts)
        # A speaks again: the hook is armed anew for it.
        a.rtp.sendto(rtp(2), (HOST, relay.a.port))
        await until(lambda: timeouts.count("a") == 2)
        assert timeouts.count("b") == 1
    finally:
        relay.close()


class _Call:
    """Stands for the call that owns a relay and that the relay's callbacks refer to."""

    relay: MediaRelay | None = None

    def heard(self, *what: object) -> None:
        """The relay's callbacks."""


@pytest.mark.asyncio
async def test_a_closed_relay_and_its_call_are_freed_by_reference_counting(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    with cyclic_garbage() as left:
        call = _Call()
        relay = await started(pool, a, b, on_dtmf=call.heard, on_timeout=call.heard)
        call.relay = relay
        relay.a.detect_tones(0)  # the tone detector reports back through its leg
        a.rtp.sendto(rtp(1), (HOST, relay.a.port))
        await receive(b.rtp)
        relay.close()
        relay.close()  # a second close changes nothing
        assert pool.in_use == 0
        del relay, call
    assert left == []


@pytest.mark.asyncio
async def test_a_closed_relay_does_not_start_again(pool: PortPool) -> None:
    relay = MediaRelay(pool)
    await relay.start()
    relay.close()
    with pytest.raises(MediaError, match="closed"):
        await relay.start()
    assert pool.in_use == 0


@pytest.mark.asyncio
async def test_the_timeout_callback_may_close_the_relay(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    timeouts: list[LegName] = []
    relay = await started(pool, a, b, rtp_timeout=0.05, report_interval=0.02)

    def hang_up(leg: LegName) -> None:
        timeouts.append(leg)
        relay.close()

    relay.on_timeout = hang_up
    await until(lambda: relay.closed)
    assert timeouts == ["a"]
    assert relay._timer is None
    assert pool.in_use == 0


@pytest.mark.asyncio
async def test_relay_on_a_dual_stack_pool_relays_ipv4_phones() -> None:
    start = free_range(4)
    pool = PortPool(start, start + 8, "::")
    relay = MediaRelay(pool)
    try:
        await relay.start()
    except PortPoolExhaustedError:
        pytest.skip("no IPv6 on this machine")
    a, b = Phone(), Phone()
    try:
        relay.a.set_remote(a.address)
        relay.b.set_remote(b.address)
        a.rtp.sendto(rtp(1), (HOST, relay.a.port))
        data, _ = await receive(b.rtp)
        assert RtpPacket.parse(data).sequence_number == 1
        assert relay.stats()["a"].packets_dropped == 0
    finally:
        relay.close()
        a.close()
        b.close()


def dtmf_audio(keys: str, law: g711.Law) -> list[bytes]:
    """``keys`` as in-band tone pairs (100 ms each, 100 ms apart), in 20 ms G.711 payloads."""
    pairs = {"1": (697, 1209), "#": (941, 1477), "7": (852, 1209)}
    t = np.arange(800) / 8000
    audio = np.concatenate(
        [
            np.concatenate(
                (
                    (
                        6000
                        * (
                            np.sin(2 * np.pi * pairs[k][0] * t)
                            + np.sin(2 * np.pi * pairs[k][1] * t)
                        )
                    ).astype(np.int16),
                    np.zeros(800, dtype=np.int16),
                )
            )
            for k in keys
        ]
    )
    return [g711.encode_payload(audio[i : i + 160], law) for i in range(0, len(audio), 160)]


@pytest.mark.asyncio
async def test_inband_dtmf_is_detected_on_the_legs_that_ask_and_relayed_unchanged(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(pool, a, b, on_dtmf=lambda leg, event: events.append((leg, event)))
    relay.a.detect_tones(0, "ulaw")
    relay.b.detect_tones(8, "alaw")
    try:
        sent = dtmf_audio("1#", "ulaw")
        for seq, payload in enumerate(sent):
            a.rtp.sendto(rtp(seq, 0, payload), (HOST, relay.a.port))
            await asyncio.sleep(0.001)
        got = await receive_all(b.rtp, len(sent))
        assert [RtpPacket.parse(data).payload for data in got] == sent  # audio untouched
        await until(lambda: len([e for e in events if isinstance(e[1], DtmfEnded)]) == 2)
        ended = [(leg, e.digit) for leg, e in events if isinstance(e, DtmfEnded)]
        assert ended == [("a", "1"), ("a", "#")]
        assert all(isinstance(e, DtmfEnded) and 60 <= e.duration_ms <= 140 for _, e in events[1::2])
        events.clear()
        for seq, payload in enumerate(dtmf_audio("7", "alaw")):
            b.rtp.sendto(rtp(seq, 8, payload), (HOST, relay.b.port))
            await asyncio.sleep(0.001)
        await until(lambda: len(events) == 2)
        assert [(leg, e.digit) for leg, e in events] == [("b", "7"), ("b", "7")]
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_inband_dtmf_is_heard_in_timestamp_order_when_packets_arrive_swapped(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(pool, a, b, on_dtmf=lambda leg, event: events.append((leg, event)))
    relay.a.detect_tones(0, "ulaw")
    try:
        sent = [*dtmf_audio("17#", "ulaw"), g711.encode_payload(np.zeros(160, np.int16), "ulaw")]
        order = list(range(len(sent)))
        for index in range(1, len(order) - 1, 3):  # every third pair of packets swapped
            order[index], order[index + 1] = order[index + 1], order[index]
        for seq in order:
            a.rtp.sendto(rtp(seq, 0, sent[seq]), (HOST, relay.a.port))
            await asyncio.sleep(0.001)
        await until(lambda: len([e for e in events if isinstance(e[1], DtmfEnded)]) == 3)
        assert [e.digit for _, e in events if isinstance(e, DtmfEnded)] == ["1", "7", "#"]
        assert relay.a.tones is not None and relay.a.tones.concealed == 0
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_inband_dtmf_is_not_detected_unless_asked_or_once_stopped(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(pool, a, b, on_dtmf=lambda leg, event: events.append((leg, event)))
    relay.a.detect_tones(0, "ulaw")
    relay.a.detect_tones(0, "alaw")  # another law: a new detector
    relay.a.detect_tones(None)
    try:
        sent = dtmf_audio("1", "ulaw")
        for seq, payload in enumerate(sent):
            a.rtp.sendto(rtp(seq, 0, payload), (HOST, relay.a.port))
            b.rtp.sendto(rtp(seq, 0, payload), (HOST, relay.b.port))
        await receive_all(b.rtp, len(sent))
        await receive_all(a.rtp, len(sent))
        assert events == [] and relay.a.tones is None and relay.b.tones is None
        relay.a.audio_received(rtp(0, 0, sent[0]))  # a packet in flight when it stopped
        relay.b.detect_tones(0)
        relay.b.audio_received(b"\x80")  # too short for a header: ignored
        assert events == []
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_a_g722_leg_is_transcoded_to_ulaw_and_its_inband_keys_are_heard(
    pool: PortPool, phones: tuple[Phone, Phone]
) -> None:
    a, b = phones
    events: list[tuple[LegName, DtmfEvent]] = []
    relay = await started(pool, a, b, on_dtmf=lambda leg, event: events.append((leg, event)))
    relay.a.detect_tones(9, "g722")
    relay.a.transcode(9, RtpTranscoder(CODECS["g722"], CODECS["ulaw"], 0))
    try:
        audio = np.concatenate([g711.decode_payload(p, "ulaw") for p in dtmf_audio("1#", "ulaw")])
        # The phone goes on sending (silence) after its last key: the detector hears the
        # audio through a jitter buffer, two frames behind.
        audio = np.concatenate([audio, np.zeros(800, dtype=np.int16)])
        sent = encode_all(audio, 8000, CODECS["g722"])
        for seq, payload in enumerate(sent):
            a.rtp.sendto(rtp(seq, 9, payload), (HOST, relay.a.port))
            await asyncio.sleep(0.001)
        got = await receive_all(b.rtp, len(sent) - 1)  # the resampler holds back a frame
        packets = [RtpPacket.parse(data) for data in got]
        assert {p.payload_type for p in packets} == {0}
        heard = np.concatenate([g711.decode_payload(p.payload, "ulaw") for p in packets])
        spectrum = np.abs(np.fft.rfft(heard[:800] * np.hanning(800)))
        assert abs(spectrum.argmax() * 10 - 697) <= 20 or abs(spectrum.argmax() * 10 - 1209) <= 20
        await until(lambda: len([e for e in events if isinstance(e[1], DtmfEnded)]) == 2)
        assert [e.digit for _, e in events if isinstance(e, DtmfEnded)] == ["1", "#"]
    finally:
        relay.close()
