"""A seeded mutator of SIP messages: what a broken or hostile peer might send.

Each mutation applies one to three edits to a valid message: byte and bit flips,
truncation, duplicated slices, deleted, duplicated, swapped or folded header lines, huge
values, NULs and bare CR/LF, a wrong Content-Length, a mangled start line, and garbage or
a second message after the first. The same seed gives the same messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable

MAX_SIZE = 65_000  # stays a single UDP datagram

_GARBAGE = [
    b"\x00",
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b"%",
    b"%00",
    b"=",
    b"@",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    "é".encode(),
    "\u2028".encode(),
    b"SIP/2.0",
    b"sip:",
    b"z9hG4bK",
    b";tag=",
    b";branch=",
    b";rport",
    b";received=",
    b";expires=",
    b"Digest ",
    b'username=""',
    b"*",
    b"-1",
    b"0",
    b"4294967296",
    b"18446744073709551616",
    b"99999999999999999999999999",
]

_HEADERS = [
    b"Via",
    b"v",
    b"From",
    b"f",
    b"To",
    b"t",
    b"Call-ID",
    b"i",
    b"CSeq",
    b"Contact",
    b"m",
    b"Content-Length",
    b"l",
    b"Content-Type",
    b"c",
    b"Max-Forwards",
    b"Expires",
    b"Require",
    b"Proxy-Require",
    b"Authorization",
    b"Route",
    b"Record-Route",
    b"Supported",
    b"Accept",
]


def _lines(data: bytes) -> tuple[list[bytes], bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), (sep + body) if sep else b""


def _join(lines: list[bytes], rest: bytes) -> bytes:
    return b"\r\n".join(lines) + rest


def flip_byte(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]


def flip_bit(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def duplicate_slice(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    end = rng.randrange(start, min(len(data), start + 200) + 1)
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[start:end] * rng.randint(1, 4) + data[at:]


def insert_garbage(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(_GARBAGE) * rng.choice((1, 1, 2, 7)) + data[at:]


def delete_line(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    if len(lines) > 1:
        del lines[rng.randrange(len(lines))]
    return _join(lines, rest)


def duplicate_line(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return _join(lines, rest)


def swap_lines(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return _join(lines, rest)


def fold_line(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    i = rng.randrange(len(lines))
    line = lines[i]
    if line:
        at = rng.randrange(len(line) + 1)
        lines[i] = line[:at] + rng.choice((b"\r\n ", b"\r\n\t", b"\r\n", b"\n ")) + line[at:]
    return _join(lines, rest)


def huge_value(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    size = rng.choice((300, 1_000, 5_000, 20_000, 60_000))
    filler = rng.choice((b"a", b"1", b";x", b",", b" ", b"%", b"<", b'"', b"\\", b"9"))
    value = (filler * (size // len(filler) + 1))[:size]
    if len(lines) > 1 and rng.random() < 0.5:
        i = rng.randrange(1, len(lines))
        lines[i] += value
    else:
        name = rng.choice(_HEADERS)
        lines.insert(rng.randrange(1, len(lines) + 1), name + b": " + value)
    return _join(lines, rest)


def many_headers(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    name = rng.choice(_HEADERS)
    extra = [name + b": " + rng.choice(_GARBAGE) for _ in range(rng.choice((50, 500, 3000)))]
    return _join(lines[:1] + extra + lines[1:], rest)


def wrong_content_length(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    value = rng.choice(
        [
            b"-1",
            b"0",
            b"1",
            b"99999",
            b"65536",
            b"18446744073709551616",
            b" 12 ",
            b"1e3",
            b"0x10",
            b"",
            b"\xd9\xa3",
            str(max(0, len(rest) - 4 + rng.randint(-20, 20))).encode(),
        ]
    )
    kept = [line for line in lines if not line.lower().startswith((b"content-length", b"l:"))]
    for _ in range(rng.choice((1, 1, 2))):
        kept.insert(
            rng.randrange(1, len(kept) + 1), rng.choice((b"Content-Length: ", b"l: ")) + value
        )
    return _join(kept, rest)


def mangle_start_line(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    parts = lines[0].split(b" ")
    i = rng.randrange(len(parts))
    parts[i] = rng.choice(
        [
            b"",
            b"SIP/2.1",
            b"SIP/1.0",
            b"sip/2.0",
            b"INVITE",
            b"ACK",
            b"CANCEL",
            b"BYE",
            b"REGISTER",
            b"OPTIONS",
            b"PRACK",
            b"SUBSCRIBE",
            b"NOTIFY",
            b"FOO",
            b"999",
            b"099",
            b"200",
            b"sips:x",
            b"tel:+1",
            b"sip:[::1]:5060",
            b"sip:a@b;lr=;=",
            b"sip:" + b"a" * 3000,
            b"http://x",
            b"<sip:x>",
            parts[i] * 3,
        ]
    )
    lines[0] = b" ".join(parts)
    return _join(lines, rest)


def garbage_after(rng: random.Random, data: bytes) -> bytes:
    tail = rng.choice(
        [
            data,
            data[: len(data) // 2],
            b"\r\n\r\n",
            b"\x00" * 64,
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))),
            b"INVITE sip:x SIP/2.0\r\n\r\n",
        ]
    )
    return data + tail


def change_case(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _lines(data)
    i = rng.randrange(len(lines))
    lines[i] = rng.choice((lines[i].upper(), lines[i].lower(), lines[i].swapcase()))
    return _join(lines, rest)


Mutation = Callable[[random.Random, bytes], bytes]

MUTATIONS: list[Mutation] = [
    flip_byte,
    flip_bit,
    truncate,
    duplicate_slice,
    insert_garbage,
    delete_line,
    duplicate_line,
    swap_lines,
    fold_line,
    huge_value,
    many_headers,
    wrong_content_length,
    mangle_start_line,
    garbage_after,
    change_case,
]


def mutate(rng: random.Random, seed: bytes) -> bytes:
    """One to three random edits of ``seed``, kept within a UDP datagram."""
    data = seed
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = rng.choice(MUTATIONS)(rng, data)
    return data[:MAX_SIZE]
