"""SIP, SIPS and tel URIs: parse, serialise and compare.

Grammar from RFC 3261 §19.1 and §25.1, tel from RFC 3966, IPv6 references (``[::1]``)
from RFC 5118. Components are kept unescaped (``%41`` becomes ``A``, once: RFC 3986 never
unescapes twice) and escaped again when serialised. Parameter names are case-insensitive
and stored lower-case; a parameter without a value maps to ``None``.

A well-formed URI of another scheme raises :class:`UnsupportedUriSchemeError` (answer 416);
anything malformed raises :class:`RemoteProtocolError` (answer 400).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import quote, unquote

from switchboard.sip.errors import RemoteProtocolError, SipError, UnsupportedUriSchemeError
from switchboard.sip.memo import KnownGood

Params = dict[str, str | None]

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_ESC = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESC})+")
# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
_PASSWORD = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESC})*")
# paramchar = param-unreserved / unreserved / escaped; param-unreserved = [ ] / : & + $
_PARAMCHARS = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESC})+")
# hname / hvalue = *( hnv-unreserved / unreserved / escaped ); hnv-unreserved = [ ] / ? : + $
_HCHARS = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})*")
# hostname = *( domainlabel "." ) toplabel [ "." ] (IPv4address matches it too)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
# RFC 3966: global-number-digits = "+" *phonedigit DIGIT *phonedigit
_GLOBAL_NUMBER = re.compile(r"\+[0-9\-.()]*[0-9][0-9\-.()]*")
# local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
_LOCAL_NUMBER = re.compile(r"[0-9A-Fa-f*#\-.()]*[0-9A-Fa-f*#][0-9A-Fa-f*#\-.()]*")
_PNAME = re.compile(r"[A-Za-z0-9\-]+")

_USER_SAFE = "-_.!~*'()&=+$,;?/"
_PASSWORD_SAFE = "-_.!~*'()&=+$,"
_PARAM_SAFE = "-_.!~*'()[]/:&+$"
_HEADER_SAFE = "-_.!~*'()[]/?:+$"

# RFC 3261 §19.1.4: these URI parameters must match when either URI carries them.
_MUST_MATCH_PARAMS = ("user", "ttl", "method", "maddr", "transport")


def _bad(what: str, text: str) -> RemoteProtocolError:
    return RemoteProtocolError(400, f"Bad {what} in URI {text!r}")


def _unescape(text: str) -> str:
    return unquote(text, errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    return quote(text.encode("utf-8", "surrogateescape"), safe=safe)


def uri_scheme(text: str) -> str | None:
    """The scheme of ``text`` lower-cased, or None when it does not start ``scheme:``."""
    colon = text.find(":")
    if colon <= 0 or not _SCHEME.fullmatch(text, 0, colon):
        return None
    return text[:colon].lower()


MAX_REMEMBERED_URIS = 8192
"""How many well-formed URIs :func:`check_absolute_uri` remembers (then it starts afresh)."""

_well_formed = KnownGood(MAX_REMEMBERED_URIS)


def check_absolute_uri(text: str) -> None:
    """Accept any ``scheme:opaque`` URI (RFC 3261 absoluteURI): header fields may carry them.

    Phones send the same From, To and Contact URIs in every request, so URIs found
    well-formed are remembered (a bounded set) and not parsed again.
    """
    if text in _well_formed:
        return
    scheme = uri_scheme(text)
    if scheme is None or len(text) == len(scheme) + 1 or any(c in text for c in ' \t<>"'):
        raise RemoteProtocolError(400, f"Malformed URI {text!r}")
    if scheme in ("sip", "sips", "tel"):
        parse_uri(text)
    _well_formed.add(text)


@lru_cache(maxsize=MAX_REMEMBERED_URIS)
def sip_user_host(text: str) -> tuple[str | None, str] | None:
    """The (unescaped) user and the host of a SIP or SIPS URI; None when ``text`` is not one.

    Cached: endpoint identification and AOR lookup ask this of every REGISTER's From and
    To URIs, which repeat for each user.
    """
    try:
        uri = SipUri.parse(text)
    except SipError:
        return None
    return uri.user, uri.host


def _parse_params(text: str, chars: re.Pattern[str], what: str) -> Params:
    params: Params = {}
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not chars.fullmatch(name) or (eq and not chars.fullmatch(value)):
            raise _bad(what, text)
        params[_unescape(name).lower()] = _unescape(value) if eq else None
    return params


def _format_params(params: Params, safe: str) -> str:
    parts = []
    for name, value in params.items():
        parts.append(f";{_escape(name, safe)}")
        if value is not None:
            parts.append(f"={_escape(value, safe)}")
    return "".join(parts)


class SipUri:
    """A ``sip:`` or ``sips:`` URI: ``sip:user:password@host:port;params?headers``."""

    __slots__ = ("headers", "host", "params", "password", "port", "scheme", "user")

    def __init__(
        self,
        host: str,
        *,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        params: Params | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        """Host name, IPv4 address, or IPv6 address without its brackets."""
        self.port = port
        self.params: Params = {} if params is None else params
        self.headers: dict[str, str] = {} if headers is None else headers

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP or SIPS URI; 400 when malformed, 416 for another scheme."""
        scheme, _, rest = text.partition(":")
        scheme = scheme.lower()
        if scheme not in ("sip", "sips"):
            raise _unsupported_or_bad(text)
        user = password = None
        at = rest.find("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1 :]
            user_text, has_password, password_text = userinfo.partition(":")
            if not _USER.fullmatch(user_text) or not _PASSWORD.fullmatch(password_text):
                raise _bad("userinfo", text)
            user = _unescape(user_text)
            password = _unescape(password_text) if has_password else None
        rest, has_headers, headers_text = rest.partition("?")
        hostport, has_params, params_text = rest.partition(";")
        host, port = _parse_hostport(hostport, text)
        params = _parse_params(params_text, _PARAMCHARS, "parameter") if has_params else {}
        headers: dict[str, str] = {}
        if has_headers:
            for item in headers_text.split("&"):
                name, eq, value = item.partition("=")
                if not (eq and name and _HCHARS.fullmatch(name) and _HCHARS.fullmatch(value)):
                    raise _bad("header", text)
                headers[_unescape(name)] = _unescape(value)
        return cls(
            host,
            scheme=scheme,
            user=user,
            password=password,
            port=port,
            params=params,
            headers=headers,
        )

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(_escape(self.user, _USER_SAFE))
            if self.password is not None:
                parts += (":", _escape(self.password, _PASSWORD_SAFE))
            parts.append("@")
        parts.append(f"[{self.host}]" if ":" in self.host else self.host)
        if self.port is not None:
            parts.append(f":{self.port}")
        parts.append(_format_params(self.params, _PARAM_SAFE))
        if self.headers:
            parts.append("?")
            parts.append(
                "&".join(
                    f"{_escape(k, _HEADER_SAFE)}={_escape(v, _HEADER_SAFE)}"
                    for k, v in self.headers.items()
                )
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"SipUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4: user and password case-sensitive, host not, params as listed."""
        if not isinstance(other, SipUri):
            return NotImplemented
        if (
            self.scheme != other.scheme
            or self.user != other.user
            or self.password != other.password
            or _host_key(self.host) != _host_key(other.host)
            or self.port != other.port
        ):
            return False
        for name in _MUST_MATCH_PARAMS:
            if _lower(self.params.get(name)) != _lower(other.params.get(name)):
                return False
        for name in self.params.keys() & other.params.keys():
            if _lower(self.params[name]) != _lower(other.params[name]):
                return False
        return {k.lower(): v for k, v in self.headers.items()} == {
            k.lower(): v for k, v in other.headers.items()
        }

    def __hash__(self) -> int:
        return hash((self.scheme, self.user, _host_key(self.host), self.port))


class TelUri:
    """A ``tel:`` URI (RFC 3966): a global ``+number`` or a local one with phone-context."""

    __slots__ = ("number", "params")

    def __init__(self, number: str, params: Params | None = None) -> None:
        self.number = number
        self.params: Params = {} if params is None else params

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @classmethod
    def parse(cls, text: str) -> TelUri:
        """Parse ``tel:number;params``; a local number needs ``phone-context`` (RFC 3966 §5.1.5)."""
        scheme, _, rest = text.partition(":")
        if scheme.lower() != "tel":
            raise _unsupported_or_bad(text)
        number, has_params, params_text = rest.partition(";")
        params: Params = {}
        if has_params:
            for item in params_text.split(";"):
                name, eq, value = item.partition("=")
                if not _PNAME.fullmatch(name) or (eq and not _PARAMCHARS.fullmatch(value)):
                    raise _bad("parameter", text)
                params[name.lower()] = _unescape(value) if eq else None
        if _GLOBAL_NUMBER.fullmatch(number):
            return cls(number, params)
        if _LOCAL_NUMBER.fullmatch(number) and params.get("phone-context"):
            return cls(number, params)
        raise _bad("telephone-subscriber", text)

    def __str__(self) -> str:
        return f"tel:{self.number}{_format_params(self.params, _PARAM_SAFE)}"

    def __repr__(self) -> str:
        return f"TelUri({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """RFC 3966 §4: numbers compared without visual separators, parameters by value."""
        if not isinstance(other, TelUri):
            return NotImplemented
        return _digits(self.number) == _digits(other.number) and {
            k: _lower(v) for k, v in self.params.items()
        } == {k: _lower(v) for k, v in other.params.items()}

    def __hash__(self) -> int:
        return hash(_digits(self.number))


Uri = SipUri | TelUri


def parse_uri(text: str) -> Uri:
    """Parse a sip, sips or tel URI; 416 for another well-formed scheme, 400 if malformed."""
    scheme = uri_scheme(text)
    if scheme in ("sip", "sips"):
        return SipUri.parse(text)
    if scheme == "tel":
        return TelUri.parse(text)
    raise _unsupported_or_bad(text)


def _unsupported_or_bad(text: str) -> RemoteProtocolError:
    scheme = uri_scheme(text)
    if scheme is None or any(c in text for c in ' \t<>"'):
        return RemoteProtocolError(400, f"Malformed URI {text!r}")
    return UnsupportedUriSchemeError(scheme)


def _parse_hostport(hostport: str, text: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise _bad("IPv6 reference", text)
        host, after = hostport[1:end], hostport[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _bad("IPv6 reference", text) from None
    else:
        host = hostport.partition(":")[0]
        after = hostport[len(host) :]
        if not _HOSTNAME.fullmatch(host):
            raise _bad("host", text)
    if not after:
        return host, None
    port_text = after[1:]
    if after[0] != ":" or not port_text.isdigit() or not port_text.isascii():
        raise _bad("port", text)
    port = int(port_text) if len(port_text) <= 5 else 65536
    if port > 65535:
        raise _bad("port", text)
    return host, port


def _host_key(host: str) -> str:
    if ":" in host:
        return ipaddress.IPv6Address(host).compressed
    return host.lower()


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _digits(number: str) -> str:
    return number.translate({ord(c): None for c in "-.()"}).lower()
