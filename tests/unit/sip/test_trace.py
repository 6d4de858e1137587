"""The SIP trace's entries: sip/trace.py."""

from __future__ import annotations

from switchboard.sip.trace import redact_keys, trace_entry

SDP = (
    "v=0\r\nm=audio 4000 RTP/SAVP 0\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
    ";inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n"
    "a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsA\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
)


def test_srtp_keys_are_redacted_and_the_rest_is_kept() -> None:
    text = redact_keys(SDP)
    assert "PS1uQ" not in text and "QUJDR" not in text and "AQAFgM0" not in text
    assert (
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>|2^20|1:4;inline:<redacted>\r\n"
        in (text)
    )
    assert "a=key-mgmt:mikey <redacted>\r\n" in text
    assert text.endswith("a=rtpmap:0 PCMU/8000\r\n")


def test_messages_without_keys_are_unchanged() -> None:
    message = "OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"
    assert redact_keys(message) is message


def test_an_entry_names_direction_kind_size_and_peer() -> None:
    request = b"REGISTER sip:x SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n"
    assert trace_entry(False, request, "UDP:192.0.2.1:5060").splitlines() == [
        f"<--- Received SIP request ({len(request)} bytes) from UDP:192.0.2.1:5060 --->",
        "REGISTER sip:x SIP/2.0",
        "CSeq: 1 REGISTER",
    ]
    response = b"SIP/2.0 200 OK\r\n\r\n"
    first = trace_entry(True, response, "TLS:[2001:db8::1]:5061").splitlines()[0]
    assert first == "<--- Transmitting SIP response (18 bytes) to TLS:[2001:db8::1]:5061 --->"
    body = ("INVITE sip:x SIP/2.0\r\n\r\n" + SDP).encode()
    assert b"PS1uQ" in body and "PS1uQ" not in trace_entry(True, body, "UDP:h:1")
