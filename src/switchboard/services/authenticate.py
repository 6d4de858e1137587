"""Who is asking, and can they prove it: endpoint identification by user name and digest
authentication, as Asterisk 21's res_pjsip does it where a phone can observe it.

Unknown users, wrong passwords and missing credentials all get the same 401 challenge, so
user names cannot be probed; the real reason goes to an :class:`AuthFailed` event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from switchboard.config.pjsip import Auth, Endpoint, Global, PjsipConfig
from switchboard.core.events import Event, EventBus
from switchboard.diagnostics import Location
from switchboard.sip.digest import (
    Authenticator,
    AuthResult,
    DigestAlgorithm,
    DigestCredentials,
    DigestParseError,
    DigestSecret,
    Outcome,
    Reason,
    find_credentials,
)
from switchboard.sip.errors import SipError
from switchboard.sip.message import SipRequest
from switchboard.sip.peer import Peer
from switchboard.sip.uri import sip_user_host


@dataclass(frozen=True, init=False, slots=True)
class AuthFailed(Event):
    """A request whose credentials were wrong (for the security service)."""

    source: str
    host: str
    username: str
    method: str
    reason: str

    def __init__(
        self,
        source: str,
        host: str,
        username: str,
        method: str,
        reason: str,
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "reason", reason)


_NO_CREDENTIALS = AuthResult(Outcome.FAILED, Reason.NO_CREDENTIALS)


class Verdict(Enum):
    ACCEPTED = "accepted"
    CHALLENGE = "challenge"
    STALE = "stale"
    BAD_REQUEST = "bad request"


@dataclass(frozen=True, init=False, slots=True)
class AuthDecision:
    """The endpoint a request belongs to (None if unknown) and what to answer."""

    verdict: Verdict
    endpoint: Endpoint | None
    challenge: list[str]

    def __init__(
        self,
        verdict: Verdict,
        endpoint: Endpoint | None,
        challenge: list[str],
    ) -> None:
        object.__setattr__(self, "verdict", verdict)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "challenge", challenge)


def from_user(request: SipRequest) -> str | None:
    """The user part of the From URI: Asterisk's identify_by=username key."""
    try:
        text = request.from_uri
    except SipError:
        return None
    parts = sip_user_host(text)
    return None if parts is None else parts[0]


class EndpointAuthenticator:
    """Identifies the endpoint of a request and checks its digest credentials."""

    def __init__(
        self,
        pjsip: PjsipConfig,
        bus: EventBus,
        secret: bytes,
        salt: Callable[[], bytes],
    ) -> None:
        self.bus = bus
        self.salt = salt
        self.digest = Authenticator(secret, offered=_offered(pjsip))
        self.reconfigure(pjsip)

    def reconfigure(self, pjsip: PjsipConfig) -> None:
        """Take a reloaded pjsip.conf: new endpoints, passwords and realm apply from the
        next request; the nonce key and the nonces already handed out stay valid."""
        self.pjsip = pjsip
        settings = pjsip.global_ or Global("global", Location("pjsip.conf", 0))
        self.realm = settings.default_realm
        self.digest.offered = tuple(_offered(pjsip))
        by_username: dict[str, Endpoint] = {}
        auths_of: dict[str, tuple[tuple[Auth, DigestSecret], ...]] = {}
        for endpoint in pjsip.endpoints.values():
            auths_of[endpoint.name] = _auths(pjsip, endpoint)
            for auth_name in endpoint.auth:
                auth = pjsip.auths.get(auth_name)
                if auth is not None and auth.username:
                    by_username.setdefault(auth.username, endpoint)
        self._by_username = by_username
        self._auths_of = auths_of

    def identify(
        self, request: SipRequest, credentials: DigestCredentials | None
    ) -> Endpoint | None:
        """The endpoint named by the From user, else by the digest user name."""
        user = from_user(request)
        endpoint = self.pjsip.endpoints.get(user) if user is not None else None
        if endpoint is None and credentials is not None:
            endpoint = self._by_username.get(credentials.username)
        return endpoint

    def check(self, request: SipRequest, source: Peer, now: float) -> AuthDecision:
        """Authenticate ``request``; ``now`` is wall-clock seconds (nonces outlive a process)."""
        values = request.headers._index.get("authorization")
        try:
            credentials = None if values is None else find_credentials(values, self.realm)
        except DigestParseError:
            return AuthDecision(Verdict.BAD_REQUEST, None, [])
        endpoint = self.identify(request, credentials)
        if endpoint is not None and not endpoint.auth:
            return AuthDecision(Verdict.ACCEPTED, endpoint, [])
        if credentials is None:
            result = _NO_CREDENTIALS  # what verify() says without credentials, at once
        else:
            secret = self._secret_for(endpoint, credentials)
            result = self.digest.verify(request.method, credentials, secret, self.realm, now)
            if result.outcome is Outcome.OK:
                return AuthDecision(Verdict.ACCEPTED, endpoint, [])
        if credentials is not None and result.outcome is not Outcome.STALE:
            reason = result.reason.value if result.reason is not None else "failed"
            self.bus.publish(
                AuthFailed(str(source), source.host, credentials.username, request.method, reason)
            )
        elif credentials is None and endpoint is None:
            # No phone of ours asks as a user we do not have: this is a scan (Asterisk
            # raises InvalidAccountID here too). The answer stays the same challenge.
            self.bus.publish(
                AuthFailed(
                    str(source),
                    source.host,
                    from_user(request) or "",
                    request.method,
                    "unknown user",
                )
            )
        stale = result.outcome is Outcome.STALE
        challenge = self.digest.challenge(self.realm, now, self.salt(), stale=stale)
        verdict = Verdict.STALE if stale else Verdict.CHALLENGE
        return AuthDecision(verdict, None, challenge)

    def _secret_for(
        self, endpoint: Endpoint | None, credentials: DigestCredentials | None
    ) -> DigestSecret | None:
        """The secret of the endpoint's auth for the credentials' user name (its first
        auth without credentials); None when there is none to check against."""
        if endpoint is None:
            return None
        auths = self._auths_of.get(endpoint.name)
        if auths is None:  # an endpoint object from before a reload
            auths = _auths(self.pjsip, endpoint)
        if not auths:
            return None
        if credentials is None:
            return auths[0][1]
        for auth, secret in auths:
            if auth.username == credentials.username:
                return secret
        return None


def _auths(pjsip: PjsipConfig, endpoint: Endpoint) -> tuple[tuple[Auth, DigestSecret], ...]:
    """The endpoint's auth sections that exist, each with its secret, in its order."""
    return tuple(
        (pjsip.auths[n], _secret(pjsip.auths[n])) for n in endpoint.auth if n in pjsip.auths
    )


def _offered(pjsip: PjsipConfig) -> list[DigestAlgorithm]:
    """The algorithms to challenge with (``default_auth_algorithms_uas`` of ``[global]``)."""
    settings = pjsip.global_ or Global("global", Location("pjsip.conf", 0))
    return [DigestAlgorithm(name) for name in settings.default_auth_algorithms_uas]


def _secret(auth: Auth) -> DigestSecret:
    if auth.auth_type == "md5":
        return DigestSecret(md5_cred=auth.md5_cred)
    return DigestSecret(password=auth.password)
