"""Benchmark the SIP message layer against a naive split parser, in one process on one core.

Measures, for a typical REGISTER and an INVITE with SDP:
- lazy parse: start line, top Via branch, From/To tags, Call-ID, CSeq, Content-Length;
- parse + build and serialise a 200 response (RFC 3261 §8.2.6.2 copies).
The same two figures for a naive 40-line split parser run in the same process give the
baseline; the last line is the ratio of our lazy parse to the naive one.

Run: ``PYTHONPATH=src python bench/sip_parse.py [--seconds 0.5]``. With the core compiled
(scripts/build_native.py), the same figures from source follow, measured in a child process.
Targets per core: 80,000 lazy parses/s and 50,000 parse+serialize/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

from switchboard.sip import message as message_module
from switchboard.sip.message import make_response, parse_datagram

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---b1b7c1f3a4e6d9c2\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;rinstance=8b0ce5b3c6a2d1f0;transport=UDP>\r\n"
    b"To: <sip:alice@pbx.example.com>\r\n"
    b"From: <sip:alice@pbx.example.com>;tag=6d8f0c1a\r\n"
    b"Call-ID: NjQ5ZDNhY2E4ZWRlMzE1YjI0MGUzYTk3ZWM1OTFhNmM\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Expires: 3600\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    b"Supported: replaces, norefersub, extended-refer, timer, outbound, path\r\n"
    b"User-Agent: Z 5.6.1 v2.10.19.9\r\n"
    b'Authorization: Digest username="alice",realm="switchboard",nonce="1732700000/3a5f",'
    b'uri="sip:pbx.example.com",response="0d2e8a1c5b7f9e3d4c6a8b0f1e2d3c4b",algorithm=MD5,'
    b'cnonce="a1b2c3d4",qop=auth,nc=00000001\r\n'
    b"Allow-Events: presence, kpml, talk, as-feature-event\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

_SDP = (
    b"v=0\r\n"
    b"o=Z 1732700000 1 IN IP4 192.0.2.10\r\n"
    b"s=Z\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 8000 RTP/AVP 106 9 98 101 0 8 3\r\n"
    b"a=rtpmap:106 opus/48000/2\r\n"
    b"a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1\r\n"
    b"a=rtpmap:98 telephone-event/48000\r\n"
    b"a=fmtp:98 0-16\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=sendrecv\r\n"
)

INVITE = (
    b"INVITE sip:2001@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-524287-1---7d2b9e0c4f1a3b5d\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060;transport=UDP>\r\n"
    b"To: <sip:2001@pbx.example.com>\r\n"
    b'From: "Alice" <sip:alice@pbx.example.com>;tag=9a1b3c5d\r\n'
    b"Call-ID: ZGE3YjM4ZmY0YjU1NjFjYTU5ZDA3ZWIxMmM0ZjA5ZTE\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Supported: replaces, norefersub, extended-refer, timer, outbound, path\r\n"
    b"User-Agent: Z 5.6.1 v2.10.19.9\r\n"
    b"Allow-Events: presence, kpml, talk, as-feature-event\r\n"
    b"Content-Length: " + str(len(_SDP)).encode() + b"\r\n"
    b"\r\n" + _SDP
)


def variants(data: bytes, count: int) -> list[bytes]:
    """``count`` copies of ``data`` with a fresh Via branch, From tag and Call-ID each, as
    successive requests from a phone have: what differs per message is not remembered."""
    result = []
    for i in range(count):
        fresh = f"{i:08x}".encode()
        variant = data.replace(b"1---", b"1---" + fresh, 1)
        variant = variant.replace(b";tag=", b";tag=" + fresh, 1)
        result.append(variant.replace(b"Call-ID: ", b"Call-ID: " + fresh, 1))
    return result


MESSAGES = tuple(
    message
    for pair in zip(variants(REGISTER, 250), variants(INVITE, 250), strict=True)
    for message in pair
)
"""REGISTER and INVITE in turn, 500 in all, each with its own branch, tag and Call-ID."""


def lazy_parse(data: bytes) -> tuple[object, ...]:
    """Our parser: what a transaction layer reads from every message."""
    message = parse_datagram(data)
    return (
        message.branch,
        message.from_tag,
        message.to_tag,
        message.call_id,
        message.cseq,
        message.content_length,
    )


def parse_and_respond(data: bytes) -> bytes:
    """Our parser, then a 200 response built from the request and serialised."""
    request = parse_datagram(data)
    return make_response(request, 200, to_tag="as5f3e9a1c").serialize()  # type: ignore[arg-type]


# --- the naive baseline: split on CRLF and colons, nothing else -------------------------
def naive_parse(data: bytes) -> tuple[object, ...]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, uri, _ = lines[0].split(" ", 2)
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    via = headers["via"][0]
    branch = via[via.find("branch=") + 7 :].split(";")[0]
    from_value = headers["from"][0]
    from_tag = from_value.partition(";tag=")[2] or None
    to_value = headers["to"][0]
    to_tag = to_value.partition(";tag=")[2] or None
    seq, cseq_method = headers["cseq"][0].split()
    length = int(headers["content-length"][0])
    cseq = (int(seq), cseq_method)
    return method, uri, branch, from_tag, to_tag, headers["call-id"][0], cseq, body[:length]


def naive_parse_and_respond(data: bytes) -> bytes:
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    out = ["SIP/2.0 200 OK"]
    for name, value in headers:
        lower = name.lower()
        if lower in ("via", "from", "call-id", "cseq"):
            out.append(f"{name}: {value}")
        elif lower == "to":
            out.append(f"{name}: {value};tag=as5f3e9a1c")
    out.append("Content-Length: 0\r\n\r\n")
    return "\r\n".join(out).encode()


def rates(functions: list[Callable[[bytes], object]], seconds: float) -> list[float]:
    """Best messages/s of each function over five rounds that take turns, so that a
    machine slowing down or speeding up affects all of them alike."""
    best = [0.0] * len(functions)
    batch = len(MESSAGES)
    for function in functions:
        for data in MESSAGES[:2]:
            function(data)
    for _ in range(5):
        for i, function in enumerate(functions):
            count = 0
            start = time.process_time()
            deadline = start + seconds
            while True:
                for data in MESSAGES:
                    function(data)
                count += batch
                now = time.process_time()
                if now >= deadline:
                    break
            best[i] = max(best[i], count / (now - start))
    return best


def from_source(seconds: float) -> tuple[float, float]:
    """Our two figures with the core run from source (``SWITCHBOARD_NATIVE=0``), measured by
    this script in a child process right after the compiled run."""
    child = subprocess.run(
        [sys.executable, __file__, "--seconds", str(seconds), "--no-source-run"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SWITCHBOARD_NATIVE": "0"},
    ).stdout
    figures = dict(line.rsplit(": ", 1) for line in child.splitlines() if ": " in line)
    lazy = float(figures["lazy parse (REGISTER+INVITE)"].split()[0].replace(",", ""))
    full = float(figures["parse + 200 serialize"].split()[0].replace(",", ""))
    return lazy, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each timed run")
    parser.add_argument(
        "--no-source-run", action="store_true", help="skip the from-source run of a compiled core"
    )
    args = parser.parse_args()
    compiled = not str(message_module.__file__).endswith(".py")
    lazy, full, naive, naive_full = rates(
        [lazy_parse, parse_and_respond, naive_parse, naive_parse_and_respond], args.seconds
    )
    print(f"core: {'compiled (mypyc)' if compiled else 'from source'}")
    print(f"lazy parse (REGISTER+INVITE): {lazy:,.0f} messages/s")
    print(f"parse + 200 serialize: {full:,.0f} messages/s")
    print(f"naive split parse: {naive:,.0f} messages/s")
    print(f"naive split parse + serialize: {naive_full:,.0f} messages/s")
    print(f"lazy parse / naive split parse: {lazy / naive:.2f}")
    if compiled and not args.no_source_run:
        source_lazy, source_full = from_source(args.seconds)
        print(f"from source, lazy parse: {source_lazy:,.0f} messages/s")
        print(f"from source, parse + 200 serialize: {source_full:,.0f} messages/s")
        ratios = f"lazy {lazy / source_lazy:.2f}, full {full / source_full:.2f}"
        print(f"compiled / from source: {ratios}")


if __name__ == "__main__":
    main()
