"""Parse a session description (RFC 8866 §5, §9) into the model, strictly but tolerantly.

What a malformed body does: :func:`parse_sdp` raises :class:`SdpParseError` with a short
reason naming the line; nothing else ever comes out (the tests fuzz this), so the server
answers 400 with that reason.

Where we bend, because real phones send it (each case has a test):
- LF-only line endings are accepted, a missing final line ending too, and blank lines
  (some phones end the body with an extra CRLF) are skipped; trailing spaces after
  ``v=0`` and around numbers in attributes (``a=ptime:20 ``) are ignored.
- Missing or empty ``s=`` (seen from old SPA phones and some WebRTC gateways) reads as
  ``s=-``, the RFC's "no name" value (``s= `` is the other one, and is kept).
- Missing ``t=`` reads as ``t=0 0``, the only timing a SIP call has (RFC 3264 §5).
- Session-level lines after ``v=0`` may come in any order before the first ``m=``
  (``a=`` before ``c=``, ``b=`` after ``a=``), and media-level lines in any order after
  their ``m=``; serialization puts them back in RFC order.
- An ``rtpmap`` or ``fmtp`` for a format the ``m=`` line does not list is kept, unused.
- Line types we do not know (``y=``, ``f=``) are dropped: RFC 8866 §5 lets a parser
  ignore them, and rejecting the whole call would be worse.

Where we do not bend: ``v=0`` must come first, ``o=`` must be present and well formed,
lines are ``<letter>=<value>``, session-only lines (``s= t= r= z= u= e= p=``) may not
follow an ``m=``, numbers must be numbers, an active stream needs a ``c=`` at one level,
and the structured attributes (rtpmap, fmtp, ptime, maxptime, direction, rtcp, crypto)
must be well formed. RFC 8866 §9's grammar fragments are quoted where they are checked.
"""

from __future__ import annotations

from switchboard.sdp.errors import SdpParseError
from switchboard.sdp.model import (
    RTP_PROTOS,
    TOKEN,
    Attribute,
    Bandwidth,
    Connection,
    Media,
    Origin,
    Repeat,
    SessionDescription,
    Timing,
    check_address,
    is_token,
    parse_int,
    remember,
)

_SESSION_ONLY = frozenset("vosuepzrt")
_KNOWN = frozenset("vosiuepcbtrzkam")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")
_is_token = TOKEN.match
_UNBOUNDED = Timing()
_CONNECTIONS: dict[str, Connection] = {}
_BANDWIDTHS: dict[str, Bandwidth] = {}
_ATTRIBUTES: dict[str, Attribute] = {}
"""Lines already read, by their text: each phone writes the same ``c= b=`` and codec lines
in every call, and the objects are immutable (bounded: see :func:`remember`)."""
_SHARED_ATTRIBUTES = frozenset(
    {"rtpmap", "fmtp", "ptime", "maxptime", "rtcp-mux", "sendrecv", "sendonly", "recvonly"}
    | {"inactive", "X-nat", "minptime", "rtcp-fb", "extmap", "mid", "setup", "ice-lite"}
)
"""Attributes worth remembering: the same text in every call (not ``ssrc``, ``rtcp``,
``crypto`` or ``candidate``, which change per call; keys never stay in memory this way)."""


def _connection(value: str) -> Connection:
    """``connection-field = "c=" nettype SP addrtype SP connection-address``."""
    parts = value.split()
    if len(parts) != 3:
        raise SdpParseError(f"c=: expected 'IN IP4 <address>', found {value[:40]!r}")
    nettype, addrtype, address = parts
    if not is_token(nettype) or not is_token(addrtype):
        raise SdpParseError(f"c=: bad network or address type in {value[:40]!r}")
    host, _, suffix = address.partition("/")
    if suffix:
        for number in suffix.split("/"):
            parse_int(number, "c= multicast ttl or count")
    check_address(addrtype, host, "c=")
    return remember(_CONNECTIONS, value, Connection(nettype, addrtype, address))


def _origin(value: str) -> Origin:
    """``origin-field = "o=" username SP sess-id SP sess-version SP nettype SP addrtype SP ...``."""
    parts = value.split()
    if len(parts) != 6:
        raise SdpParseError(f"o=: expected 6 fields, found {len(parts)}")
    username, sess_id, sess_version, nettype, addrtype, address = parts
    if not is_token(nettype) or not is_token(addrtype):
        raise SdpParseError(f"o=: bad network or address type in {value[:60]!r}")
    check_address(addrtype, address, "o=")
    return Origin(
        username, sess_id, parse_int(sess_version, "o= sess-version"), nettype, addrtype, address
    )


def _bandwidth(value: str) -> Bandwidth:
    """``bandwidth-field = "b=" bwtype ":" bandwidth``."""
    bwtype, colon, number = value.partition(":")
    if not colon or not is_token(bwtype):
        raise SdpParseError(f"b=: expected '<bwtype>:<bandwidth>', found {value[:40]!r}")
    return remember(_BANDWIDTHS, value, Bandwidth(bwtype, parse_int(number.strip(), f"b={bwtype}")))


