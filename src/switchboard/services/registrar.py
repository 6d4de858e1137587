"""The registrar: REGISTER from an authenticated endpoint -> bindings and a response.

Follows RFC 3261 §10.3 with Asterisk 21's choices where a phone can see them: the To user
must be one of the endpoint's ``aors`` (else 404); ``max_contacts=0`` or going over it is
403, unless ``remove_existing=yes``, which drops the contacts that expire soonest to make
room; expiry is raised to ``minimum_expiration`` and capped at ``maximum_expiration``;
``Contact: *`` needs ``Expires: 0`` and no other contact (else 400); the 200 lists every
binding with its remaining ``expires`` and carries a ``Date``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache

from switchboard.config.pjsip import Aor, Endpoint, PjsipConfig
from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus
from switchboard.services.location import LocationService
from switchboard.sip.errors import SipError
from switchboard.sip.memo import Remembered
from switchboard.sip.message import SipRequest, SipResponse, make_response
from switchboard.sip.peer import Peer
from switchboard.sip.uri import MAX_REMEMBERED_URIS, SipUri, sip_user_host, uri_scheme


@dataclass(frozen=True, init=False, slots=True)
class RegistrationRejected(Event):
    """A REGISTER refused after authentication, with the status sent."""

    source: str
    endpoint: str
    aor: str
    status: int
    reason: str

    def __init__(
        self,
        source: str,
        endpoint: str,
        aor: str,
        status: int,
        reason: str,
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "aor", aor)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "reason", reason)


@dataclass(init=False, slots=True)
class _Requested:
    """One Contact of the request, parsed, with its effective expiry."""

    uri: SipUri
    text: str
    expires: int
    existing: Contact | None
    secure: bool
    """``sips:`` or ``transport=tls`` as the phone sent it: to be reached over TLS only."""

    def __init__(
        self,
        uri: SipUri,
        text: str,
        expires: int,
        existing: Contact | None,
        secure: bool,
    ) -> None:
        self.uri = uri
        self.text = text
        self.expires = expires
        self.existing = existing
        self.secure = secure


@dataclass(init=False, slots=True)
class _Attempt:
    """One REGISTER being handled: who sent it, from where, for which AOR."""

    request: SipRequest
    endpoint: Endpoint
    source: Peer
    now: float
    server: str | None
    aor_name: str = ""

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        request: SipRequest,
        endpoint: Endpoint,
        source: Peer,
        now: float,
        server: str | None,
        aor_name: str = "",
    ) -> None:
        self.request = request
        self.endpoint = endpoint
        self.source = source
        self.now = now
        self.server = server
        self.aor_name = aor_name


class Registrar:
    """Applies REGISTER requests to the location service."""

    def __init__(self, pjsip: PjsipConfig, location: LocationService, bus: EventBus) -> None:
        self.pjsip = pjsip
        self.location = location
        self.bus = bus

    def register(
        self,
        request: SipRequest,
        endpoint: Endpoint,
        source: Peer,
        now: float,
        *,
        server: str | None = None,
    ) -> SipResponse:
        """Handle an authenticated REGISTER; ``now`` is wall-clock seconds; ``server`` is
        the Server header value every answer carries (none when None)."""
        attempt = _Attempt(request, endpoint, source, now, server)
        if not endpoint.aors:
            return self._reject(attempt, 403, "endpoint has no aors")
        aor_name = self._aor_name(request, endpoint)
        aor = self.pjsip.aors.get(aor_name) if aor_name is not None else None
        if aor is None or aor_name is None:
            return self._reject(attempt, 404, "no such aor")
        attempt.aor_name = aor_name
        if aor.max_contacts == 0:
            return self._reject(attempt, 403, "max_contacts=0")
        try:
            header_expires = _expires_header(request)
        except ValueError:
            return self._reject(attempt, 400, "bad Expires")
        current = self.location.contacts(aor_name)
        if request.is_wildcard_contact:
            if header_expires != 0 or len(request.headers.get_all("contact")) > 1:
                return self._reject(attempt, 400, "Contact: * needs Expires: 0 alone")
            for contact in current:
                self.location.remove(contact, "unregistered")
            return self._ok(attempt, aor, header_expires)
        try:
            requested = self._requested(attempt, aor, header_expires, current)
        except SipError:
            return self._reject(attempt, 400, "bad Contact")
        touched: set[int] = set()
        added = deleted = 0
        for item in requested:  # one pass: usually a single contact
            if item.expires and item.secure and source.transport != "tls":
                return self._reject(attempt, 403, f"a TLS-only contact over {source.transport}")
            if item.existing is None:
                added += 1 if item.expires else 0
            else:
                touched.add(id(item.existing))
                deleted += 0 if item.expires else 1
        overflow = len(current) + max(added - deleted, 0) - aor.max_contacts
        if overflow > 0:
            spare = [c for c in current if id(c) not in touched]
            if not aor.remove_existing or len(spare) < overflow:
                return self._reject(attempt, 403, "max_contacts reached")
            for contact in spare[:overflow]:
                self.location.remove(contact, "replaced (remove_existing)")
        self._apply(attempt, requested)
        return self._ok(attempt, aor, header_expires)

    def _aor_name(self, request: SipRequest, endpoint: Endpoint) -> str | None:
        """The endpoint's AOR named by the To URI (user, or user@domain), as Asterisk does."""
        try:
            parts = sip_user_host(request.to_uri)
        except SipError:
            return None
        if parts is None:
            return None
        user = parts[0] or ""
        qualified = f"{user}@{parts[1]}"
        for name in endpoint.aors:
            if name in (user, qualified):
                return name
        return None

    def _requested(
        self, attempt: _Attempt, aor: Aor, header_expires: int | None, current: list[Contact]
    ) -> list[_Requested]:
        result: list[_Requested] = []
        for value_uri, param in _contact_values(attempt.request):
            if not value_uri.lower().startswith(("sip:", "sips:")):
                continue
            uri, text, secure = _contact_form(value_uri)
            if attempt.endpoint.rewrite_contact:
                uri = _rewritten(uri, attempt.source)
                text = str(uri)
            expires = _clamp(aor, _contact_expires(param, header_expires, aor))
            existing = None
            for contact in current:
                if contact.uri == text or _same_uri(contact.uri, text, uri):
                    existing = contact
                    break
            result.append(_Requested(uri, text, expires, existing, secure))
        return result

    def _apply(self, attempt: _Attempt, requested: list[_Requested]) -> None:
        now = attempt.now
        for item in requested:
            if item.existing is None:
                if item.expires:
                    new = Contact(
                        attempt.aor_name, item.text, now, attempt.endpoint.name, registered_at=now
                    )
                    self.location.add(_seen(new, attempt, now + item.expires), now)
            elif item.expires:
                self.location.refresh(_seen(item.existing, attempt, now + item.expires), now)
            else:
                self.location.remove(item.existing, "unregistered")

    def _ok(self, attempt: _Attempt, aor: Aor, header_expires: int | None) -> SipResponse:
        now = attempt.now
        headers = [
            ("Contact", f"<{c.uri}>;expires={c.remaining(now)}")
            for c in self.location.contacts(attempt.aor_name)
        ]
        headers.append(("Date", _http_date(int(now))))
        if header_expires is not None:
            headers.append(("Expires", str(_clamp(aor, header_expires))))
        if attempt.server is not None:
            headers.append(("Server", attempt.server))
        request = attempt.request
        return make_response(request, 200, to_tag=_tag(request), headers=headers)

    def _reject(self, attempt: _Attempt, status: int, why: str) -> SipResponse:
        self.bus.publish(
            RegistrationRejected(
                str(attempt.source), attempt.endpoint.name, attempt.aor_name, status, why
            )
        )
        server = attempt.server
        return make_response(
            attempt.request,
            status,
            to_tag=_tag(attempt.request),
            headers=() if server is None else (("Server", server),),
        )


