"""SIP digest authentication (RFC 2617, RFC 7616, RFC 8760): parse, challenge, compute, verify.

Theory of operation
-------------------
The registrar (or any UAS) calls :meth:`Authenticator.verify` with the request method,
the credentials parsed from ``Authorization``/``Proxy-Authorization`` by
:func:`parse_credentials` (or ``None`` when the request carried none), the secret it looked
up for the credentials' username (``None`` for an unknown user), its realm and ``now``.
The answer is an :class:`AuthResult`: ``OK``, ``STALE`` (answer 401 with ``stale=true`` so
the phone retries silently) or ``FAILED`` (answer the very same 401 challenge whatever the
reason, so user names cannot be probed). The reason is for logs and security events only.

Behaviour follows Asterisk 21's ``res_pjsip_authenticator_digest`` where a phone can see
it: nonces live 32 s by default; a correct digest over an expired or foreign nonce is
``STALE``, not a failure; the challenge carries ``qop="auth"``, ``realm``, ``nonce``,
``opaque`` and ``algorithm``. Beyond Asterisk: SHA-256 is offered before MD5 (RFC 8760
§2.3), nonce-counts are checked for replay (RFC 7616, "Replay Attacks"), unknown users
cost the same hashing as known ones, and every comparison of secrets is constant-time.

Nothing here does I/O: the clock and the entropy for nonces are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from switchboard.sip.nonce import (
    MAX_TRACKED_NONCES,
    NONCE_LIFETIME,
    NcStatus,
    NonceCountTracker,
    NonceFactory,
    NonceStatus,
)

__all__ = [
    "AuthResult",
    "Authenticator",
    "DigestAlgorithm",
    "DigestCredentials",
    "DigestParseError",
    "DigestSecret",
    "Outcome",
    "Reason",
    "build_challenge",
    "compute_ha1",
    "compute_response",
    "find_credentials",
    "format_credentials",
    "parse_credentials",
]


class DigestParseError(ValueError):
    """An ``Authorization``/``Proxy-Authorization`` value that is not valid Digest credentials.

    The request carrying it is answered ``400 Bad Request`` (``status_code``).
    """

    status_code: ClassVar[int] = 400


def _md5(data: bytes) -> str:
    """Return MD5(data) as lower-case hex (RFC 2617 H for "MD5")."""
    return hashlib.md5(data).hexdigest()


def _sha256(data: bytes) -> str:
    """Return SHA-256(data) as lower-case hex (RFC 7616 H for "SHA-256")."""
    return hashlib.sha256(data).hexdigest()


def _sha512_256(data: bytes) -> str:
    """Return SHA-512/256(data) as lower-case hex (RFC 7616 H for "SHA-512-256")."""
    return hashlib.new("sha512_256", data).hexdigest()


class DigestAlgorithm(Enum):
    """The ``algorithm`` tokens of the IANA HTTP Digest Algorithm registry that SIP uses."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    @property
    def sess(self) -> bool:
        """True for the ``-sess`` variants, whose HA1 also covers nonce and cnonce."""
        return self.value.endswith("-sess")

    @property
    def hash(self) -> Callable[[bytes], str]:
        """Return H(): the hex digest function for this algorithm."""
        return _HASH_OF[self]

    @classmethod
    def from_token(cls, token: str) -> DigestAlgorithm | None:
        """Return the algorithm named by ``token`` (case-insensitive), or None if unknown."""
        return _ALGORITHM_BY_TOKEN.get(token.lower())


_HASH_OF: dict[DigestAlgorithm, Callable[[bytes], str]] = {
    DigestAlgorithm.MD5: _md5,
    DigestAlgorithm.MD5_SESS: _md5,
    DigestAlgorithm.SHA_256: _sha256,
    DigestAlgorithm.SHA_256_SESS: _sha256,
    DigestAlgorithm.SHA_512_256: _sha512_256,
    DigestAlgorithm.SHA_512_256_SESS: _sha512_256,
}
_ALGORITHM_BY_TOKEN = {a.value.lower(): a for a in DigestAlgorithm}
_MD5_FAMILY = frozenset((DigestAlgorithm.MD5, DigestAlgorithm.MD5_SESS))
_SESS = frozenset(a for a in DigestAlgorithm if a.sess)