def _timing(value: str) -> Timing:
    """``time-field = "t=" start-time SP stop-time``."""
    if value == "0 0":  # what every SIP call writes (RFC 3264 §5)
        return _UNBOUNDED
    parts = value.split()
    if len(parts) != 2:
        raise SdpParseError(f"t=: expected '<start> <stop>', found {value[:40]!r}")
    return Timing(parse_int(parts[0], "t= start-time"), parse_int(parts[1], "t= stop-time"))


def _repeat(value: str) -> Repeat:
    """``repeat-field = "r=" repeat-interval SP typed-time 1*(SP typed-time)``."""
    parts = value.split()
    if len(parts) < 3:
        raise SdpParseError(f"r=: expected '<interval> <duration> <offsets>', found {value[:40]!r}")
    return Repeat(parts[0], parts[1], tuple(parts[2:]))


def _attribute(value: str) -> Attribute:
    """``attribute = (attribute-name ":" attribute-value) / attribute-name``."""
    name, colon, rest = value.partition(":")
    if _is_token(name) is None:
        raise SdpParseError(f"a=: bad attribute name {name[:40]!r}")
    attribute = Attribute(name, rest if colon else None)
    if name in _SHARED_ATTRIBUTES:
        remember(_ATTRIBUTES, value, attribute)
    return attribute


class _MediaLines:
    """The lines of one media description while it is being read."""

    __slots__ = ("attributes", "bandwidths", "connections", "information", "key", "m", "number")

    def __init__(self, m: str, number: int) -> None:
        self.m = m
        self.number = number
        self.information: str | None = None
        self.connections: list[Connection] = []
        self.bandwidths: list[Bandwidth] = []
        self.key: str | None = None
        self.attributes: list[Attribute] = []

    def build(self) -> Media:
        """``media-field = "m=" media SP port ["/" integer] SP proto 1*(SP fmt)``."""
        parts = self.m.split()
        if len(parts) < 3:
            raise SdpParseError(
                f"m=: expected '<media> <port> <proto> <fmt>...', found {self.m[:40]!r}"
            )
        media, port_text, proto, *formats = parts
        if not is_token(media):
            raise SdpParseError(f"m=: bad media type {media[:40]!r}")
        port_part, slash, count = port_text.partition("/")
        port = parse_int(port_part, f"m={media} port", 0, 65535)
        number_of_ports = parse_int(count, f"m={media} number of ports", 1) if slash else None
        if proto not in RTP_PROTOS and not all(is_token(part) for part in proto.split("/")):
            raise SdpParseError(f"m={media}: bad proto {proto[:40]!r}")
        # RTP payload types are checked as numbers (Media.payload_types)
        if proto not in RTP_PROTOS and not all(is_token(fmt) for fmt in formats):
            raise SdpParseError(f"m={media}: bad format list")
        if not formats and port:
            raise SdpParseError(f"m={media}: no formats")
        return Media(
            media,
            port,
            proto,
            tuple(formats),
            number_of_ports,
            self.information,
            tuple(self.connections),
            tuple(self.bandwidths),
            self.key,
            tuple(self.attributes),
        )


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Read a whole SDP body; raise :class:`SdpParseError` with a short reason if malformed."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    if "\0" in text:
        raise SdpParseError("NUL character in SDP")
    text = text.replace("\r\n", "\n")
    if "\r" in text:  # a CR not ending a line
        raise SdpParseError(f"line {text.count(chr(10), 0, text.index(chr(13))) + 1}: CR in a line")
    origin: Origin | None = None
    seen: set[str] = set()
    session_name: str | None = None
    information = uri = time_zones = key = None
    emails: list[str] = []
    phones: list[str] = []
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = []
    timings: list[Timing] = []
    attributes: list[Attribute] = []
    medias: list[_MediaLines] = []
    current: _MediaLines | None = None
    # enumerate() without a start: the form mypyc compiles into an indexed loop.
    for index, line in enumerate(text.split("\n")):
        number = index + 1
        if line[:2] == "a=" and current is not None:  # most lines: a stream's attributes
            value = line[2:]
            attribute = _ATTRIBUTES.get(value)
            if attribute is None:
                try:
                    attribute = _attribute(value)
                except SdpParseError as error:
                    raise SdpParseError(f"line {number}: {error.reason}") from None
            current.attributes.append(attribute)
            continue
        if not line:
            continue
        kind = line[0]
        if line[1:2] != "=" or kind not in _LETTERS:
            raise SdpParseError(f"line {number}: expected '<type>=<value>', found {line[:40]!r}")
        value = line[2:]
        if not seen:
            if line.rstrip() != "v=0":
                raise SdpParseError(f"line {number}: expected 'v=0' first, found {line[:40]!r}")
            seen.add("v")
            continue
        if kind not in _KNOWN:
            continue
        try:
            if current is not None:
                if kind in _SESSION_ONLY:
                    raise SdpParseError(f"{kind}= is not allowed after m=")
                if kind == "m":
                    current = _MediaLines(value, number)
                    medias.append(current)
                elif kind == "c":
                    current.connections.append(_CONNECTIONS.get(value) or _connection(value))
                elif kind == "b":
                    current.bandwidths.append(_BANDWIDTHS.get(value) or _bandwidth(value))
                elif kind == "i":
                    if current.information is not None:
                        raise SdpParseError("i= given twice")
                    current.information = value
                else:  # k
                    if current.key is not None:
                        raise SdpParseError("k= given twice")
                    current.key = value
                continue
            if kind in "vosiuczk" and kind in seen:
                raise SdpParseError(f"{kind}= given twice")
            seen.add(kind)
            if kind == "a":
                attributes.append(_ATTRIBUTES.get(value) or _attribute(value))
            elif kind == "m":
                current = _MediaLines(value, number)
                medias.append(current)
            elif kind == "o":
                origin = _origin(value)
            elif kind == "s":
                session_name = value
            elif kind == "c":
                connection = _CONNECTIONS.get(value) or _connection(value)
            elif kind == "t":
                timings.append(_timing(value))
            elif kind == "b":
                bandwidths.append(_BANDWIDTHS.get(value) or _bandwidth(value))
            elif kind == "r":
                if not timings:
                    raise SdpParseError("r= without t=")
                last = timings[-1]
                timings[-1] = Timing(
                    last.start_time, last.stop_time, (*last.repeats, _repeat(value))
                )
            elif kind == "e":
                emails.append(value)
            elif kind == "p":
                phones.append(value)
            elif kind == "i":
                information = value
            elif kind == "u":
                uri = value
            elif kind == "z":
                time_zones = value
            else:  # k (a second v= was refused as given twice above)
                key = value
        except SdpParseError as error:
            raise SdpParseError(f"line {number}: {error.reason}") from None
    if not seen:
        raise SdpParseError("empty SDP")
    if origin is None:
        raise SdpParseError("no o= line")
    media = tuple(_build(lines) for lines in medias)
    description = SessionDescription(
        origin,
        session_name or "-",
        0,
        information,
        uri,
        tuple(emails),
        tuple(phones),
        connection,
        tuple(bandwidths),
        tuple(timings) or (_UNBOUNDED,),
        time_zones,
        key,
        tuple(attributes),
        media,
    )
    _ = description.direction
    for item, lines in zip(media, medias, strict=True):
        try:
            item.validate()
        except SdpParseError as error:
            raise SdpParseError(f"media at line {lines.number}: {error.reason}") from None
        if item.port and description.connection_of(item) is None:
            raise SdpParseError(f"line {lines.number}: m={item.media}: no c= line for the stream")
    return description


