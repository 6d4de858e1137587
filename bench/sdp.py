"""Benchmark SDP parsing and offer/answer against a naive line split, in one process on one core.

Measures, for a typical softphone offer (MicroSIP/pjsip: three codecs, DTMF, rtcp, ssrc):
- parse: the whole body into the model, every structured attribute checked;
- parse + answer: parse, a fresh negotiator receives the offer, builds the answer from an
  endpoint's ``allow=ulaw,alaw`` and serializes it (what the server does per INVITE);
- the baseline: a naive split of the same body into lines and ``type=value`` pairs, run in
  the same process. The last line is the ratio of parse + answer to the naive split.

Run: ``.venv/bin/python bench/sdp.py [--seconds 0.5]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from switchboard.sdp.negotiate import LocalMedia, OfferAnswer
from switchboard.sdp.parse import parse_sdp

OFFER = (
    b"v=0\r\n"
    b"o=- 3912749520 3912749520 IN IP4 192.168.1.77\r\n"
    b"s=pjmedia\r\n"
    b"b=AS:84\r\n"
    b"t=0 0\r\n"
    b"a=X-nat:0\r\n"
    b"m=audio 4002 RTP/AVP 8 0 9 101\r\n"
    b"c=IN IP4 192.168.1.77\r\n"
    b"b=AS:64000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=rtcp:4003 IN IP4 192.168.1.77\r\n"
    b"a=ssrc:1587304729 cname:5b1f4e2a7c3d9e80\r\n"
)

LOCAL = LocalMedia("203.0.113.1", 20000, ("ulaw", "alaw"))


def parse(data: bytes) -> object:
    """Our parser, whole body."""
    return parse_sdp(data)


def parse_and_answer(data: bytes) -> bytes:
    """Parse, receive the offer, answer from the endpoint's allow= order, serialize."""
    negotiator = OfferAnswer(LOCAL, "1732700000", 1)
    negotiator.receive_offer(parse_sdp(data))
    return negotiator.answer().serialize()


def naive_split(data: bytes) -> object:
    """The baseline: lines, ``type=value`` pairs, the m= line split; nothing checked."""
    session: dict[str, list[str]] = {}
    media: list[dict[str, list[str]]] = []
    current = session
    for line in data.decode().split("\r\n"):
        if not line:
            continue
        kind, _, value = line.partition("=")
        if kind == "m":
            current = {"m": value.split()}
            media.append(current)
        else:
            current.setdefault(kind, []).append(value)
    return session, media


def rates(functions: list[Callable[[bytes], object]], seconds: float) -> list[float]:
    """Best calls/s of each function over five interleaved rounds of CPU time."""
    best = [0.0] * len(functions)
    batch = 500
    for function in functions:
        function(OFFER)
    for _ in range(5):
        for i, function in enumerate(functions):
            count = 0
            start = time.process_time()
            deadline = start + seconds
            while True:
                for _ in range(batch):
                    function(OFFER)
                count += batch
                now = time.process_time()
                if now >= deadline:
                    break
            best[i] = max(best[i], count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each timed run")
    args = parser.parse_args()
    parsed, answered, naive = rates([parse, parse_and_answer, naive_split], args.seconds)
    print(f"sdp_parse: {parsed:,.0f} offers/s")
    print(f"sdp_parse_cost: {1e6 / parsed:.1f} us")
    print(f"sdp_parse_and_answer: {answered:,.0f} offers/s")
    print(f"sdp_parse_and_answer_cost: {1e6 / answered:.1f} us")
    print(f"naive_line_split: {naive:,.0f} offers/s")
    print(f"ratio_parse_and_answer_to_naive_split: {naive / answered:.1f} x slower")


if __name__ == "__main__":
    main()