OFFERED_ALGORITHMS = (DigestAlgorithm.SHA_256, DigestAlgorithm.MD5)
"""Challenges offered by default, most preferred first (RFC 8760 §2.3)."""


# --- Parsing ------------------------------------------------------------------------------
#
# RFC 3261 §25.1:
#   token          =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
#   LWS            =  [*WSP CRLF] 1*WSP
#   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
#   qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
#   quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
# RFC 3261 §25.1 (Authorization) as updated by RFC 8760:
#   Authorization     =  "Authorization" HCOLON credentials
#   credentials       =  ("Digest" LWS digest-response) / other-response
#   digest-response   =  dig-resp *(COMMA dig-resp)
#   dig-resp          =  username / realm / nonce / digest-uri / dresponse / algorithm
#                        / cnonce / opaque / message-qop / nonce-count / auth-param
#   auth-param        =  auth-param-name EQUAL ( token / quoted-string )
#   nonce-count       =  "nc" EQUAL 8LHEX

_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_LWS = r"[ \t\r\n]*"
_QDTEXT = r'[^"\\\x00-\x08\x0a-\x1f\x7f]'
_QUOTED_PAIR_RE = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"
# One dig-resp and its COMMA (or the end); any other character is caught by the last group so
# that scanning stops at the first error (linear time, however long the junk).
_DIG_RESP = re.compile(
    f"{_LWS}({_TOKEN}){_LWS}={_LWS}"
    f'(?:"({_QDTEXT}*(?:{_QUOTED_PAIR_RE}{_QDTEXT}*)*)"|({_TOKEN}))'
    f"{_LWS}(,|\\Z)"
    r"|([\s\S])"
)
_SCHEME = re.compile(r"[ \t\r\n]*(" + _TOKEN + r")[ \t\r\n]+")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_TOKEN_ONLY = re.compile(_TOKEN + r"\Z")
_NC = re.compile(r"[0-9A-Fa-f]{8}\Z")
_REQUIRED = ("username", "realm", "nonce", "uri", "response")
_WIRE = "surrogateescape"
"""Error handler that turns text decoded with it back into the exact bytes on the wire."""


