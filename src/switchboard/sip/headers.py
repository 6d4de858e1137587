"""Header fields: the case-insensitive index of a message, and their grammar (RFC 3261 §25).

Parsing is lazy. :class:`SipHeaders` keeps each field value as received (one string per
header line, LWS folding already replaced by a space) under its canonical lower-case name,
compact forms (``v`` → ``via``) expanded. Structure is read only when asked for:
:meth:`SipHeaders.get_all` splits comma-separated lists (not inside quotes or ``<>``), and
:class:`NameAddress`, :class:`Via` and :func:`parse_cseq` parse one value each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.memo import Remembered

Params = dict[str, str | None]

# RFC 3261 §7.3.3 and the IANA registry of compact forms.
COMPACT_FORMS: dict[str, str] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

_DISPLAY_NAMES = {
    name.lower(): name
    for name in [
        "Accept",
        "Accept-Contact",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "Identity",
        "Identity-Info",
        "In-Reply-To",
        "Max-Forwards",
        "MIME-Version",
        "Min-Expires",
        "Min-SE",
        "Organization",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Path",
        "Priority",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Record-Route",
        "Refer-To",
        "Referred-By",
        "Reject-Contact",
        "Reply-To",
        "Request-Disposition",
        "Require",
        "Retry-After",
        "Route",
        "RSeq",
        "Security-Client",
        "Security-Server",
        "Security-Verify",
        "Server",
        "Service-Route",
        "Session-Expires",
        "SIP-ETag",
        "SIP-If-Match",
        "Subject",
        "Subscription-State",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
    ]
}
KNOWN_NAMES = frozenset(_DISPLAY_NAMES)
"""Canonical names of the header fields we know (all valid tokens: no need to check)."""
LINE_STARTS = {key: f"{name}: " for key, name in _DISPLAY_NAMES.items() if key != "content-length"}
"""How a known header field's line starts on the wire, by index key; Content-Length is
left out, as serialisation writes its own."""

# Usual spellings of header names → index key: the parser looks names up here before
# paying for lower() and compact-form handling.
WIRE_NAMES: dict[str, str] = {
    form: key
    for key, name in _DISPLAY_NAMES.items()
    for form in (name, key, key.title(), key.upper())
}
WIRE_NAMES.update({letter: key for letter, key in COMPACT_FORMS.items()})
WIRE_NAMES.update({letter.upper(): key for letter, key in COMPACT_FORMS.items()})

# Header fields whose grammar is a comma-separated list (RFC 3261 §7.3.1): the others
# (Date, the authentication fields, Call-ID, ...) may hold commas inside one value.
LIST_HEADERS = frozenset(
    [
        "accept",
        "accept-contact",
        "accept-encoding",
        "accept-language",
        "alert-info",
        "allow",
        "allow-events",
        "call-info",
        "contact",
        "content-encoding",
        "content-language",
        "error-info",
        "in-reply-to",
        "p-asserted-identity",
        "p-preferred-identity",
        "path",
        "proxy-require",
        "reason",
        "record-route",
        "reject-contact",
        "request-disposition",
        "require",
        "route",
        "security-client",
        "security-server",
        "security-verify",
        "service-route",
        "supported",
        "unsupported",
        "via",
        "warning",
    ]
)

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
_T = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN = re.compile(_T)
# gen-value = token / host / quoted-string (host adds ":" and "[ ]" for IPv6)
_G = r"[A-Za-z0-9\-.!%*_+`'~:\[\]]+"
_GEN_VALUE = re.compile(_G)
# quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE
_QUOTED = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'

# Whole-value grammars: one C-level match validates and splits the common forms; values
# they reject go through the slower step-by-step parsers, which say what is wrong.
_PARAM_ITEM = re.compile(rf"[ \t]*;[ \t]*({_T})(?:[ \t]*=[ \t]*({_G}|{_QUOTED}))?")
_PARAMS = rf"((?:[ \t]*;[ \t]*{_T}(?:[ \t]*=[ \t]*(?:{_G}|{_QUOTED}))?)*)[ \t]*"
_NAME_ADDR = re.compile(
    rf"(?:({_QUOTED})[ \t]*|((?:{_T}[ \t]+)*{_T})?[ \t]*)<([^<>\s\"]+)>{_PARAMS}"
)
_ADDR_SPEC = re.compile(rf"([^\s;<>\"?,]+){_PARAMS}")
_VIA = re.compile(
    rf"SIP[ \t]*/[ \t]*({_T})[ \t]*/[ \t]*({_T})[ \t]+"
    rf"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]{{1,5}}))?{_PARAMS}",
    re.IGNORECASE,
)


def _fast_params(text: str) -> Params:
    return {name.lower(): value or None for name, value in _PARAM_ITEM.findall(text)}


def _loose_params(text: str) -> Params:
    """Parameters from text starting at the first ``;`` and holding no quotes, trusting the
    grammar (the strict parsers check it)."""
    params: Params = {}
    for item in text.split(";")[1:]:
        name, eq, value = item.partition("=")
        params[name.strip().lower()] = value.strip() if eq else None
    return params


def parse_number(text: str, maximum: int) -> int | None:
    """``1*DIGIT`` up to ``maximum`` (at most 2**63), or None; length checked before int()."""
    if len(text) > 19 or not text.isdigit() or not text.isascii():
        return None
    value = int(text)
    return value if value <= maximum else None


def _bad(what: str, value: str) -> RemoteProtocolError:
    return RemoteProtocolError(400, f"Malformed {what}: {value!r}")


def canonical_name(name: str) -> str:
    """The index key of a header name: lower-case, compact form expanded."""
    key = WIRE_NAMES.get(name)
    if key is not None:
        return key
    key = name.strip().lower()
    return COMPACT_FORMS.get(key, key) if len(key) == 1 else key


def display_name(key: str) -> str:
    """How a header name is written on the wire (``call-id`` → ``Call-ID``)."""
    return _DISPLAY_NAMES.get(key) or key.title()


def _checked_key(name: str, value: str) -> str:
    """Refuse what would corrupt the message we build (header injection through CR/LF)."""
    key = WIRE_NAMES.get(name)
    if key is None:
        key = canonical_name(name)
        if not TOKEN.fullmatch(key):
            key = ""
    if not key or "\r" in value or "\n" in value:
        raise LocalProtocolError(f"Cannot add header field {name!r}: {value[:60]!r}")
    return key


class SipHeaders:
    """The header fields of one message: canonical name → field values in arrival order."""

    __slots__ = ("_index",)

    def __init__(self, index: dict[str, list[str]] | None = None) -> None:
        self._index: dict[str, list[str]] = {} if index is None else index

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> SipHeaders:
        headers = cls()
        for name, value in pairs:
            headers.add(name, value)
        return headers

    def get(self, name: str) -> str | None:
        """The first field value of ``name`` (a whole header line's value), or None."""
        values = self._index.get(WIRE_NAMES.get(name) or canonical_name(name))
        return values[0] if values else None

    def fields(self, name: str) -> list[str]:
        """Every field value of ``name`` as received, one per header line."""
        return list(self._index.get(canonical_name(name), ()))

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``; list-valued headers are split on commas (RFC 3261 §7.3.1)."""
        key = WIRE_NAMES.get(name) or canonical_name(name)
        values = self._index.get(key)
        if values is None:
            return []
        if key not in LIST_HEADERS:
            return list(values)
        result: list[str] = []
        for value in values:
            if "," in value or '"' in value:
                result.extend(split_commas(value))  # which also rejects unclosed < and "
            elif "<" in value:
                if value.find(">", value.rfind("<")) < 0:
                    raise _bad("header value (unclosed <)", value)
                result.append(value.strip())
            elif value:
                result.append(value.strip())
        return result

    def __contains__(self, name: object) -> bool:
        return (
            isinstance(name, str) and (WIRE_NAMES.get(name) or canonical_name(name)) in self._index
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def items(self) -> Iterator[tuple[str, str]]:
        """(wire name, value) for every header line, grouped by name in first-seen order."""
        for key, values in self._index.items():
            name = display_name(key)
            for value in values:
                yield name, value

    def add(self, name: str, value: str) -> None:
        """Append a field value after any existing ones of the same name."""
        self._index.setdefault(_checked_key(name, value), []).append(value)

    def set(self, name: str, value: str) -> None:
        """Replace every field of ``name`` with one value."""
        self._index[_checked_key(name, value)] = [value]

    def replace_first(self, name: str, value: str) -> None:
        """Replace the first field of ``name`` (there must be one), the others kept after
        it. The value is not checked for line breaks: it is for a field rebuilt from the
        one received (Via's ``received``/``rport`` stamps), not for text from elsewhere."""
        self._index[WIRE_NAMES.get(name) or canonical_name(name)][0] = value

    def remove(self, name: str) -> None:
        self._index.pop(canonical_name(name), None)

    def copy(self) -> SipHeaders:
        return SipHeaders({key: list(values) for key, values in self._index.items()})


def _quoted_end(text: str, start: int) -> int:
    """Index just past the quoted-string opening at ``start``; -1 when unterminated."""
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1
    return -1


def unquote(text: str) -> str:
    """The content of a quoted-string with quoted-pairs resolved; other text unchanged."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out: list[str] = []
    i = 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            i += 1
        out.append(inner[i])
        i += 1
    return "".join(out)


def quote(text: str) -> str:
    """A quoted-string holding ``text`` (RFC 3261 §25.1 quoted-pair for \\ and ")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quoted strings and ``<...>``; items keep their whitespace."""
    if '"' not in text:
        if "<" not in text:
            return text.split(sep)
        if sep not in text:  # the usual <uri>;params: one item, if every < has its >
            if text.find(">", text.rfind("<")) < 0:
                raise _bad("header value (unclosed <)", text)
            return [text]
    items: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _quoted_end(text, i)
            if end < 0:
                raise _bad("quoted string (unterminated)", text)
            i = end
            continue
        if c == "<":
            end = text.find(">", i)
            if end < 0:
                raise _bad("header value (unclosed <)", text)
            i = end + 1
            continue
        if c == sep:
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    return items


def split_commas(value: str) -> list[str]:
    """The elements of a comma-separated header value, stripped; empty ones are kept."""
    return [item.strip() for item in _split(value, ",")]


def parse_params(text: str) -> Params:
    """``name[=value]`` items of a ``;``-separated list (the text after the first ``;``).

    Names are lower-cased; values keep their quotes (see :func:`unquote`). An empty item,
    as in ``;;``, or a name that is not a token is malformed (RFC 4475 §3.1.2.1).
    """
    params: Params = {}
    for item in _split(text, ";"):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not TOKEN.fullmatch(name):
            raise _bad("parameter", text)
        if eq:
            value = value.strip()
            if not (_GEN_VALUE.fullmatch(value) or _is_quoted(value)):
                raise _bad("parameter value", text)
            params[name.lower()] = value
        else:
            params[name.lower()] = None
    return params


def _is_quoted(value: str) -> bool:
    return value.startswith('"') and _quoted_end(value, 0) == len(value)


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def tag_of(value: str) -> str | None:
    """The ``tag`` parameter of a From or To value, without building a :class:`NameAddress`.

    The usual ``[display-name] <uri>;tag=x`` (or ``uri;tag=x``) is sliced; escapes in the
    display name, quotes after it, a ``;tag=`` inside the brackets, or a tag parameter
    spelt otherwise take the long way.
    """
    rest = value
    if rest[:1] == '"':  # skip a display name without escapes
        close = rest.find('"', 1)
        if close > 0 and rest[close - 1] != "\\":
            rest = rest[close + 1 :]
    if '"' not in rest:
        at = rest.rfind(";tag=")
        if at >= 0:
            if rest.find(">", at) < 0:
                end = rest.find(";", at + 5)
                return (rest[at + 5 : end] if end >= 0 else rest[at + 5 :]).strip() or None
        elif "tag" not in rest[rest.rfind(">") + 1 :].lower():
            return None
    return NameAddress.parse(value, strict=False).params.get("tag")


MAX_REMEMBERED_ADDRESSES = 8192
"""How many From/To/Contact values :func:`address_uri` remembers (then it starts afresh)."""

_address_uris: Remembered[str] = Remembered(MAX_REMEMBERED_ADDRESSES)


def address_uri(value: str) -> str:
    """The URI of a From, To or Contact value, as :class:`NameAddress` reads it (lenient).

    Remembered per value, and a From or To also without its trailing tag, so that the
    fresh tag of each request from the same user finds it.
    """
    uri = _address_uris.get(value)
    if uri is not None:
        return uri
    head, tag_param, tag = value.rpartition(";tag=")
    tagged = bool(tag_param) and TOKEN.fullmatch(tag) is not None
    if tagged:
        uri = _address_uris.get(head)
        if uri is not None:
            return uri
    uri = NameAddress.parse(value, strict=False).uri
    return _address_uris.put(head if tagged else value, uri)


class NameAddress:
    """``[display-name] <uri> *(;param)`` or ``addr-spec *(;param)`` (RFC 3261 §20.10).

    The URI stays text here (:func:`switchboard.sip.uri.parse_uri` reads it) so that
    unknown schemes in From, To or Contact do not stop the message (RFC 4475 §3.3.4).
    """

    __slots__ = ("display_name", "params", "uri")

    def __init__(self, uri: str, display_name: str | None = None, params: Params | None = None):
        self.uri = uri
        self.display_name = display_name
        self.params: Params = {} if params is None else params

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @classmethod
    def parse(cls, value: str, strict: bool = True) -> NameAddress:
        """Parse one value; malformed display names and addr-specs raise 400.

        ``strict=False`` is the fast path for accessors: the common ``<uri>;params`` and
        ``uri;params`` forms are split without checking each character, which
        :meth:`SipMessage.validate` does.
        """
        if not strict and '"' not in value:
            if value[:1] == "<":
                gt = value.find(">")
                if gt > 1:
                    rest = value[gt + 1 :]
                    return cls(value[1:gt], None, _loose_params(rest) if rest else None)
            elif "<" not in value:
                uri, semi, rest = value.partition(";")
                if uri:
                    return cls(uri.rstrip(), None, _loose_params(semi + rest) if semi else None)
        match = _NAME_ADDR.fullmatch(value)
        if match is not None:
            quoted, tokens, uri, params = match.groups()
            display = unquote(quoted) if quoted else (" ".join(tokens.split()) if tokens else None)
            return cls(uri, display, _fast_params(params) if params else None)
        match = _ADDR_SPEC.fullmatch(value)
        if match is not None:
            uri, params = match.groups()
            return cls(uri, None, _fast_params(params) if params else None)
        return cls._parse_slowly(value)

    @classmethod
    def _parse_slowly(cls, value: str) -> NameAddress:
        text = value.strip()
        display: str | None = None
        if text.startswith('"'):
            end = _quoted_end(text, 0)
            if end < 0:
                raise _bad("display name (unterminated quoted string)", value)
            display = unquote(text[:end])
            rest = text[end:].lstrip()
            if not rest.startswith("<"):
                raise _bad("name-addr (expected <uri> after the display name)", value)
        else:
            lt = text.find("<")
            if lt < 0:
                return cls._parse_addr_spec(text, value)
            words = text[:lt].split()
            if not all(TOKEN.fullmatch(word) for word in words):
                raise _bad("display name (unquoted, not tokens)", value)
            display = " ".join(words) or None
            rest = text[lt:]
        gt = rest.find(">")
        if gt < 0:
            raise _bad("name-addr (missing >)", value)
        uri = rest[1:gt]
        if not uri or uri != uri.strip():
            raise _bad("addr-spec (spaces inside <>)", value)
        after = rest[gt + 1 :].lstrip()
        if not after:
            return cls(uri, display)
        if after[0] != ";":
            raise _bad("name-addr (text after >)", value)
        return cls(uri, display, parse_params(after[1:]))

    @classmethod
    def _parse_addr_spec(cls, text: str, value: str) -> NameAddress:
        # Without <>, the first ";" starts header parameters (RFC 3261 §20), and a URI
        # holding "?" or "," must have been enclosed (RFC 4475 §3.1.2.13).
        uri, semi, params = text.partition(";")
        uri = uri.rstrip()
        if not uri or any(c in uri for c in ' \t?,"'):
            raise _bad("addr-spec (must be enclosed in <>)", value)
        return cls(uri, None, parse_params(params) if semi else None)

    def __str__(self) -> str:
        display = f"{quote(self.display_name)} " if self.display_name else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"

    def __repr__(self) -> str:
        return f"NameAddress({str(self)!r})"


class Via:
    """One Via value: ``SIP/2.0/transport host[:port] *(;param)`` (RFC 3261 §20.42)."""

    __slots__ = ("host", "params", "port", "transport", "version")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: Params | None = None,
        version: str = "2.0",
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.params: Params = {} if params is None else params
        self.version = version

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @classmethod
    def parse(cls, value: str, strict: bool = True) -> Via:
        """Parse one Via value (LWS allowed around the slashes of sent-protocol).

        ``strict=False`` splits the usual ``SIP/2.0/T host:port;params`` form without
        checking each character (accessors' fast path; validation is strict).
        """
        if not strict and value[:8] == "SIP/2.0/" and '"' not in value:
            cut = value.find(";")
            head = value[8:cut] if cut >= 0 else value[8:]
            transport, _, sent_by = head.partition(" ")
            host, colon, port_text = sent_by.strip().partition(":")
            port = parse_number(port_text, 65535) if colon else None
            if transport and host and host[0] != "[" and (not colon or port is not None):
                return cls(
                    transport.upper(),
                    host,
                    port,
                    _loose_params(value[cut:]) if cut >= 0 else None,
                )
        match = _VIA.fullmatch(value)
        if match is not None:
            version, transport, host, digits, params = match.groups()
            port = parse_number(digits, 65535) if digits else None
            if digits and port is None:
                raise _bad("Via port", value)
            return cls(
                transport.upper(),
                host[1:-1] if host[0] == "[" else host,
                port,
                _fast_params(params) if params else None,
                version,
            )
        head, semi, params = value.partition(";") if '"' not in value else _head_params(value)
        protocol = head.split("/", 2)
        if len(protocol) != 3 or protocol[0].strip().upper() != "SIP":
            raise _bad("Via sent-protocol", value)
        version = protocol[1].strip()
        transport_sent_by = protocol[2].split(None, 1)
        if len(transport_sent_by) != 2 or not TOKEN.fullmatch(transport_sent_by[0]):
            raise _bad("Via sent-by", value)
        host, port = _parse_sent_by(transport_sent_by[1].strip(), value)
        return cls(
            transport_sent_by[0].upper(),
            host,
            port,
            parse_params(params) if semi else None,
            version,
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"SIP/{self.version}/{self.transport} {host}{port}{format_params(self.params)}"

    def __repr__(self) -> str:
        return f"Via({str(self)!r})"


def check_via(value: str) -> None:
    """Raise 400 unless ``value`` is a Via value that :meth:`Via.parse` accepts; the usual
    form costs one match, without building the Via."""
    match = _VIA.fullmatch(value)
    if match is None or (match[4] is not None and int(match[4]) > 65535):  # 1 to 5 digits
        Via.parse(value)


def _head_params(value: str) -> tuple[str, str, str]:
    items = _split(value, ";")
    return items[0], ";" if len(items) > 1 else "", ";".join(items[1:])


_HOST = re.compile(r"[A-Za-z0-9\-.]+")


def _parse_sent_by(text: str, value: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _bad("Via host", value)
        host, after = text[1:end], text[end + 1 :].strip()
    else:
        host, colon, port_text = text.partition(":")
        host = host.strip()
        after = ":" + port_text if colon else ""
        if not _HOST.fullmatch(host):
            raise _bad("Via host", value)
    if not after:
        return host, None
    port = parse_number(after[1:].strip(), 65535)
    if after[0] != ":" or port is None:
        raise _bad("Via port", value)
    return host, port


class CSeq(NamedTuple):
    """``CSeq: 1*DIGIT LWS Method`` (RFC 3261 §20.16)."""

    seq: int
    method: str


MAX_CSEQ = 2**32 - 1
METHODS = frozenset(
    "ACK BYE CANCEL INFO INVITE MESSAGE NOTIFY OPTIONS PRACK PUBLISH REFER REGISTER"  # noqa: SIM905
    " SUBSCRIBE UPDATE".split()
)
"""Methods of RFC 3261 and its extensions: known tokens, no check needed."""


def parse_cseq(value: str) -> CSeq:
    """Parse a CSeq value; a number above 2**32-1 is malformed (RFC 4475 §3.1.2.4)."""
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise _bad("CSeq", value)
    seq = int(parts[0]) if len(parts[0]) <= 10 else MAX_CSEQ + 1
    if seq > MAX_CSEQ or (parts[1] not in METHODS and not TOKEN.fullmatch(parts[1])):
        raise _bad("CSeq", value)
    return tuple.__new__(CSeq, (seq, parts[1]))  # skips NamedTuple's slower Python __new__
