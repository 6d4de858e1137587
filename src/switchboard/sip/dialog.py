"""Dialogs (RFC 3261 §12): identity, state, route set, target and the two CSeq spaces.

Theory of operation. A dialog is identified by Call-ID, local tag and remote tag. The UAS
creates it from an INVITE it answers with a To tag (§12.1.1); the UAC creates one per
remote tag from a 1xx carrying a To tag or from a 2xx (§12.1.2), so a forked INVITE may
own several early dialogs. The state follows a table in the style of the transaction
machines: ``(state, input) -> next_state``; a missing pair changes nothing and
:meth:`Dialog.process` returns False.

The route set comes from Record-Route (reversed for the UAC), the remote target from
Contact. :meth:`Dialog.create_request` builds in-dialog requests with the §12.2.1.1
Request-URI and Route (loose routing, or the strict-router rewrite), and
:meth:`Dialog.check_request` applies §12.2.2 (500 for an out-of-order CSeq). Target
refresh requests (re-INVITE, UPDATE) change the remote target once accepted.

Sending is left to the caller: :attr:`Dialog.next_hop` is the URI to resolve (RFC 3263)
into a transport address.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import NamedTuple

from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.headers import NameAddress, SipHeaders
from switchboard.sip.message import SipMessage, SipRequest, SipResponse
from switchboard.sip.uri import SipUri, parse_uri

MAX_FORWARDS = 70
_MAX_FORWARDS_TEXT = str(MAX_FORWARDS)
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
"""Requests whose Contact replaces the remote target once accepted (RFC 3261 §12.2, RFC 3311)."""


class DialogState(Enum):
    """Dialog states of RFC 3261 §12."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    EARLY = "Early"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class DialogInput(Enum):
    """What moves a dialog: responses to the INVITE that created it, BYE, failures."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    PROVISIONAL = "1xx with a To tag"
    SUCCESS = "2xx to the INVITE"
    FAILURE = "300-699 to the INVITE"
    BYE = "BYE sent or received"
    GONE = "481 or 408 to an in-dialog request, or the session expired"


EARLY = DialogState.EARLY
CONFIRMED = DialogState.CONFIRMED
TERMINATED = DialogState.TERMINATED

TRANSITIONS: dict[tuple[DialogState, DialogInput], DialogState] = {
    (EARLY, DialogInput.PROVISIONAL): EARLY,
    (EARLY, DialogInput.SUCCESS): CONFIRMED,
    (EARLY, DialogInput.FAILURE): TERMINATED,
    (EARLY, DialogInput.BYE): TERMINATED,
    (EARLY, DialogInput.GONE): TERMINATED,
    # A late 1xx, or the retransmitted 2xx, to an INVITE already answered.
    (CONFIRMED, DialogInput.PROVISIONAL): CONFIRMED,
    (CONFIRMED, DialogInput.SUCCESS): CONFIRMED,
    (CONFIRMED, DialogInput.BYE): TERMINATED,
    (CONFIRMED, DialogInput.GONE): TERMINATED,
}
"""``(state, input) -> next state``; pairs not listed are ignored (RFC 3261 §12, §13.2.2.4)."""


class DialogId(NamedTuple):
    """Call-ID, local tag, remote tag (RFC 3261 §12)."""

    call_id: str
    local_tag: str
    remote_tag: str


def request_dialog_id(request: SipRequest) -> DialogId | None:
    """The id of the dialog an incoming request belongs to, None outside any (no To tag)."""
    to_tag = request.to_tag
    if to_tag is None:
        return None
    return DialogId(request.call_id, to_tag, request.from_tag or "")


def response_dialog_id(response: SipResponse) -> DialogId | None:
    """The id of the dialog an incoming response belongs to, None without a To tag."""
    to_tag = response.to_tag
    if to_tag is None:
        return None
    return DialogId(response.call_id, response.from_tag or "", to_tag)


def _without_tag(value: str) -> NameAddress:
    address = NameAddress.parse(value, strict=False)
    address.params.pop("tag", None)
    return address


def _contact_uri(message: SipMessage) -> str | None:
    contacts = message.contacts
    return contacts[0].uri if contacts else None


def is_loose_route(route: str) -> bool:
    """Whether a Route/Record-Route value names a loose router (``;lr``, RFC 3261 §16.12)."""
    try:
        uri = parse_uri(NameAddress.parse(route, strict=False).uri)
    except RemoteProtocolError:
        return True  # not a SIP URI: nothing to rewrite, keep it as a Route
    return not isinstance(uri, SipUri) or "lr" in uri.params


def strict_request_uri(route: str) -> str:
    """The URI of a strict router's route, stripped of what a Request-URI may not carry."""
    uri = parse_uri(NameAddress.parse(route, strict=False).uri)
    if isinstance(uri, SipUri):
        uri.params.pop("method", None)
        uri.headers.clear()
    return str(uri)


