"""Web console sessions: a signed, expiring value in an HttpOnly, SameSite=Strict cookie.

An admin logs in with an API token (the session remembers the token's name and creation
time, so revoking the token ends the session at once); a user logs in with a mailbox and
its voicemail PIN and may only reach that mailbox. The signature is an HMAC-SHA256 with a
key the process makes at start (sessions end with the process, like a restart's logout).
Requests that change something by cookie must carry :data:`CONSOLE_HEADER`, which a
cross-site form cannot send and a cross-site ``fetch`` cannot send without a CORS
pre-flight this server never grants: with SameSite=Strict, that is the CSRF defence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from switchboard.api.service import ApiContext

COOKIE = "switchboard_session"
CONSOLE_HEADER = "x-switchboard-console"
"""Header (value ``1``) the console's JavaScript sends with every request."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 8 * 3600
"""How long a login lasts."""
MAX_COOKIE = 4096

Role = Literal["admin", "user"]


@dataclass(frozen=True, slots=True)
class Session:
    """Who is logged in: ``admin`` (subject: the token's name) or ``user`` (subject: the
    mailbox address ``box@context``)."""

    role: Role
    subject: str
    issued_for: float
    """The token's creation time (admin), so a token revoked and re-made ends old sessions."""
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks session cookie values (``payload.signature``, both base64url)."""

    def __init__(
        self, key: bytes, clock: Callable[[], float], lifetime: float = SESSION_SECONDS
    ) -> None:
        self.key = key
        self.clock = clock
        self.lifetime = lifetime

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def issue(self, role: Role, subject: str, issued_for: float = 0.0) -> str:
        expires = self.clock() + self.lifetime
        payload = _b64(json.dumps([role, subject, issued_for, expires]).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, value: str | None) -> Session | None:
        """The session a cookie value holds; None when missing, forged or expired."""
        if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            role, subject, issued_for, expires = json.loads(_unb64(payload))
        except (ValueError, TypeError, binascii.Error):
            return None
        if role not in ("admin", "user") or not isinstance(subject, str):
            return None
        if not isinstance(expires, int | float) or expires <= self.clock():
            return None
        return Session(role, subject, float(issued_for), float(expires))


def session_of(connection: HTTPConnection) -> Session | None:
    """The console session of a request or WebSocket, still backed by a live token or an
    existing mailbox; None otherwise."""
    signer: SessionSigner | None = getattr(connection.app.state, "sessions", None)
    if signer is None:
        return None
    session = signer.verify(connection.cookies.get(COOKIE))
    if session is None:
        return None
    context: ApiContext = connection.app.state.context
    if session.role == "admin":
        live = any(
            info.name == session.subject and info.created == session.issued_for
            for info in context.tokens.list()
        )
        return session if live else None
    voicemail = context.voicemail
    if voicemail is None or voicemail.mailbox(session.subject) is None:
        return None
    return session


def owns_mailbox(connection: HTTPConnection, session: Session, reference: str) -> bool:
    """Whether ``reference`` (``101`` or ``101@default``) names the session's own mailbox."""
    context: ApiContext = connection.app.state.context
    if session.role != "user" or context.voicemail is None:
        return False
    mailbox = context.voicemail.mailbox(reference)
    return mailbox is not None and mailbox.address == session.subject


def same_origin(connection: HTTPConnection) -> bool:
    """Whether a WebSocket handshake comes from a page of this server (its ``Origin`` names
    the ``Host`` it connects to); browsers always send ``Origin`` on WebSockets."""
    origin = connection.headers.get("origin", "")
    host = connection.headers.get("host", "")
    _scheme, _, rest = origin.partition("://")
    return bool(host) and rest == host