@dataclass(frozen=True, init=False, slots=True)
class DigestCredentials:
    """The parameters of one ``Digest`` credentials value, unquoted (RFC 3261 §22.4)."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    cnonce: str | None = None
    qop: str | None = None
    nc: str | None = None
    opaque: str | None = None

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        username: str,
        realm: str,
        nonce: str,
        uri: str,
        response: str,
        algorithm: str = "MD5",
        cnonce: str | None = None,
        qop: str | None = None,
        nc: str | None = None,
        opaque: str | None = None,
    ) -> None:
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "realm", realm)
        object.__setattr__(self, "nonce", nonce)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "response", response)
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "cnonce", cnonce)
        object.__setattr__(self, "qop", qop)
        object.__setattr__(self, "nc", nc)
        object.__setattr__(self, "opaque", opaque)

    @property
    def digest_algorithm(self) -> DigestAlgorithm | None:
        """Return the algorithm the client used, or None when we do not implement it."""
        return _ALGORITHM_BY_TOKEN.get(self.algorithm.lower())

    @property
    def nc_value(self) -> int | None:
        """Return the nonce-count as an integer (``nc`` is 8 hex digits), if present."""
        return None if self.nc is None else int(self.nc, 16)


_QUICK_NAME = "(username|realm|nonce|uri|response|algorithm|cnonce|qop|nc|opaque)"
_QUICK_ITEM = rf'{_QUICK_NAME}=(?:"([ !#-+\--\[\]-~]*)"|({_TOKEN}))'
"""A known parameter, lower-case, and its value: a token, or quoted printable ASCII
without quotes, commas or backslashes inside."""
_QUICK_ITEMS = re.compile(rf"Digest {_QUICK_ITEM}(?:, ?{_QUICK_ITEM})*")
_QUICK_FIND = re.compile(_QUICK_ITEM)


def _params_quickly(value: str) -> dict[str, str] | None:
    """The parameters of the usual credentials (``Digest``, known lower-case names after a
    comma or a comma and space, token values or quoted ones without escapes or commas)
    read by two regular expression calls; None for anything else, which
    :func:`_params_by_grammar` reads and, if need be, refuses."""
    if _QUICK_ITEMS.fullmatch(value) is None:
        return None
    found = _QUICK_FIND.findall(value, 7)
    params = {name: quoted or token for name, quoted, token in found}
    return params if len(params) == len(found) else None  # else a name came twice


def _params_by_grammar(value: str) -> tuple[dict[str, str], str]:
    """The parameters by the RFC 3261 grammar, and the separator after the last one."""
    try:
        value.encode("utf-8", _WIRE)
    except UnicodeEncodeError as error:
        raise DigestParseError(
            f"expected UTF-8 text, found a lone surrogate at offset {error.start}"
        ) from None
    scheme = _SCHEME.match(value)
    if scheme is None:
        raise DigestParseError(f"expected 'Digest' and credentials, found {value[:40]!r}")
    if scheme.group(1).lower() != "digest":
        raise DigestParseError(f"expected scheme 'Digest', found {scheme.group(1)[:40]!r}")
    params: dict[str, str] = {}
    separator = ","
    for match in _DIG_RESP.finditer(value, scheme.end()):
        if match.group(5) is not None:  # junk: nothing else matched, separator included
            pos = match.start()
            raise DigestParseError(
                f'expected name=token or name="quoted" at offset {pos}, '
                f"found {value[pos : pos + 40]!r}"
            )
        name, quoted, token, separator = match.group(1, 2, 3, 4)
        name = name.lower()
        if name in params:
            raise DigestParseError(f"expected each parameter once, found {name!r} twice")
        if quoted is None:
            params[name] = token
        elif "\\" in quoted:
            params[name] = _QUOTED_PAIR.sub(r"\1", quoted)
        else:
            params[name] = quoted
    return params, separator


def parse_credentials(value: str) -> DigestCredentials:
    """Parse an ``Authorization``/``Proxy-Authorization`` value; raise DigestParseError if bad."""
    params = _params_quickly(value)
    separator = ""
    if params is None:
        params, separator = _params_by_grammar(value)
    if not params:
        raise DigestParseError('expected name=token or name="quoted", found nothing')
    if separator:
        raise DigestParseError("expected a parameter after the last comma, found the end")
    for name in _REQUIRED:
        if name not in params:
            raise DigestParseError(f"expected a {name!r} parameter, found none")
    qop = params.get("qop")
    nc = params.get("nc")
    cnonce = params.get("cnonce")
    if nc is not None and _NC.match(nc) is None:
        raise DigestParseError(f"expected nc as 8 hex digits, found {nc[:40]!r}")
    if qop is not None and (nc is None or cnonce is None):
        raise DigestParseError("expected 'nc' and 'cnonce' with 'qop', found them missing")
    return DigestCredentials(  # positional: keyword arguments cost a microsecond here
        params["username"],
        params["realm"],
        params["nonce"],
        params["uri"],
        params["response"],
        params.get("algorithm", "MD5"),
        cnonce,
        qop,
        nc,
        params.get("opaque"),
    )


def find_credentials(values: Iterable[str], realm: str) -> DigestCredentials | None:
    """Return the credentials for ``realm`` among a request's header values (RFC 3261 §22.4).

    A request may carry one ``Authorization`` per realm; when none is for ``realm`` the first
    is returned so that verification reports a realm mismatch. Values in a scheme other
    than Digest are skipped: a server that does not know a scheme challenges with one it
    knows (RFC 4475 §3.3.7). Raises DigestParseError for malformed Digest credentials.
    """
    first: DigestCredentials | None = None
    for value in values:
        if value[:7] != "Digest ":
            scheme = _SCHEME.match(value)
            if scheme is not None and scheme.group(1).lower() != "digest":
                continue
        credentials = parse_credentials(value)
        if credentials.realm == realm:
            return credentials
        if first is None:
            first = credentials
    return first


def _quote(text: str) -> str:
    """Return ``text`` as an RFC 3261 quoted-string, escaping ``"`` and ``\\``."""
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _token_or_quoted(text: str) -> str:
    """Return ``text`` bare when it is a token, else quoted (for algorithm, qop, nc)."""
    return text if _TOKEN_ONLY.match(text) else _quote(text)


