"""The session description model (RFC 8866 §5) and its serialization in RFC order.

Fields carry the RFC's names (``sess_version``, ``connection_address``, ``formats``).
Every object is immutable; a negotiator builds new descriptions with their constructors
or :func:`dataclasses.replace`. Attributes stay a list of ``(name, value)`` pairs in the
order received, so unknown and repeated attributes (``candidate``, ``ssrc``, ``extmap``)
survive a round trip; the ones the offer/answer model needs (``rtpmap``, ``fmtp``,
``ptime``, ``maxptime``, direction, ``rtcp``, ``rtcp-mux``, ``crypto``) are read from that
list into structured values, checked once by the parser and kept in a ``views`` object
beside the frozen fields: plain attributes filled in place, since classes compiled by
mypyc have no ``__dict__`` to cache into.

The classes built for every call are frozen dataclasses with ``init=False`` and an
``__init__`` of their own that does what the generated one does (one
``object.__setattr__`` per field, same order and defaults: tests/unit/sdp checks): mypyc
compiles it into plain slot writes, about ten times faster than the dataclass's
``__init__``, which it leaves interpreted.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from switchboard.sdp.errors import SdpParseError

TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+\Z")
"""RFC 8866 ``token``: attribute names, media types, proto parts, bwtypes."""
_FQDN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*\Z")
_IPV4ISH = re.compile(r"[0-9.]+\Z")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?!\Z)|\Z)){4}\Z")
_DECIMAL = re.compile(r"(?:[0-9]{1,6}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})\Z")

RTP_PROTOS = frozenset(
    {
        "RTP/AVP",
        "RTP/SAVP",
        "RTP/AVPF",
        "RTP/SAVPF",
        "UDP/TLS/RTP/SAVP",
        "UDP/TLS/RTP/SAVPF",
    }
)
"""Transport protocols whose formats are RTP payload type numbers (RFC 8866 §5.14)."""

SECRET_ATTRIBUTES = frozenset({"crypto", "key-mgmt"})
"""Attributes that carry keying material: their values never appear in a repr (logs)."""


T = TypeVar("T")
K = TypeVar("K")

CACHE_LIMIT = 1024
"""Entries a per-text cache holds at most; it starts afresh beyond that (texts come from
the network, but phones send the same few lines in every call)."""


def remember(cache: dict[K, T], key: K, value: T) -> T:
    """Store ``value`` under ``key`` in a bounded per-text cache and return it."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


_COMMON_TOKENS = frozenset({"IN", "IP4", "IP6", "audio", "RTP", "AVP", "rtpmap", "fmtp", "ptime"})
"""Tokens nearly every SDP carries, known good without the pattern."""


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 8866 ``token`` (used for names, protos, bwtypes)."""
    return text in _COMMON_TOKENS or TOKEN.match(text) is not None


def parse_int(text: str, what: str, low: int = 0, high: int = 2**64 - 1) -> int:
    """``text`` as a decimal integer within ``low..high``, or a parse error naming ``what``."""
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise SdpParseError(f"{what}: expected a number, found {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise SdpParseError(f"{what}: {value} is out of range {low}-{high}")
    return value


def parse_number(text: str, what: str) -> float:
    """A positive decimal, spaces around it ignored (``ptime`` allows fractions: RFC 8866 §6.4)."""
    known = _NUMBERS.get(text)
    if known is not None:
        return known
    number = text.strip()
    if _DECIMAL.match(number) is None or float(number) <= 0:
        raise SdpParseError(f"{what}: expected a positive number, found {number[:40]!r}")
    return remember(_NUMBERS, text, float(number))


_NUMBERS: dict[str, float] = {}
""":func:`parse_number` by text: ``a=ptime:20`` in nearly every body (bounded)."""


def check_address(addrtype: str, address: str, what: str) -> None:
    """Check a unicast or multicast address (or FQDN) against its ``addrtype``."""
    if addrtype == "IP4":
        if _IPV4.match(address) is not None:
            return
        if _IPV4ISH.match(address):
            if _IPV4.match(address) is None:
                raise SdpParseError(f"{what}: bad IPv4 address {address[:40]!r}")
            return
    elif addrtype == "IP6":
        if ":" in address:
            try:
                ipaddress.IPv6Address(address)
            except ValueError:
                raise SdpParseError(f"{what}: bad IPv6 address {address[:60]!r}") from None
            return
    else:
        # Other address types (RFC 8866 §8.2.7) pass through as tokens.
        if not is_token(address):
            raise SdpParseError(f"{what}: bad address {address[:40]!r}")
        return
    if _FQDN.match(address) is None:
        raise SdpParseError(f"{what}: bad {addrtype} address {address[:40]!r}")


class Direction(StrEnum):
    """The media direction attributes of RFC 8866 §6.7 (RFC 3264 §5.1)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        """Whether the endpoint that wrote this direction sends media."""
        return self in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        """Whether the endpoint that wrote this direction wants to receive media."""
        return self in ("sendrecv", "recvonly")

    @staticmethod
    def of(sends: bool, receives: bool) -> Direction:
        """The direction with the given halves."""
        return _BY_HALVES[sends, receives]

    def reverse(self) -> Direction:
        """The direction seen from the other end: sendonly <-> recvonly (RFC 3264 §6.1)."""
        return _REVERSED[self]

    def __and__(self, other: object) -> Direction:
        """Both directions at once: what each allows (local wish & what the offer allows)."""
        if not isinstance(other, Direction):
            return NotImplemented
        return _BOTH[self, other]