def _secure(uri: SipUri) -> bool:
    """A contact that must only be reached over TLS: ``sips:`` or ``transport=tls``."""
    transport = uri.params.get("transport")
    return uri.scheme.lower() == "sips" or (
        isinstance(transport, str) and transport.lower() == "tls"
    )


def address_of_record_problem(request: SipRequest) -> str | None:
    """Why the To header field of a REGISTER names no address-of-record, or None.

    The AOR MUST be a SIP or SIPS URI (RFC 3261 §10.2), so a registrar answers anything
    else with 400 (RFC 4475 §3.3.4), before authenticating: there is nothing to register.
    """
    uri = request.to_uri
    if uri.startswith(("sip:", "sips:")):
        return None
    scheme = uri_scheme(uri)
    if scheme not in ("sip", "sips"):
        return "To is not a SIP or SIPS URI"
    return None


def _seen(contact: Contact, attempt: _Attempt, expires_at: float) -> Contact:
    """The contact as this REGISTER refreshes it: expiry, dialog ids, where it came from."""
    request, source = attempt.request, attempt.source
    agents = request.headers._index.get("user-agent")
    # Built directly: dataclasses.replace() costs as much as the rest of the refresh; and
    # by position, which Contact's interpreted __init__ binds faster than keywords.
    return Contact(
        contact.aor,
        contact.uri,
        expires_at,
        contact.endpoint,
        request.call_id,  # call_id
        request.cseq.seq,  # cseq
        agents[0] if agents else "",  # user_agent
        source.transport,
        source.host,  # source_host
        source.port,  # source_port
        source.connection_id or 0,  # connection
        contact.path,
        contact.registered_at,
    )