def format_credentials(credentials: DigestCredentials) -> str:
    """Serialize credentials as an ``Authorization`` value (the UAC side, and for tests)."""
    parts = [
        f"username={_quote(credentials.username)}",
        f"realm={_quote(credentials.realm)}",
        f"nonce={_quote(credentials.nonce)}",
        f"uri={_quote(credentials.uri)}",
        f"response={_quote(credentials.response)}",
        f"algorithm={_token_or_quoted(credentials.algorithm)}",
    ]
    if credentials.cnonce is not None:
        parts.append(f"cnonce={_quote(credentials.cnonce)}")
    if credentials.opaque is not None:
        parts.append(f"opaque={_quote(credentials.opaque)}")
    if credentials.qop is not None:
        parts.append(f"qop={_token_or_quoted(credentials.qop)}")
    if credentials.nc is not None:
        parts.append(f"nc={credentials.nc}")
    return "Digest " + ",".join(parts)


def build_challenge(
    realm: str,
    nonce: str,
    *,
    algorithm: DigestAlgorithm = DigestAlgorithm.MD5,
    opaque: str | None = None,
    stale: bool = False,
    qop: str = "auth",
) -> str:
    """Return a ``WWW-Authenticate``/``Proxy-Authenticate`` value (pjsip's parameter order)."""
    parts = [f"realm={_quote(realm)}", f"nonce={_quote(nonce)}"]
    if opaque is not None:
        parts.append(f"opaque={_quote(opaque)}")
    if stale:
        parts.append("stale=true")
    parts.append(f"algorithm={algorithm.value}")
    parts.append(f"qop={_quote(qop)}")
    return "Digest " + ",".join(parts)


# --- Computing --------------------------------------------------------------------------


def compute_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """Return HA1 = H(username:realm:password), as stored by Asterisk's ``md5_cred``."""
    return _HASH_OF[algorithm](f"{username}:{realm}:{password}".encode("utf-8", _WIRE))


def compute_response(
    algorithm: DigestAlgorithm,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    *,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    entity_body: bytes = b"",
) -> str:
    """Return request-digest (RFC 7616 §3.4.1; RFC 2069 form when ``qop`` is None).

    ``ha1`` is H(username:realm:password); the ``-sess`` step is applied here.
    """
    h = _HASH_OF[algorithm]  # not the properties: two Python calls per request
    if algorithm in _SESS:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}".encode("utf-8", _WIRE))
    if qop is not None and qop.lower() == "auth-int":
        ha2 = h(f"{method}:{uri}:{h(entity_body)}".encode("utf-8", _WIRE))
    else:
        ha2 = h(f"{method}:{uri}".encode("utf-8", _WIRE))
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}".encode("utf-8", _WIRE))
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode("utf-8", _WIRE))