_BY_HALVES = {
    (True, True): Direction.SENDRECV,
    (True, False): Direction.SENDONLY,
    (False, True): Direction.RECVONLY,
    (False, False): Direction.INACTIVE,
}
_REVERSED = {d: _BY_HALVES[d.receives, d.sends] for d in Direction}
_BOTH = {
    (a, b): _BY_HALVES[a.sends and b.sends, a.receives and b.receives]
    for a in Direction
    for b in Direction
}
"""``reverse`` and ``&`` as tables: every offer/answer reads them for each stream."""
DIRECTIONS = frozenset(direction.value for direction in Direction)
_DIRECTION_NAMED = {direction.value: direction for direction in Direction}


@dataclass(frozen=True, init=False, slots=True)
class Attribute:
    """One ``a=`` line: a flag (``value`` None) or a ``name:value`` pair (RFC 8866 §5.13)."""

    name: str
    value: str | None = None

    def __init__(
        self,
        name: str,
        value: str | None = None,
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "value", value)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"

    def __repr__(self) -> str:
        value = "<redacted>" if self.name in SECRET_ATTRIBUTES else self.value
        return f"Attribute({self.name!r}, {value!r})"


@dataclass(frozen=True, init=False, slots=True)
class Origin:
    """``o=``: who made the session and which version of it this is (RFC 8866 §5.2)."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str
    addrtype: str
    unicast_address: str

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        username: str,
        sess_id: str,
        sess_version: int,
        nettype: str,
        addrtype: str,
        unicast_address: str,
    ) -> None:
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "sess_id", sess_id)
        object.__setattr__(self, "sess_version", sess_version)
        object.__setattr__(self, "nettype", nettype)
        object.__setattr__(self, "addrtype", addrtype)
        object.__setattr__(self, "unicast_address", unicast_address)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.sess_id} {self.sess_version} "
            f"{self.nettype} {self.addrtype} {self.unicast_address}"
        )


@dataclass(frozen=True, init=False, slots=True)
class Connection:
    """``c=``: where media goes (RFC 8866 §5.7); multicast keeps ``/ttl/count`` as written."""

    nettype: str
    addrtype: str
    connection_address: str

    def __init__(
        self,
        nettype: str,
        addrtype: str,
        connection_address: str,
    ) -> None:
        object.__setattr__(self, "nettype", nettype)
        object.__setattr__(self, "addrtype", addrtype)
        object.__setattr__(self, "connection_address", connection_address)

    @property
    def address(self) -> str:
        """The address without the multicast ``/ttl`` and ``/number`` suffixes."""
        return self.connection_address.partition("/")[0]

    @property
    def is_hold(self) -> bool:
        """RFC 2543 hold: ``c=IN IP4 0.0.0.0`` means send nothing here (RFC 3264 §8.4)."""
        return self.address == "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.connection_address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` (RFC 8866 §5.8), e.g. AS or TIAS."""

    bwtype: str
    bandwidth: int

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True, slots=True)
class Repeat:
    """``r=``: repeat times of the preceding ``t=`` as written (RFC 8866 §5.10)."""

    repeat_interval: str
    active_duration: str
    offsets: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.repeat_interval, self.active_duration, *self.offsets))


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start-time> <stop-time>`` and its ``r=`` lines; ``t=0 0`` for SIP calls."""

    start_time: int = 0
    stop_time: int = 0
    repeats: tuple[Repeat, ...] = ()


@dataclass(frozen=True, init=False, slots=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]``."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    encoding_parameters: int | None = None

    def __init__(
        self,
        payload_type: int,
        encoding_name: str,
        clock_rate: int,
        encoding_parameters: int | None = None,
    ) -> None:
        object.__setattr__(self, "payload_type", payload_type)
        object.__setattr__(self, "encoding_name", encoding_name)
        object.__setattr__(self, "clock_rate", clock_rate)
        object.__setattr__(self, "encoding_parameters", encoding_parameters)

    @property
    def channels(self) -> int:
        """Audio channels: the encoding parameters, 1 when absent (RFC 8866 §6.6)."""
        return self.encoding_parameters or 1

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        """Read an rtpmap value; a payload type must be 0-127 and the clock rate a number."""
        pt, _, encoding = value.partition(" ")
        parts = encoding.strip().split("/")
        if len(parts) not in (2, 3) or not parts[0]:
            raise SdpParseError(f"a=rtpmap: expected '<pt> <name>/<rate>', found {value[:40]!r}")
        return cls(
            parse_int(pt, "a=rtpmap payload type", 0, 127),
            parts[0],
            parse_int(parts[1], "a=rtpmap clock rate", 1),
            parse_int(parts[2], "a=rtpmap channels", 1, 255) if len(parts) == 3 else None,
        )

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding_name}/{self.clock_rate}"
        if self.encoding_parameters is not None:
            text += f"/{self.encoding_parameters}"
        return text


def fmtp_parameters(parameters: str) -> dict[str, str]:
    """``a=fmtp`` parameters by lowercase name; a bare value such as DTMF ``0-16`` under ""."""
    result: dict[str, str] = {}
    for item in parameters.split(";"):
        name, equals, value = item.strip().partition("=")
        if equals:
            result[name.strip().lower()] = value.strip()
        elif name:
            result[""] = name
    return result


@dataclass(frozen=True, init=False, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    connection_address: str | None = None

    def __init__(
        self,
        port: int,
        nettype: str | None = None,
        addrtype: str | None = None,
        connection_address: str | None = None,
    ) -> None:
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "nettype", nettype)
        object.__setattr__(self, "addrtype", addrtype)
        object.__setattr__(self, "connection_address", connection_address)

    @classmethod
    def parse(cls, value: str) -> Rtcp:
        """Read the port and optional address of an rtcp attribute."""
        parts = value.split()
        if len(parts) not in (1, 4):
            raise SdpParseError(f"a=rtcp: expected '<port> [IN IP4 <addr>]', found {value[:40]!r}")
        port = parse_int(parts[0], "a=rtcp port", 0, 65535)
        if len(parts) == 1:
            return cls(port)
        check_address(parts[2], parts[3], "a=rtcp")
        return cls(port, parts[1], parts[2], parts[3])


@dataclass(frozen=True, init=False, slots=True)
class KeyParam:
    """One SDES key of ``a=crypto`` (RFC 4568 §9.2): ``inline:<key||salt>[|lifetime][|MKI:len]``."""

    key_method: str
    key_info: str = field(repr=False)

    def __init__(
        self,
        key_method: str,
        key_info: str,
    ) -> None:
        object.__setattr__(self, "key_method", key_method)
        object.__setattr__(self, "key_info", key_info)

    @property
    def key_salt(self) -> str:
        """The base64 master key and salt (a secret: never log it)."""
        return self.key_info.split("|")[0]

    @property
    def lifetime(self) -> str | None:
        """The master key lifetime as written (``2^20`` or a number), if any."""
        for part in self.key_info.split("|")[1:]:
            if ":" not in part:
                return part
        return None

    @property
    def mki(self) -> str | None:
        """``<MKI value>:<MKI length>`` as written, if any."""
        for part in self.key_info.split("|")[1:]:
            if ":" in part:
                return part
        return None


@dataclass(frozen=True, init=False, slots=True)
class Crypto:
    """``a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`` (RFC 4568 §9.1)."""

    tag: int
    crypto_suite: str
    key_params: tuple[KeyParam, ...]
    session_params: tuple[str, ...] = ()

    def __init__(
        self,
        tag: int,
        crypto_suite: str,
        key_params: tuple[KeyParam, ...],
        session_params: tuple[str, ...] = (),
    ) -> None:
        object.__setattr__(self, "tag", tag)
        object.__setattr__(self, "crypto_suite", crypto_suite)
        object.__setattr__(self, "key_params", key_params)
        object.__setattr__(self, "session_params", session_params)

    @classmethod
    def parse(cls, value: str) -> Crypto:
        """Read a crypto attribute; each key-param must be ``method:info``."""
        parts = value.split()
        if len(parts) < 3:
            raise SdpParseError("a=crypto: expected '<tag> <suite> inline:<key>'")
        tag = parse_int(parts[0], "a=crypto tag", 0, 999999999)
        if not is_token(parts[1]):
            raise SdpParseError(f"a=crypto: bad crypto-suite {parts[1][:40]!r}")
        key_params = []
        for item in parts[2].split(";"):
            method, colon, info = item.partition(":")
            if not colon or not method or not info:
                raise SdpParseError("a=crypto: key-params must be '<method>:<info>'")
            key_params.append(KeyParam(method, info))
        return cls(tag, parts[1], tuple(key_params), tuple(parts[3:]))

    def __str__(self) -> str:
        keys = ";".join(f"{key.key_method}:{key.key_info}" for key in self.key_params)
        return " ".join((str(self.tag), self.crypto_suite, keys, *self.session_params))


def _direction(attributes: tuple[Attribute, ...], where: str) -> Direction | None:
    """The one direction attribute among ``attributes``, if any; two is an error."""
    found = [a.name for a in attributes if a.name in DIRECTIONS]
    if len(found) > 1:
        raise SdpParseError(f"{where}: more than one direction attribute ({', '.join(found)})")
    return _DIRECTION_NAMED[found[0]] if found else None


_PAYLOAD_TYPES: dict[tuple[str, ...], tuple[int, ...]] = {}
_RTPMAPS: dict[tuple[str, ...], Mapping[int, RtpMap]] = {}
_FMTPS: dict[tuple[str, ...], Mapping[str, str]] = {}
"""Views of the m= formats and the rtpmap and fmtp lines by their text, shared by every
stream that wrote the same lines (so read-only proxies: no call can change another's)."""


def _payload_types(formats: tuple[str, ...]) -> tuple[int, ...]:
    """RTP formats as payload type numbers 0-127, or a parse error naming the bad one."""
    known = _PAYLOAD_TYPES.get(formats)
    if known is not None:
        return known
    result = []
    for fmt in formats:
        value = int(fmt) if len(fmt) < 4 and fmt.isascii() and fmt.isdigit() else 128
        if value > 127:  # not a number, or out of range: say which
            parse_int(fmt, "m= payload type", 0, 127)
        result.append(value)
    return remember(_PAYLOAD_TYPES, formats, tuple(result))


def _rtpmaps(values: tuple[str, ...]) -> Mapping[int, RtpMap]:
    """``a=rtpmap`` values by payload type; a payload type mapped twice is an error."""
    known = _RTPMAPS.get(values)
    if known is not None:
        return known
    result: dict[int, RtpMap] = {}
    for value in values:
        rtpmap = RtpMap.parse(value)
        if rtpmap.payload_type in result:
            raise SdpParseError(f"a=rtpmap: payload type {rtpmap.payload_type} mapped twice")
        result[rtpmap.payload_type] = rtpmap
    return remember(_RTPMAPS, values, MappingProxyType(result))


def _fmtps(values: tuple[str, ...]) -> Mapping[str, str]:
    """``a=fmtp`` values' parameters by format, as written."""
    known = _FMTPS.get(values)
    if known is not None:
        return known
    result: dict[str, str] = {}
    for value in values:
        fmt, _, parameters = value.partition(" ")
        if not fmt:
            raise SdpParseError("a=fmtp: expected '<format> <parameters>'")
        result[fmt] = parameters.strip()
    return remember(_FMTPS, values, MappingProxyType(result))


class MediaViews:
    """What a stream's attributes say, read on first use and kept: the stream is frozen,
    these plain attributes are filled in place (compiled code reads them directly). A
    ``*_read`` flag tells a view read as None from one not read yet."""

    __slots__ = (
        "codec_types",
        "crypto",
        "direction",
        "direction_read",
        "fmtps",
        "maxptime",
        "maxptime_read",
        "payload_types",
        "ptime",
        "ptime_read",
        "rtcp",
        "rtcp_read",
        "rtpmaps",
        "values",
    )

    def __init__(self) -> None:
        self.values: dict[str, list[str]] | None = None
        self.payload_types: tuple[int, ...] | None = None
        self.rtpmaps: Mapping[int, RtpMap] | None = None
        self.fmtps: Mapping[str, str] | None = None
        self.crypto: tuple[Crypto, ...] | None = None
        self.ptime: float | None = None
        self.ptime_read = False
        self.maxptime: float | None = None
        self.maxptime_read = False
        self.direction: Direction | None = None
        self.direction_read = False
        self.rtcp: Rtcp | None = None
        self.rtcp_read = False
        self.codec_types: object = None
        """The negotiator's view of the codecs (:mod:`switchboard.sdp.negotiate`)."""


@dataclass(frozen=True, init=False, slots=True)
class Media:
    """A media description: ``m=`` and its ``i= c= b= k= a=`` lines (RFC 8866 §5.14)."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    number_of_ports: int | None = None
    information: str | None = None
    connections: tuple[Connection, ...] = ()
    bandwidths: tuple[Bandwidth, ...] = ()
    key: str | None = field(default=None, repr=False)
    attributes: tuple[Attribute, ...] = ()
    views: MediaViews = field(init=False, repr=False, compare=False)
    """The structured attributes once read (not a line of the description)."""

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        media: str,
        port: int,
        proto: str,
        formats: tuple[str, ...],
        number_of_ports: int | None = None,
        information: str | None = None,
        connections: tuple[Connection, ...] = (),
        bandwidths: tuple[Bandwidth, ...] = (),
        key: str | None = None,
        attributes: tuple[Attribute, ...] = (),
    ) -> None:
        object.__setattr__(self, "media", media)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "proto", proto)
        object.__setattr__(self, "formats", formats)
        object.__setattr__(self, "number_of_ports", number_of_ports)
        object.__setattr__(self, "information", information)
        object.__setattr__(self, "connections", connections)
        object.__setattr__(self, "bandwidths", bandwidths)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "views", MediaViews())

    @property
    def is_rtp(self) -> bool:
        """Whether the formats are RTP payload types (an RTP profile, RFC 8866 §5.14)."""
        return self.proto in RTP_PROTOS

    @property
    def rejected(self) -> bool:
        """A port of zero rejects (in an answer) or disables (in an offer) the stream."""
        return self.port == 0

    @property
    def payload_types(self) -> tuple[int, ...]:
        """The formats as RTP payload type numbers (empty for non-RTP protos)."""
        views = self.views
        if views.payload_types is None:
            views.payload_types = _payload_types(self.formats) if self.is_rtp else ()
        return views.payload_types

    @property
    def rtpmaps(self) -> Mapping[int, RtpMap]:
        """The explicit ``a=rtpmap`` lines by payload type."""
        views = self.views
        if views.rtpmaps is None:
            views.rtpmaps = _rtpmaps(tuple(self.values("rtpmap")))
        return views.rtpmaps

    @property
    def fmtps(self) -> Mapping[str, str]:
        """The ``a=fmtp`` parameters by format, as written."""
        views = self.views
        if views.fmtps is None:
            views.fmtps = _fmtps(tuple(self.values("fmtp")))
        return views.fmtps

    @property
    def ptime(self) -> float | None:
        """``a=ptime``: the packet time in ms the writer wants to receive (RFC 8866 §6.4)."""
        views = self.views
        if not views.ptime_read:
            values = self.values("ptime")
            views.ptime = parse_number(values[0], "a=ptime") if values else None
            views.ptime_read = True
        return views.ptime

    @property
    def maxptime(self) -> float | None:
        """``a=maxptime``: the longest packet time in ms the writer accepts (§6.5)."""
        views = self.views
        if not views.maxptime_read:
            values = self.values("maxptime")
            views.maxptime = parse_number(values[0], "a=maxptime") if values else None
            views.maxptime_read = True
        return views.maxptime

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, if any (it overrides the session's)."""
        views = self.views
        if not views.direction_read:
            views.direction = _direction(self.attributes, f"m={self.media}")
            views.direction_read = True
        return views.direction

    @property
    def rtcp(self) -> Rtcp | None:
        """``a=rtcp`` (RFC 3605), when RTCP is not on the next port up."""
        views = self.views
        if not views.rtcp_read:
            values = self.values("rtcp")
            views.rtcp = Rtcp.parse(values[0]) if values else None
            views.rtcp_read = True
        return views.rtcp

    @property
    def rtcp_mux(self) -> bool:
        """``a=rtcp-mux``: RTP and RTCP share the port (RFC 5761)."""
        return any(a.name == "rtcp-mux" for a in self.attributes)

    @property
    def crypto(self) -> tuple[Crypto, ...]:
        """The SDES ``a=crypto`` lines in order of preference (RFC 4568)."""
        views = self.views
        if views.crypto is None:
            values = self.values("crypto")
            views.crypto = tuple(Crypto.parse(v) for v in values) if values else ()
        return views.crypto

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        """The mapping of ``payload_type``: explicit, else RFC 3551's static table."""
        found = self.rtpmaps.get(payload_type)
        if found is None:
            static = STATIC_PAYLOAD_TYPES.get(payload_type)
            if static is not None:
                return RtpMap(payload_type, *static)
        return found

    def values(self, name: str) -> list[str]:
        """The values of every ``a=<name>:`` line, in order (e.g. ``candidate``)."""
        views = self.views
        by_name = views.values
        if by_name is None:
            # Read in one pass for every structured view.
            by_name = views.values = {}
            for attribute in self.attributes:
                if attribute.value is not None:
                    by_name.setdefault(attribute.name, []).append(attribute.value)
        return by_name.get(name, [])

    def validate(self) -> None:
        """Read every structured attribute once, so that a malformed one raises now."""
        _ = self.payload_types, self.rtpmaps, self.fmtps, self.ptime, self.maxptime
        _ = self.direction, self.rtcp, self.crypto

    def lines(self) -> list[str]:
        """The media description's lines in RFC 8866 order, without line endings."""
        port = str(self.port)
        if self.number_of_ports is not None:
            port += f"/{self.number_of_ports}"
        out = [" ".join((f"m={self.media}", port, self.proto, *self.formats))]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.connections:
            out += [f"c={c}" for c in self.connections]
        if self.bandwidths:
            out += [f"b={b}" for b in self.bandwidths]
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [
            f"a={a.name}" if a.value is None else f"a={a.name}:{a.value}" for a in self.attributes
        ]
        return out


def with_known_views(media: Media, rtpmaps: Mapping[int, RtpMap], direction: Direction) -> Media:
    """``media`` given the views it was built from, so reading them back parses nothing."""
    views = media.views
    views.payload_types = tuple(rtpmaps)
    views.rtpmaps = rtpmaps
    views.direction = direction
    views.direction_read = True
    return media


# RFC 3551 §6 Table 4 and 5: payload types usable without an rtpmap line.
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int | None]] = {
    0: ("PCMU", 8000, None),
    3: ("GSM", 8000, None),
    4: ("G723", 8000, None),
    5: ("DVI4", 8000, None),
    6: ("DVI4", 16000, None),
    7: ("LPC", 8000, None),
    8: ("PCMA", 8000, None),
    9: ("G722", 8000, None),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, None),
    12: ("QCELP", 8000, None),
    13: ("CN", 8000, None),
    14: ("MPA", 90000, None),
    15: ("G728", 8000, None),
    16: ("DVI4", 11025, None),
    17: ("DVI4", 22050, None),
    18: ("G729", 8000, None),
    25: ("CelB", 90000, None),
    26: ("JPEG", 90000, None),
    28: ("nv", 90000, None),
    31: ("H261", 90000, None),
    32: ("MPV", 90000, None),
    33: ("MP2T", 90000, None),
    34: ("H263", 90000, None),
}