class Dialog:
    """The state of one dialog, and the builder and checker of its requests."""

    __slots__ = (
        "_from",
        "_to",
        "call_id",
        "id",
        "local_address",
        "local_seq",
        "local_tag",
        "local_target",
        "remote_address",
        "remote_seq",
        "remote_tag",
        "remote_target",
        "route_set",
        "secure",
        "state",
        "via",
    )

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_address: NameAddress,
        remote_address: NameAddress,
        local_target: str,
        remote_target: str,
        route_set: Iterable[str] = (),
        local_seq: int | None = None,
        remote_seq: int | None = None,
        secure: bool = False,
        via: str,
        state: DialogState = EARLY,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.id = DialogId(call_id, local_tag, remote_tag)
        """Call-ID, local tag, remote tag: made once, as the three never change."""
        self.local_address = local_address
        """Local URI and display name, without tag (From of the requests we send)."""
        self.remote_address = remote_address
        """Remote URI and display name, without tag (To of the requests we send)."""
        # From and To of the requests we send, formatted once: addresses and tags are fixed.
        self._from = f"{local_address};tag={local_tag}"
        self._to = f"{remote_address};tag={remote_tag}"
        self.local_target = local_target
        """Our Contact URI."""
        self.remote_target = remote_target
        """The peer's Contact URI: the Request-URI of in-dialog requests."""
        self.route_set = list(route_set)
        """Route values in the order our requests carry them."""
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.secure = secure
        self.via = via
        """Our Via value without branch (``SIP/2.0/UDP host:port``); the layer adds one."""
        self.state = state

    def __repr__(self) -> str:
        return f"<Dialog {self.state.value} {self.id}>"

    @classmethod
    def from_uas(
        cls,
        request: SipRequest,
        *,
        local_tag: str,
        local_target: str,
        via: str,
        over_tls: bool = False,
    ) -> Dialog:
        """The dialog a UAS creates answering ``request`` with ``local_tag`` (§12.1.1)."""
        remote_target = _contact_uri(request)
        if remote_target is None:
            raise RemoteProtocolError(
                400, "Missing Contact in a dialog-creating request", (), request
            )
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_tag or "",
            local_address=_without_tag(request.headers._index["to"][0]),
            remote_address=_without_tag(request.headers._index["from"][0]),
            local_target=local_target,
            remote_target=remote_target,
            route_set=request.headers.get_all("record-route"),
            remote_seq=request.cseq.seq,
            secure=over_tls and request.uri_text[:5].lower() == "sips:",
            via=via,
        )

    @classmethod
    def from_uac(
        cls, request: SipRequest, response: SipResponse, *, local_target: str, via: str
    ) -> Dialog:
        """The dialog a UAC creates from a 1xx with a To tag or a 2xx to ``request`` (§12.1.2)."""
        remote_tag = response.to_tag
        if remote_tag is None:
            raise RemoteProtocolError(400, "A dialog needs a To tag in the response")
        dialog = cls(
            call_id=request.call_id,
            local_tag=request.from_tag or "",
            remote_tag=remote_tag,
            local_address=_without_tag(request.headers._index["from"][0]),
            remote_address=_without_tag(request.headers._index["to"][0]),
            local_target=local_target,
            remote_target=request.uri_text,
            local_seq=request.cseq.seq,
            secure=request.uri_text[:5].lower() == "sips:",
            via=via,
        )
        dialog.update_from_response(response)
        dialog.state = CONFIRMED if 200 <= response.status < 300 else EARLY
        return dialog

    def update_from_response(self, response: SipResponse) -> None:
        """Recompute route set and remote target from a UAC's 1xx or 2xx (§12.1.2, §13.2.2.4)."""
        self.route_set = list(reversed(response.headers.get_all("record-route")))
        self.refresh_target(response)

    def refresh_target(self, message: SipMessage) -> None:
        """Take a new remote target from Contact, if any (target refresh, §12.2)."""
        target = _contact_uri(message)
        if target is not None:
            self.remote_target = target

    # -- state --------------------------------------------------------------------------

    def process(self, event: DialogInput) -> bool:
        """Apply the transition for ``event``; False (and no change) when there is none."""
        state = TRANSITIONS.get((self.state, event))
        if state is None:
            return False
        self.state = state
        return True

    @property
    def terminated(self) -> bool:
        """Whether the dialog has ended."""
        return self.state is TERMINATED

    # -- requests we send ---------------------------------------------------------------

    @property
    def next_hop(self) -> str:
        """The URI the next request goes to: the first route, else the remote target."""
        if self.route_set:
            return NameAddress.parse(self.route_set[0], strict=False).uri
        return self.remote_target

    def _uri_and_routes(self) -> tuple[str, list[str]]:
        """Request-URI and Route values per §12.2.1.1 (loose or strict first route)."""
        routes = self.route_set
        if not routes or is_loose_route(routes[0]):
            return self.remote_target, list(routes)
        return strict_request_uri(routes[0]), [*routes[1:], f"<{self.remote_target}>"]

    def next_local_seq(self) -> int:
        """Advance the local CSeq number: 1 for a UAS's first request (§12.2.1.1)."""
        self.local_seq = 1 if self.local_seq is None else self.local_seq + 1
        return self.local_seq

    def create_request(
        self,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        seq: int | None = None,
        branch: str | None = None,
    ) -> SipRequest:
        """An in-dialog request (§12.2.1.1); the CSeq advances unless ``seq`` is given.

        ACK (for a 2xx) takes the INVITE's ``seq`` and needs a ``branch`` (it is sent
        outside any transaction). CANCEL is not built here: it mirrors the INVITE.
        """
        if method == "CANCEL":
            raise LocalProtocolError("A CANCEL copies its INVITE: use make_cancel")
        if self.state is TERMINATED:
            raise LocalProtocolError(f"Cannot send {method} in a terminated dialog")
        if method == "ACK" and (seq is None or branch is None):
            raise LocalProtocolError("An ACK for a 2xx needs the INVITE's CSeq and a new branch")
        if seq is None:
            seq = self.next_local_seq()
        uri, routes = self._uri_and_routes()
        # The dialog's own fields go straight into the index under their canonical names
        # (six to eight checked adds per request were a tenth of building it); one test
        # over all of them still refuses a line break smuggled in through a peer's value.
        index = {
            "via": [self.via if branch is None else f"{self.via};branch={branch}"],
            "max-forwards": [_MAX_FORWARDS_TEXT],
            "from": [self._from],
            "to": [self._to],
            "call-id": [self.call_id],
            "cseq": [f"{seq} {method}"],
        }
        if routes:
            index["route"] = routes
        if method in TARGET_REFRESH_METHODS:
            index["contact"] = [f"<{self.local_target}>"]
        own = "".join([value for values in index.values() for value in values])
        if "\r" in own or "\n" in own:
            raise LocalProtocolError(f"Cannot build {method}: a line break in a dialog field")
        fields = SipHeaders(index)
        for name, value in headers:
            fields.add(name, value)
        if body:
            fields.add("Content-Type", content_type or "application/sdp")
        return SipRequest(method, uri, fields, body)

    # -- requests we receive ------------------------------------------------------------

    def check_request(self, request: SipRequest) -> None:
        """Apply §12.2.2 to an in-dialog request: 500 when its CSeq is out of order.

        ACK and CANCEL reuse the INVITE's number and are not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return
        seq = request.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq:
            raise RemoteProtocolError(
                500,
                f"CSeq {seq} lower than the dialog's remote CSeq {self.remote_seq}",
                (),
                request,
            )
        self.remote_seq = seq


class DialogTable:
    """Live dialogs by id: finds the one an in-dialog request belongs to, or answers 481."""

    __slots__ = ("_dialogs",)

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def add(self, dialog: Dialog) -> None:
        """Start tracking ``dialog``."""
        self._dialogs[dialog.id] = dialog

    def discard(self, dialog: Dialog) -> None:
        """Stop tracking ``dialog``, if tracked."""
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def get(self, dialog_id: DialogId) -> Dialog | None:
        """The dialog ``dialog_id`` names, or None."""
        return self._dialogs.get(dialog_id)

    def match_request(self, request: SipRequest) -> Dialog | None:
        """The dialog of an in-dialog request; None when it has no To tag (not in-dialog).

        A To tag naming no live dialog raises 481 (RFC 3261 §12.2.2).
        """
        dialog_id = request_dialog_id(request)
        if dialog_id is None:
            return None
        dialog = self._dialogs.get(dialog_id)
        if dialog is None or dialog.terminated:
            raise RemoteProtocolError(481, "Call/Transaction Does Not Exist", (), request)
        return dialog

    def match_response(self, response: SipResponse) -> Dialog | None:
        """The dialog a response belongs to, or None."""
        dialog_id = response_dialog_id(response)
        return None if dialog_id is None else self._dialogs.get(dialog_id)

    def __len__(self) -> int:
        return len(self._dialogs)

    def __contains__(self, dialog_id: object) -> bool:
        return dialog_id in self._dialogs