@dataclass(frozen=True, slots=True)
class DigestSecret:
    """A user's stored secret: ``password`` (auth_type=userpass) or ``md5_cred`` (HA1 hex)."""

    password: str | None = None
    md5_cred: str | None = None

    def ha1(self, algorithm: DigestAlgorithm, username: str, realm: str) -> str | None:
        """Return HA1 for ``algorithm``, or None if this secret cannot serve it."""
        if self.password is not None:
            return compute_ha1(algorithm, username, realm, self.password)
        if self.md5_cred is not None and algorithm in _MD5_FAMILY:
            return self.md5_cred.lower()
        return None

    def __repr__(self) -> str:
        """Keep secrets out of logs and tracebacks."""
        kind = "password" if self.password is not None else "md5_cred"
        return f"DigestSecret({kind}=<hidden>)"


# --- Verifying --------------------------------------------------------------------------


class Outcome(Enum):
    """What the UAS does next: accept, re-challenge with stale=true, or re-challenge."""

    OK = "ok"
    STALE = "stale"
    FAILED = "failed"


class Reason(Enum):
    """Why a request was not accepted: for logs and security events, never for the phone."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    NO_CREDENTIALS = "no credentials"
    UNKNOWN_USER = "unknown user"
    WRONG_PASSWORD = "wrong password"
    BAD_NONCE = "bad nonce"
    STALE_NONCE = "stale nonce"
    REPLAYED_NC = "replayed nc"
    UNTRACKED_NC = "untracked nc"
    REALM_MISMATCH = "realm mismatch"
    URI_MISMATCH = "uri mismatch"
    UNSUPPORTED_ALGORITHM = "unsupported algorithm"
    UNSUPPORTED_QOP = "unsupported qop"
    NO_SECRET_FOR_ALGORITHM = "no secret for algorithm"


@dataclass(frozen=True, init=False, slots=True)
class AuthResult:
    """The verdict on one request's credentials: an outcome and, unless OK, a reason."""

    outcome: Outcome
    reason: Reason | None = None

    def __init__(
        self,
        outcome: Outcome,
        reason: Reason | None = None,
    ) -> None:
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "reason", reason)

    @property
    def ok(self) -> bool:
        """True when the request is authenticated."""
        return self.outcome is Outcome.OK

    @property
    def stale(self) -> bool:
        """True when the challenge must carry ``stale=true``."""
        return self.outcome is Outcome.STALE


_OK = AuthResult(Outcome.OK)
_FAILED = {r: AuthResult(Outcome.FAILED, r) for r in Reason}
_STALE = {r: AuthResult(Outcome.STALE, r) for r in Reason}
_QOPS = frozenset(("auth", "auth-int"))