class SessionViews:
    """The session-level direction once read (see :class:`MediaViews`)."""

    __slots__ = ("direction", "direction_read")

    def __init__(self) -> None:
        self.direction: Direction | None = None
        self.direction_read = False


@dataclass(frozen=True, init=False, slots=True)
class SessionDescription:
    """A whole session description (RFC 8866 §5); ``media`` in ``m=`` order."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    timings: tuple[Timing, ...] = (Timing(),)
    time_zones: str | None = None
    key: str | None = field(default=None, repr=False)
    attributes: tuple[Attribute, ...] = ()
    media: tuple[Media, ...] = ()
    views: SessionViews = field(init=False, repr=False, compare=False)
    """The structured attributes once read (not a line of the description)."""

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        origin: Origin,
        session_name: str = "-",
        version: int = 0,
        information: str | None = None,
        uri: str | None = None,
        emails: tuple[str, ...] = (),
        phones: tuple[str, ...] = (),
        connection: Connection | None = None,
        bandwidths: tuple[Bandwidth, ...] = (),
        timings: tuple[Timing, ...] = (Timing(),),
        time_zones: str | None = None,
        key: str | None = None,
        attributes: tuple[Attribute, ...] = (),
        media: tuple[Media, ...] = (),
    ) -> None:
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "session_name", session_name)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "information", information)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "emails", emails)
        object.__setattr__(self, "phones", phones)
        object.__setattr__(self, "connection", connection)
        object.__setattr__(self, "bandwidths", bandwidths)
        object.__setattr__(self, "timings", timings)
        object.__setattr__(self, "time_zones", time_zones)
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "media", media)
        object.__setattr__(self, "views", SessionViews())

    @property
    def direction(self) -> Direction | None:
        """The session-level direction attribute: the default for every stream."""
        views = self.views
        if not views.direction_read:
            views.direction = _direction(self.attributes, "session")
            views.direction_read = True
        return views.direction

    def with_origin(self, origin: Origin) -> SessionDescription:
        """This description under another ``o=`` line, its views kept (none of them reads
        the origin): what :func:`dataclasses.replace` gives, without its field look-ups."""
        copy = SessionDescription(
            origin,
            self.session_name,
            self.version,
            self.information,
            self.uri,
            self.emails,
            self.phones,
            self.connection,
            self.bandwidths,
            self.timings,
            self.time_zones,
            self.key,
            self.attributes,
            self.media,
        )
        views, kept = copy.views, self.views
        views.direction, views.direction_read = kept.direction, kept.direction_read
        return copy

    def direction_of(self, media: Media) -> Direction:
        """The direction in force for ``media``: its own, else the session's, else sendrecv."""
        return media.direction or self.direction or Direction.SENDRECV

    def connection_of(self, media: Media) -> Connection | None:
        """The ``c=`` in force for ``media``: its first own, else the session's."""
        return media.connections[0] if media.connections else self.connection

    def lines(self) -> list[str]:
        """Every line in RFC 8866 §5 order, without line endings."""
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name or '-'}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        if self.emails:
            out += [f"e={e}" for e in self.emails]
        if self.phones:
            out += [f"p={p}" for p in self.phones]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        if self.bandwidths:
            out += [f"b={b}" for b in self.bandwidths]
        for timing in self.timings or (Timing(),):
            out.append(f"t={timing.start_time} {timing.stop_time}")
            if timing.repeats:
                out += [f"r={r}" for r in timing.repeats]
        if self.time_zones is not None:
            out.append(f"z={self.time_zones}")
        if self.key is not None:
            out.append(f"k={self.key}")
        if self.attributes:
            out += [
                f"a={a.name}" if a.value is None else f"a={a.name}:{a.value}"
                for a in self.attributes
            ]
        for media in self.media:
            out += media.lines()
        return out

    def serialize(self) -> bytes:
        """The description as a SIP body: CRLF after every line (RFC 8866 §5)."""
        return ("\r\n".join(self.lines()) + "\r\n").encode("utf-8", "surrogateescape")

    def __bytes__(self) -> bytes:
        return self.serialize()
