"""SIP requests and responses: lazy parse from bytes, validation, responses, serialisation.

Parsing a message does the cheap part up front: the start line, and an index of header
field values by canonical name (:class:`SipHeaders`). The accessors used on every message
(top Via, From/To tags, Call-ID, CSeq, Content-Length) read single values on demand;
name-addr and parameter grammar is parsed only when asked for. :meth:`SipMessage.validate`
applies the full syntax checks a server runs before acting on a request.

Bodies are bytes, never decoded. Header text is decoded as UTF-8 with ``surrogateescape``
so that any byte sequence re-encodes to exactly the bytes received: a response copies the
request's Via, From, To, Call-ID and CSeq values byte for byte (RFC 3261 §8.2.6.2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from itertools import chain
from typing import TypeVar

from switchboard.sip.errors import (
    RemoteProtocolError,
    UnanswerableError,
    UnsupportedUriSchemeError,
)
from switchboard.sip.headers import (
    KNOWN_NAMES,
    LINE_STARTS,
    METHODS,
    TOKEN,
    WIRE_NAMES,
    CSeq,
    NameAddress,
    SipHeaders,
    Via,
    _address_uris,
    address_uri,
    canonical_name,
    check_via,
    display_name,
    parse_cseq,
    parse_number,
    split_commas,
    tag_of,
)
from switchboard.sip.memo import KnownGood, Remembered
from switchboard.sip.uri import SipUri, Uri, check_absolute_uri, parse_uri, uri_scheme

T = TypeVar("T")

SIP_VERSION = "SIP/2.0"
MAX_DATAGRAM_SIZE = 65535
_FOLD = re.compile(r"\r\n[ \t]+")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD}(?:@{_WORD})?")
_REQUIRED = ("via", "from", "to", "call-id", "cseq")
_REQUIRED_KEYS = frozenset(_REQUIRED)
_well_formed_addresses = KnownGood(8192)
_well_formed_request_uris = KnownGood(1024)
_cseqs: Remembered[CSeq] = Remembered(4096)
"""CSeq values already parsed: "1 INVITE", "2 REGISTER" and the like recur all the time."""
_known_lines: Remembered[tuple[str, str]] = Remembered(4096)
"""Header lines already read in the usual ``Name: value`` spelling of a known name, with
their index key and stripped value: a phone sends most of its lines unchanged each time."""
_FRESH_EACH_TIME = frozenset(
    ["via", "from", "call-id", "cseq", "authorization", "proxy-authorization", "date"]
)
"""Fields whose lines differ in nearly every request (branch, tag, Call-ID, sequence,
credentials): not worth remembering."""
_SINGLE = ("from", "to", "call-id", "cseq", "max-forwards", "content-type", "expires")


REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


class SipMessage:
    """What requests and responses share: header fields, body, and lazy accessors."""

    __slots__ = ("body", "checked", "headers")

    headers: SipHeaders
    body: bytes
    checked: bool
    """True when parsing found only known header names, each once: validation skips the
    name and repetition checks."""

    def _one(self, key: str) -> str:
        try:
            return self.headers._index[key][0]
        except (KeyError, IndexError):
            raise self._error(f"Missing {display_name(key)} header field") from None

    def _error(self, reason: str, status: int = 400) -> RemoteProtocolError:
        """The error to raise for a malformed part: answerable for requests only."""
        raise NotImplementedError

    @property
    def call_id(self) -> str:
        """The Call-ID value as received (compared byte for byte, RFC 3261 §20.8)."""
        values = self.headers._index.get("call-id")
        return values[0] if values else self._one("call-id")

    @property
    def cseq(self) -> CSeq:
        """Sequence number and method; 400 when malformed or above 2**32-1."""
        values = self.headers._index.get("cseq")
        text = values[0] if values else self._one("cseq")
        cseq = _cseqs.get(text)
        if cseq is not None:
            return cseq
        seq, _, method = text.partition(" ")
        if method in METHODS and len(seq) < 10 and seq.isdigit() and seq.isascii():
            cseq = tuple.__new__(CSeq, (int(seq), method))  # the usual "1 INVITE"
        else:
            try:
                cseq = parse_cseq(text)
            except RemoteProtocolError as exc:
                raise self._error(exc.reason) from None
        return _cseqs.put(text, cseq)

    @property
    def top_via(self) -> Via:
        """The first Via value: where responses go, and the transaction's branch."""
        value = self._one("via")
        if "," in value:
            value = split_commas(value)[0]
        return self._parse(Via.parse, value, False)

    @property
    def branch(self) -> str | None:
        """The top Via's branch: the transaction key (RFC 3261 §17.2.3), read directly."""
        values = self.headers._index.get("via")
        value = values[0] if values else self._one("via")
        at = value.find(";branch=")
        if at < 0 or '"' in value:
            return self.top_via.branch
        end = value.find(";", at + 8)
        if "," in value:
            if value.find(",", 0, at) >= 0:
                return self.top_via.branch
            comma = value.find(",", at)
            if comma >= 0 and (end < 0 or comma < end):
                end = comma
        return (value[at + 8 : end] if end >= 0 else value[at + 8 :]).strip() or None

    @property
    def vias(self) -> list[Via]:
        """Every Via value in order, comma-separated ones split."""
        vias = self.headers.get_all("via")
        return [self._parse(Via.parse, value, False) for value in vias]

    @property
    def from_(self) -> NameAddress:
        """The From value parsed (trailing underscore: ``from`` is a keyword)."""
        return self._parse(NameAddress.parse, self._one("from"), False)

    @property
    def to(self) -> NameAddress:
        """The To value parsed."""
        return self._parse(NameAddress.parse, self._one("to"), False)

    @property
    def from_uri(self) -> str:
        """The From URI as text, without parsing the rest of the value each time: the
        value without its fresh tag is usually in :func:`address_uri`'s memory."""
        values = self.headers._index.get("from")
        if values:
            head, tag_param, tag = values[0].rpartition(";tag=")
            uri = _address_uris.get(head if tag_param else values[0])
            if uri is not None and (not tag_param or TOKEN.fullmatch(tag)):
                return uri
        return self._parse(address_uri, self._one("from"))

    @property
    def to_uri(self) -> str:
        """The To URI as text (the address-of-record of a REGISTER); a To value seen
        before is found in :func:`address_uri`'s memory without a call."""
        values = self.headers._index.get("to")
        if values:
            uri = _address_uris.get(values[0])
            if uri is not None:
                return uri
        return self._parse(address_uri, self._one("to"))

    @property
    def from_tag(self) -> str | None:
        """The From tag, read without parsing the whole name-addr (dialog and transaction ids)."""
        values = self.headers._index.get("from")
        try:
            return tag_of(values[0] if values else self._one("from"))
        except RemoteProtocolError as exc:
            raise self._error(exc.reason) from None

    @property
    def to_tag(self) -> str | None:
        """The To tag, or None outside a dialog."""
        values = self.headers._index.get("to")
        try:
            return tag_of(values[0] if values else self._one("to"))
        except RemoteProtocolError as exc:
            raise self._error(exc.reason) from None

    @property
    def contacts(self) -> list[NameAddress]:
        """Contact values; ``Contact: *`` is reported by :attr:`is_wildcard_contact`."""
        values = self.headers.get_all("contact")
        if values == ["*"]:
            return []
        return [self._parse(NameAddress.parse, v, False) for v in values]

    @property
    def is_wildcard_contact(self) -> bool:
        """``Contact: *``, which a REGISTER uses to remove every binding (values are kept
        stripped, so this is what splitting them on commas would find)."""
        return self.headers._index.get("contact") == ["*"]

    @property
    def content_length(self) -> int:
        """The body length (framing already checked Content-Length against the bytes)."""
        return len(self.body)

    @property
    def content_type(self) -> str | None:
        """The Content-Type value, or None: bodies stay bytes whatever their type."""
        return self.headers.get("content-type")

    def _parse(self, parser: Callable[..., T], value: str, *strict: bool) -> T:
        try:
            return parser(value, *strict)
        except RemoteProtocolError as exc:
            raise self._error(exc.reason) from None

    def _start_line(self) -> str:
        raise NotImplementedError

    def serialize(self) -> bytes:
        """Wire bytes: start line, header fields, a correct Content-Length, the body."""
        lines = [self._start_line()]
        append = lines.append
        line_starts = LINE_STARTS
        for key, values in self.headers._index.items():
            start = line_starts.get(key)
            if start is None:
                if key == "content-length":
                    continue
                start = f"{display_name(key)}: "
            for value in values:
                append(start + value)
        append(f"Content-Length: {len(self.body)}\r\n\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    def validate(self) -> None:
        """Run the syntax checks of RFC 3261 §25 that lazy parsing skips."""
        self._validate_fields()

    def _validate_fields(self) -> CSeq:
        """The checks requests and responses share; returns the CSeq they parsed."""
        index = self.headers._index
        joined = "".join(chain.from_iterable(index.values()))  # one C pass, not one per value
        if "\r" in joined or "\n" in joined:
            for key, values in index.items():
                for value in values:
                    if "\r" in value or "\n" in value:
                        raise self._error(f"Bare CR or LF in the {display_name(key)} header field")
        if not self.checked:
            for key in index.keys() - KNOWN_NAMES:
                if not TOKEN.fullmatch(key):
                    raise self._error(f"Malformed header field name {key!r}")
            for key in _SINGLE:
                if len(index.get(key, ())) > 1:
                    raise self._error(f"More than one {display_name(key)} header field")
        if not index.keys() >= _REQUIRED_KEYS:
            for key in _REQUIRED:
                if key not in index:
                    raise self._error(f"Missing {display_name(key)} header field")
        if not _CALL_ID.fullmatch(index["call-id"][0]):
            raise self._error("Malformed Call-ID")
        cseq = self.cseq
        known = _well_formed_addresses
        for key in ("from", "to"):
            if (value := index[key][0]) not in known:
                self._check_address(value)
        vias = index["via"]
        if len(vias) == 1 and (via := vias[0]) and "," not in via and '"' not in via:
            vias = [via]  # the usual single value: what get_all() would return, unsplit
        else:
            vias = self.headers.get_all("via")
            if not vias or "" in index["via"]:
                raise self._error("Empty Via header field")
        for value in vias:
            try:
                check_via(value)
            except RemoteProtocolError as exc:
                raise self._error(exc.reason) from None
        contacts = index.get("contact")
        if contacts is not None and not (
            len(contacts) == 1 and (contact := contacts[0]) in known and "," not in contact
        ):
            contacts = self.headers.get_all("contact")
            if contacts != ["*"]:
                for value in contacts:
                    self._check_address(value)
        for key in ("route", "record-route"):
            if key in index:
                for value in self.headers.get_all(key):
                    self._check_address(value)
        return cseq

    def _check_address(self, value: str) -> None:
        """A From, To, Contact or Route value: name-addr or addr-spec, with a valid URI.

        Values found well-formed are remembered, and so is a From or To without its
        trailing tag, so that the next request's fresh tag costs one token check.
        """
        if value in _well_formed_addresses:
            return
        head, tag_param, tag = value.rpartition(";tag=")
        if tag_param and head in _well_formed_addresses and TOKEN.fullmatch(tag):
            return
        self._check_uri(self._parse(NameAddress.parse, value).uri)
        _well_formed_addresses.add(value)
        if tag_param and TOKEN.fullmatch(tag):
            _well_formed_addresses.add(head)

    def _check_uri(self, text: str) -> None:
        try:
            check_absolute_uri(text)
        except RemoteProtocolError as exc:
            raise self._error(exc.reason) from None


class SipRequest(SipMessage):
    """A request: ``Method SP Request-URI SP SIP/2.0`` and its header fields."""

    __slots__ = ("_uri", "method", "uri_text")

    def __init__(self, method: str, uri: str | Uri, headers: SipHeaders, body: bytes = b"") -> None:
        self.headers = headers  # not super().__init__: this runs for every message parsed
        self.body = body
        self.checked = False
        self.method = method
        if isinstance(uri, str):
            self.uri_text = uri
            self._uri: Uri | None = None
        else:
            self.uri_text = str(uri)
            self._uri = uri

    def __repr__(self) -> str:
        return f"<SipRequest {self.method} {self.uri_text}>"

    @property
    def uri(self) -> Uri:
        """The Request-URI, parsed on first use (400 if malformed, 416 if not sip/sips/tel)."""
        if self._uri is None:
            try:
                self._uri = parse_uri(self.uri_text)
            except RemoteProtocolError as exc:
                exc.request = self
                raise
        return self._uri

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255), None when absent as in RFC 2543 requests; 400 if malformed."""
        value = self.headers._index.get("max-forwards")
        if value is None:
            return None
        hops = parse_number(value[0], 255)
        if hops is None:
            raise self._error("Malformed Max-Forwards")
        return hops

    def _error(self, reason: str, status: int = 400) -> RemoteProtocolError:
        return RemoteProtocolError(status, reason, request=self)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri_text} {SIP_VERSION}"

    def validate(self) -> None:
        """Check everything a server needs before acting (RFC 3261 §8.2, RFC 4475 §3.1.2)."""
        cseq = self._validate_fields()
        if self.uri_text not in _well_formed_request_uris:
            uri = self.uri
            if isinstance(uri, SipUri) and uri.headers:
                raise self._error("Request-URI must not contain headers")
            _well_formed_request_uris.add(self.uri_text)
        if cseq.method != self.method:
            raise self._error("CSeq method does not match the request method")
        hops = self.headers._index.get("max-forwards")
        if hops is not None and not (len(hops[0]) < 3 and hops[0].isdigit() and hops[0].isascii()):
            self.max_forwards  # noqa: B018 - parsing is the check (two digits need none)


class SipResponse(SipMessage):
    """A response: ``SIP/2.0 SP Status-Code SP Reason-Phrase`` and its header fields."""

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str, headers: SipHeaders, body: bytes = b"") -> None:
        self.headers = headers
        self.body = body
        self.checked = False
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"<SipResponse {self.status} {self.reason}>"

    def _error(self, reason: str, status: int = 400) -> RemoteProtocolError:
        return UnanswerableError(status, reason)

    def _start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"


def read_head(head: bytes) -> tuple[str, dict[str, list[str]], str | None, bool]:
    """Split a header block (without its final empty line) into start line and index.

    Returns the start line, canonical name → field values, the first syntax problem
    found (or None): the caller raises it once it knows whom to answer, and whether the
    block holds only known names, each once (``checked``). A line seen before (most of a
    phone's lines recur: Max-Forwards, Contact, Allow, User-Agent, ...) costs one lookup
    in :data:`_known_lines`; another one partition, one lookup of the usual spelling of
    its name and one strip. The fast path assumes no folding: a line without a colon, or
    a name starting with whitespace, reveals it, and the block is then read again the
    careful way.
    """
    text = head.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    index: dict[str, list[str]] = {}
    wire_names = WIRE_NAMES
    known_line = _known_lines.get
    plain = True
    for line in lines[1:]:
        seen = known_line(line)
        if seen is not None:
            key, value = seen
        else:
            name, _, value = line.partition(": ")  # the usual spelling: value without its SP
            usual = wire_names.get(name)
            if usual is not None:
                key = usual
                value = value.strip()
                if key not in _FRESH_EACH_TIME:
                    _known_lines.put(line, (key, value))
            else:
                name, colon, value = line.partition(":")
                if not colon:
                    return _read_head_carefully(text)
                value = value.strip()
                usual = wire_names.get(name)
                if usual is not None:
                    key = usual
                elif name[:1] in " \t":
                    return _read_head_carefully(text)
                else:
                    key = canonical_name(name)
                    plain = False
        if key in index:  # a repeated name: rare, so no setdefault and append per line
            index[key].append(value)
            plain = False
        else:
            index[key] = [value]
    return lines[0], index, None, plain  # known names, each once


def unfold(text: str) -> str:
    """Replace each folded line break and the white space around it with one SP.

    RFC 3261 §7.3.1: ``[*WSP CRLF] 1*WSP``. Written as split and rstrip, not as one
    regular expression with a leading ``[ \t]*``, whose search is quadratic on a long run
    of spaces: a 60 kB datagram of them cost seconds of CPU.
    """
    parts = _FOLD.split(text)
    if len(parts) == 1:
        return text
    last = parts.pop()
    return " ".join([part.rstrip(" \t") for part in parts] + [last])


def _read_head_carefully(text: str) -> tuple[str, dict[str, list[str]], str | None, bool]:
    text = unfold(text)
    lines = text.split("\r\n")
    problem = None
    index: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            problem = f"Header line without a colon: {line[:40]!r}"
            continue
        values = index.setdefault(canonical_name(name), [])
        values.append(value.strip())
    return lines[0], index, problem, False


def build_message(
    start: str, index: dict[str, list[str]], problem: str | None, checked: bool = False
) -> tuple[SipRequest | SipResponse, RemoteProtocolError | None]:
    """The message for a start line and header index, and the error to answer it with.

    A malformed response raises :class:`UnanswerableError` at once. A malformed request
    is still returned, with its error, so the caller can frame its body and answer it.
    ``checked`` is :func:`read_head`'s verdict, kept on the message for validation.
    """
    if start[:1] in "Ss" and (start.startswith("SIP/") or start[:4].upper() == "SIP/"):
        version, _, rest = start.partition(" ")
        code, _, reason = rest.partition(" ")
        if version.upper() != SIP_VERSION:
            raise UnanswerableError(505, f"Unsupported SIP version {version!r}")
        if len(code) != 3 or not code.isdigit() or not code.isascii() or code[0] not in "123456":
            raise UnanswerableError(400, f"Malformed Status-Code in {start[:60]!r}")
        if problem:
            raise UnanswerableError(400, problem)
        response = SipResponse(int(code), reason, SipHeaders(index))
        response.checked = checked
        return response, None
    parts = start.split(" ")
    method = parts[0]
    request = SipRequest(method, parts[1] if len(parts) > 1 else "", SipHeaders(index))
    request.checked = checked
    error: RemoteProtocolError | None = None
    if len(parts) != 3 or "" in parts:
        error = request._error(f"Malformed Request-Line {start[:80]!r}")
    elif parts[2] != SIP_VERSION and parts[2].upper() != SIP_VERSION:
        if _VERSION.fullmatch(parts[2]):
            error = request._error(f"Unsupported SIP version {parts[2]!r}", 505)
        else:
            error = request._error(f"Malformed SIP version {parts[2]!r}")
    elif method not in METHODS and not TOKEN.fullmatch(method):
        error = request._error(f"Malformed method {method!r}")
    elif problem:
        error = request._error(problem)
    elif not parts[1].startswith("sip:"):
        scheme = uri_scheme(parts[1])
        if scheme is None:
            error = request._error(f"Malformed Request-URI {parts[1][:80]!r}")
        elif scheme not in ("sip", "sips", "tel"):
            error = UnsupportedUriSchemeError(scheme)
            error.request = request
    return request, error


def content_length(message: SipMessage) -> int | None:
    """The Content-Length value, None when absent; 400 when malformed or conflicting."""
    values = message.headers._index.get("content-length")
    if values is None:
        return None
    text = values[0]
    if any(value != text for value in values):
        raise message._error("Conflicting Content-Length header fields")
    length = parse_number(text, 2**63)
    if length is None:
        raise message._error(f"Malformed Content-Length {text[:20]!r}")
    return length


def parse_datagram(data: bytes, max_size: int = MAX_DATAGRAM_SIZE) -> SipRequest | SipResponse:
    """Parse one message received as a datagram (UDP).

    Leading CRLFs are skipped (RFC 3261 §7.5). Without Content-Length the body is the rest
    of the datagram; octets beyond Content-Length are ignored (RFC 3261 §18.3); a
    Content-Length beyond the datagram is a 400 (RFC 4475 §3.1.2.2).
    """
    if data.startswith(b"\r\n"):
        data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head = data[:end]
        body = data[end + 4 :]
    elif data.endswith(b"\r\n"):
        # The datagram bounds the message: tolerate a missing empty line when there is no body.
        head, body = data[:-2], b""
    else:
        raise UnanswerableError(400, "No end of line after the header fields")
    message, error = build_message(*read_head(head))
    values = message.headers._index.get("content-length")
    if values is None:
        length = None
    else:
        text = values[0]
        if len(values) == 1 and len(text) < 10 and text.isdigit() and text.isascii():
            length = int(text)  # the usual case, without the checks' function calls
        else:
            length = content_length(message)
    if length is not None:
        if length > len(body):
            raise message._error("Content-Length larger than the message")
        if length < len(body):
            body = body[:length]
    message.body = body
    if len(data) > max_size:
        raise message._error("Message Too Large", 513)
    if error is not None:
        raise error
    return message


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse and :meth:`~SipMessage.validate` one complete datagram."""
    message = parse_datagram(data)
    message.validate()
    return message


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """A response to ``request`` per RFC 3261 §8.2.6.2.

    Via (every value, in order), From, To, Call-ID and CSeq are copied as received;
    ``to_tag`` is added to To unless the request already has one.
    """
    index = request.headers._index
    copied: dict[str, list[str]]
    try:  # the usual request, which has them all: no call per copied field
        copied = {
            "via": index["via"][:],
            "from": [index["from"][0]],
            "to": [index["to"][0]],
            "call-id": [index["call-id"][0]],
            "cseq": [index["cseq"][0]],
        }
    except (KeyError, IndexError):
        copied = {}
        vias = index.get("via")
        if vias:
            copied["via"] = list(vias)
        for key in ("from", "to", "call-id", "cseq"):
            values = index.get(key)
            if values:
                copied[key] = [values[0]]
    if to_tag is not None and "to" in copied:
        to = copied["to"][0]
        if "tag" not in to.lower() or request.to_tag is None:
            copied["to"] = [f"{to};tag={to_tag}"]
    fields = SipHeaders(copied)
    response = SipResponse(
        status, REASON_PHRASES.get(status, "") if reason is None else reason, fields
    )
    wire_names = WIRE_NAMES
    for name, value in headers:
        known = wire_names.get(name)
        if known is None or "\r" in value or "\n" in value:
            response.headers.add(name, value)  # which checks the name and refuses line breaks
        elif known in copied:
            copied[known].append(value)
        else:
            copied[known] = [value]
    response.body = body
    return response


def error_response(error: RemoteProtocolError, to_tag: str | None = None) -> SipResponse | None:
    """The response answering ``error``, or None when there is no request to answer."""
    request = error.request
    if request is None or isinstance(error, UnanswerableError) or request.method == "ACK":
        return None
    try:
        return make_response(
            request, error.status, error.reason, to_tag=to_tag, headers=error.headers
        )
    except RemoteProtocolError:
        return None


def check_max_forwards(request: SipRequest) -> None:
    """For a request about to be forwarded: 483 Too Many Hops when Max-Forwards is 0.

    An endpoint handles such a request as usual (RFC 4475 §3.3.11), so only forwarding
    code calls this.
    """
    if request.max_forwards == 0:
        raise request._error("Too Many Hops", 483)


def check_require(request: SipRequest, supported: Collection[str], header: str = "Require") -> None:
    """420 Bad Extension listing in Unsupported the option-tags of ``header`` we lack.

    A UAS checks Require, a proxy Proxy-Require (RFC 3261 §8.2.2.3, §16.3); ACK and CANCEL
    are never rejected for it.
    """
    if request.method in ("ACK", "CANCEL"):
        return
    unsupported = [tag for tag in request.headers.get_all(header) if tag not in supported]
    if unsupported:
        raise RemoteProtocolError(
            420, "Bad Extension", [("Unsupported", ", ".join(unsupported))], request
        )