def _same_uri(stored: str, text: str, uri: SipUri) -> bool:
    """Whether a stored contact URI is ``uri`` (RFC 3261 §19.1.4); the same text is, at once."""
    return stored == text or _contact_form(stored)[0] == uri


_contact_forms: Remembered[tuple[SipUri, str, bool]] = Remembered(MAX_REMEMBERED_URIS)


def _contact_form(text: str) -> tuple[SipUri, str, bool]:
    """A Contact URI parsed, written back in its normal form, and whether it is TLS-only;
    remembered per text, since each phone sends the same one in every REGISTER. Raises
    :class:`SipError` when malformed."""
    form = _contact_forms.get(text)
    if form is None:
        uri = SipUri.parse(text)
        form = _contact_forms.put(text, (uri, str(uri), _secure(uri)))
    return form


@lru_cache(maxsize=4)
def _http_date(second: int) -> str:
    """The Date header value for a whole second (the same for every 200 of that second)."""
    return formatdate(second, usegmt=True)


def _tag(request: SipRequest) -> str:
    """A To tag derived from the request, so the same request always gets the same tag."""
    # hex() and zfill(), not an f-string with a format spec: mypyc turns that into
    # str.format, which parses the spec on every call.
    return hex(zlib.crc32(f"{request.call_id} {request.cseq.seq}".encode()))[2:].zfill(8)


def _expires_header(request: SipRequest) -> int | None:
    values = request.headers._index.get("expires")
    if not values:
        return None
    number = int(values[0].strip())
    if number < 0:
        raise ValueError("negative Expires")
    return number


_contact_fields: Remembered[tuple[str, str | None]] = Remembered(MAX_REMEMBERED_URIS)


def _contact_values(request: SipRequest) -> list[tuple[str, str | None]]:
    """(URI, ``expires`` parameter) of each Contact value; a single Contact line is
    remembered, since each phone sends the same one in every REGISTER. Raises
    :class:`SipError` when malformed."""
    values = request.headers._index.get("contact")
    line = values[0] if values is not None and len(values) == 1 else None
    if line is not None and (known := _contact_fields.get(line)) is not None:
        return [known]
    fields = [(value.uri, value.params.get("expires")) for value in request.contacts]
    if line is not None and len(fields) == 1:
        _contact_fields.put(line, fields[0])
    return fields


def _contact_expires(param: str | None, header_expires: int | None, aor: Aor) -> int:
    """The contact's ``expires`` parameter, else the Expires header, else the AOR default."""
    if param is not None:
        try:
            return max(0, int(param))
        except ValueError:
            pass
    return header_expires if header_expires is not None else aor.default_expiration


def _clamp(aor: Aor, expires: int) -> int:
    """0 stays 0 (remove); otherwise raised to the minimum and capped at the maximum."""
    if expires == 0:
        return 0
    return min(max(expires, aor.minimum_expiration), aor.maximum_expiration)


def _rewritten(uri: SipUri, source: Peer) -> SipUri:
    """rewrite_contact=yes: the contact's host and port become where the REGISTER came from."""
    params = dict(uri.params)
    if source.transport != "udp":
        params["transport"] = source.transport
    return SipUri(
        source.host,
        scheme=uri.scheme,
        user=uri.user,
        password=uri.password,
        port=source.port,
        params=params,
        headers=uri.headers,
    )
