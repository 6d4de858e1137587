"""The relay with an SRTP leg, real sockets on 127.0.0.1: SRTP one side and plain RTP the
other, SRTCP, and the PBX's own media (echo, a prompt, a recording) through the leg's one
protect/unprotect point."""

from __future__ import annotations

import pytest

from switchboard.media.player import RtpPlayer
from switchboard.media.relay import MediaRelay
from switchboard.media.rtcp import RtcpReceiverReport, RtcpReportBlock, parse_compound
from switchboard.media.rtp import RtpPacket
from switchboard.media.srtp import SrtpContext
from switchboard.sdp.crypto import SrtpParameters
from tests.unit.media.test_relay import (
    HOST,
    Phone,
    nothing_arrives,
    phones,  # noqa: F401 (fixture)
    pool,  # noqa: F401 (fixture)
    receive,
    rtp,
    started,
    until,
)

SUITE = "AEAD_AES_128_GCM"
RELAY_KEY, PHONE_KEY = bytes([3]) * 28, bytes([4]) * 28
REPORT = RtcpReceiverReport(0x1234, (RtcpReportBlock(0x9999, 1, 2, 3, 4, 5, 6),)).serialize()


async def secured(pool, a: Phone, b: Phone) -> tuple[MediaRelay, SrtpContext]:  # noqa: F811
    """A relay whose leg ``a`` runs SRTP, and phone A's own SRTP context."""
    relay = await started(pool, a, b)
    relay.a.secure(SrtpParameters(SUITE, RELAY_KEY, PHONE_KEY))
    return relay, SrtpContext(SrtpParameters(SUITE, PHONE_KEY, RELAY_KEY))


@pytest.mark.asyncio
async def test_srtp_on_one_leg_plain_rtp_on_the_other(pool, phones) -> None:  # noqa: F811
    a, b = phones
    relay, phone = await secured(pool, a, b)
    try:
        sent = [rtp(seq) for seq in range(5)]
        protected = [phone.protect(data) for data in sent]
        for data in protected:
            a.rtp.sendto(data, (HOST, relay.a.port))
        assert [(await receive(b.rtp))[0] for _ in sent] == sent
        back = rtp(9, ssrc=0x9999)
        b.rtp.sendto(back, (HOST, relay.b.port))
        data, _ = await receive(a.rtp)
        assert data != back and phone.unprotect(data) == back
        a.rtp.sendto(rtp(10), (HOST, relay.a.port))  # plain RTP on the SRTP leg
        a.rtp.sendto(protected[0], (HOST, relay.a.port))  # a replay
        await until(lambda: relay.stats()["a"].packets_invalid == 2)
        assert await nothing_arrives(b.rtp)
        assert relay.stats()["a"].packets_received == 5
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_srtcp_is_unprotected_relayed_and_protected(pool, phones) -> None:  # noqa: F811
    a, b = phones
    relay, phone = await secured(pool, a, b)
    try:
        a.rtcp.sendto(phone.protect_rtcp(REPORT), (HOST, relay.a.port + 1))
        data, _ = await receive(b.rtcp)
        assert parse_compound(data) == parse_compound(REPORT)
        b.rtcp.sendto(REPORT, (HOST, relay.b.port + 1))
        data, _ = await receive(a.rtcp)
        assert phone.unprotect_rtcp(data) == REPORT
        assert relay.stats()["a"].rtcp_received == 1
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_echo_prompt_and_recording_on_an_srtp_leg(pool, phones) -> None:  # noqa: F811
    a, b = phones
    relay, phone = await secured(pool, a, b)
    try:
        recorded: list[bytes] = []
        relay.a.capture(recorded.append)
        a.rtp.sendto(phone.protect(rtp(1)), (HOST, relay.a.port))
        await until(lambda: recorded == [rtp(1)])
        relay.a.capture(None)
        relay.echo("a")
        a.rtp.sendto(phone.protect(rtp(2)), (HOST, relay.a.port))
        data, _ = await receive(a.rtp)
        assert phone.unprotect(data) == rtp(2)
        assert relay.a.output is not None
        player = RtpPlayer(relay.a.output, lambda: relay.a.destination, payload_type=0, law="ulaw")
        await player.play(b"\x55" * 320)
        for _ in range(2):
            data, _ = await receive(a.rtp)
            packet = RtpPacket.parse(phone.unprotect(data))
            assert (packet.payload_type, packet.payload) == (0, b"\x55" * 160)
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_the_same_keys_keep_the_context_and_none_goes_back_to_plain(
    pool,  # noqa: F811
    phones,  # noqa: F811
) -> None:
    a, b = phones
    relay, _ = await secured(pool, a, b)
    try:
        context = relay.a.srtp
        relay.a.secure(SrtpParameters(SUITE, RELAY_KEY, PHONE_KEY))
        assert relay.a.srtp is context
        relay.a.secure(None)
        a.rtp.sendto(rtp(1), (HOST, relay.a.port))
        assert (await receive(b.rtp))[0] == rtp(1)
        b.rtp.sendto(rtp(2, ssrc=7), (HOST, relay.b.port))
        assert (await receive(a.rtp))[0] == rtp(2, ssrc=7)
    finally:
        relay.close()


@pytest.mark.asyncio
async def test_plain_legs_keep_the_plain_path(pool, phones) -> None:  # noqa: F811
    """No SRTP work per packet on a plain leg: its socket feeds the plain protocol, and
    what goes to its phone leaves through the transport's own ``sendto``."""
    a, b = phones
    relay, _ = await secured(pool, a, b)
    try:
        plain = relay.b
        transport = plain.rtp.transport
        assert transport is not None and transport.get_protocol() is plain.rtp
        assert plain.output is transport
        assert relay.a.rtp.sendto == transport.sendto
        secure = relay.a.rtp.transport
        assert secure is not None and secure.get_protocol() is not relay.a.rtp
        assert relay.b.rtp.sendto != secure.sendto
    finally:
        relay.close()