class Authenticator:
    """Pure digest authenticator: builds challenges and judges credentials against them."""

    __slots__ = (
        "_dummy_password",
        "_opaque",
        "_templates",
        "accepted",
        "nonces",
        "offered",
        "require_qop",
        "tracker",
    )

    def __init__(
        self,
        secret: bytes,
        *,
        nonce_lifetime: float = NONCE_LIFETIME,
        offered: Sequence[DigestAlgorithm] = OFFERED_ALGORITHMS,
        accepted: Iterable[DigestAlgorithm] | None = None,
        max_tracked_nonces: int = MAX_TRACKED_NONCES,
        require_qop: bool = False,
        previous_secrets: Sequence[bytes] = (),
    ) -> None:
        """Sign nonces with ``secret``; offer ``offered`` and accept ``accepted`` (default all)."""
        if not offered:
            raise ValueError("expected at least one offered algorithm, found none")
        self.nonces = NonceFactory(
            secret, lifetime=nonce_lifetime, previous_secrets=previous_secrets
        )
        self.tracker = NonceCountTracker(max_entries=max_tracked_nonces, lifetime=nonce_lifetime)
        self.offered = tuple(offered)
        self.accepted = frozenset(DigestAlgorithm if accepted is None else accepted)
        self.require_qop = require_qop
        self._opaque: dict[str, str] = {}
        self._templates: dict[tuple[str, bool, tuple[DigestAlgorithm, ...]], list[tuple[str, str]]]
        self._templates = {}
        # Unknown users are hashed with this unguessable password (derived, never stored).
        self._dummy_password = hmac.digest(secret, b"dummy password", "sha256").hex()

    def opaque(self, realm: str) -> str:
        """Return the ``opaque`` sent with every challenge for ``realm``."""
        value = self._opaque.get(realm)
        if value is None:
            value = self._opaque[realm] = self.nonces.make_opaque(realm)
        return value

    def challenge(
        self, realm: str, now: float, salt: bytes, *, stale: bool = False, bind: bytes = b""
    ) -> list[str]:
        """Return one challenge value per offered algorithm, sharing a fresh nonce."""
        nonce = self.nonces.issue(now, salt, realm, bind)
        key = (realm, stale, self.offered)
        templates = self._templates.get(key)
        if templates is None:
            # Each value around a placeholder nonce (ours never need quoting): per
            # challenge only the nonce is new.
            opaque = self.opaque(realm)
            values = [
                build_challenge(realm, "\x00", algorithm=a, opaque=opaque, stale=stale)
                for a in self.offered
            ]
            templates = self._templates[key] = [
                (v.partition("\x00")[0], v.partition("\x00")[2]) for v in values
            ]
        return [before + nonce + after for before, after in templates]

    def verify(
        self,
        method: str,
        credentials: DigestCredentials | None,
        secret: DigestSecret | None,
        realm: str,
        now: float,
        *,
        bind: bytes = b"",
        entity_body: bytes = b"",
    ) -> AuthResult:
        """Judge ``credentials`` for a ``method`` request; record the nc when accepted."""
        if credentials is None:
            return _FAILED[Reason.NO_CREDENTIALS]
        if credentials.realm != realm:
            return _FAILED[Reason.REALM_MISMATCH]
        algorithm = _ALGORITHM_BY_TOKEN.get(credentials.algorithm.lower())
        if algorithm is None or algorithm not in self.accepted:
            return _FAILED[Reason.UNSUPPORTED_ALGORITHM]
        qop = credentials.qop
        if qop is None:
            if self.require_qop:
                return _FAILED[Reason.UNSUPPORTED_QOP]
        elif qop.lower() not in _QOPS:
            return _FAILED[Reason.UNSUPPORTED_QOP]
        nonce = credentials.nonce
        nonce_status = self.nonces.check(nonce, now, realm, bind)

        # Hash as much for an unknown user as for a known one, so timing tells nothing.
        ha1 = None if secret is None else secret.ha1(algorithm, credentials.username, realm)
        usable = ha1 is not None
        if ha1 is None:
            ha1 = compute_ha1(algorithm, credentials.username, realm, self._dummy_password)
        expected = compute_response(
            algorithm,
            ha1,
            nonce,
            method,
            credentials.uri,
            qop=qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
            entity_body=entity_body,
        )
        matched = hmac.compare_digest(
            expected.encode(), credentials.response.lower().encode("utf-8", _WIRE)
        )
        if secret is None:
            return _FAILED[Reason.UNKNOWN_USER]
        if not usable:
            return _FAILED[Reason.NO_SECRET_FOR_ALGORITHM]
        if not matched:
            if nonce_status is NonceStatus.INVALID:
                return _FAILED[Reason.BAD_NONCE]
            return _FAILED[Reason.WRONG_PASSWORD]
        # The digest is right: the phone knows the password, so a nonce problem is stale.
        if nonce_status is NonceStatus.INVALID:
            return _STALE[Reason.BAD_NONCE]
        if nonce_status is NonceStatus.STALE:
            return _STALE[Reason.STALE_NONCE]
        nc = credentials.nc_value
        if nc is not None and qop is not None:
            nc_status = self.tracker.advance(nonce, nc, now)
            if nc_status is NcStatus.REPLAYED:
                return _FAILED[Reason.REPLAYED_NC]
            if nc_status is NcStatus.UNTRACKED:
                return _STALE[Reason.UNTRACKED_NC]
        return _OK