def _build(lines: _MediaLines) -> Media:
    """The media description read, errors naming the ``m=`` line's number."""
    try:
        return lines.build()
    except SdpParseError as error:
        raise SdpParseError(f"line {lines.number}: {error.reason}") from None


class SdpReader:
    """Reads the bodies one peer sends in a dialog. A body equal to the last one read in all
    but its ``o=`` line (a phone answering a re-INVITE with the session it already has: RFC
    3264 §8 keeps everything but the version) is the last description with the new origin,
    its streams shared, so it is neither parsed nor validated again; anything else is
    parsed whole, refusals included."""

    __slots__ = ("_body", "_description")

    def __init__(self) -> None:
        self._body: tuple[bytes, bytes] | None = None
        self._description: SessionDescription | None = None

    def read(self, data: bytes) -> SessionDescription:
        """The description in ``data``; raises :class:`SdpParseError` as :func:`parse_sdp`."""
        parts = _around_origin(data)
        last, description = self._body, self._description
        if parts is not None and last is not None and description is not None:
            before, line, after = parts
            if (before, after) == last and b"\0" not in line and b"\r" not in line[:-2]:
                text = line[2:].rstrip(b"\r\n").decode("utf-8", "surrogateescape")
                try:
                    origin = _origin(text)
                except SdpParseError:
                    pass  # parse_sdp below gives the refusal its line number
                else:
                    description = description.with_origin(origin)
                    self._description = description
                    return description
        description = parse_sdp(data)
        self._body = None if parts is None else (parts[0], parts[2])
        self._description = description
        return description


def _around_origin(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``data`` cut into what comes before the first ``o=`` line, that line (with its line
    ending), and what follows; None without such a line."""
    start = data.find(b"\no=") + 1
    if not start:
        return None
    end = data.find(b"\n", start) + 1
    if not end:
        return None
    return data[:start], data[start:end], data[end:]
