"""The transaction user: routes each request the transaction layer delivers to its service.

Every event goes to the call engine first (INVITE sessions: in-dialog requests, CANCEL,
responses); a new INVITE goes to it too. REGISTER goes through authentication to the
registrar; out-of-dialog OPTIONS to the server is answered 200 with what we accept;
SUBSCRIBE goes to the message-waiting service when there is one (``Event:
message-summary``; other packages 489), new ones authenticated like REGISTER; requests
inside dialogs we do not have get 481; other methods get 501.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from switchboard.services.acl import Acls
from switchboard.services.authenticate import EndpointAuthenticator, Verdict
from switchboard.services.mwi import ALLOW_EVENTS, MessageWaiting, event_package
from switchboard.services.qualify import Qualifier
from switchboard.services.registrar import Registrar, address_of_record_problem
from switchboard.services.replies import refusal, reply
from switchboard.services.security import Guard
from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.message import SipRequest, SipResponse, check_require
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.events import (
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionKey,
    TransactionTerminated,
    TransactionTimedOut,
)

if TYPE_CHECKING:
    from switchboard.services.calls.engine import CallEngine

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, PRACK, INFO"
ACCEPT = "application/sdp"
SUPPORTED: tuple[str, ...] = ("path",)
IN_DIALOG_ONLY = frozenset({"BYE", "INFO", "PRACK", "UPDATE", "NOTIFY", "REFER"})

Responder = Callable[[TransactionKey, SipResponse], None]


class RequestRouter:
    """Answers every request: the one place that decides which service sees what."""

    def __init__(
        self,
        authenticator: EndpointAuthenticator,
        registrar: Registrar,
        respond: Responder,
        *,
        user_agent: str = "Switchboard",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authenticator = authenticator
        self.registrar = registrar
        self.respond = respond
        self.user_agent = user_agent
        self.clock = clock
        self.qualifier: Qualifier | None = None
        self.guard: Guard | None = None
        self.calls: CallEngine | None = None
        self.acls: Acls | None = None
        self.mwi: MessageWaiting | None = None

    def __call__(self, event: Event) -> None:
        calls = self.calls
        if isinstance(event, RequestReceived):
            method = event.request.method
            if method == "SUBSCRIBE" and self.mwi is not None:
                calls = None  # subscription dialogs are ours, not an INVITE session's
            elif method == "REGISTER" and event.request.to_tag is None:
                calls = None  # outside any dialog: the sessions would hand it back
        elif isinstance(event, TransactionTerminated):
            return  # bookkeeping no session and no service here acts on
        if calls is not None:
            rest = calls.dispatch(event)
            if rest is None:
                return
            event = rest
        if isinstance(event, RequestReceived):
            self._request(event.key, event.request, event)
        elif isinstance(event, CancelReceived):
            status = 200 if event.invite_key is not None else 481
            self._answer(event.key, event.request, status)
        elif isinstance(event, ResponseReceived) and event.response.status >= 200:
            self._answered(event.key, event.response)
        elif isinstance(event, TransactionTimedOut | TransactionFailed):
            self._answered(event.key, None)

    def _answered(self, key: TransactionKey, response: SipResponse | None) -> None:
        """A final answer (None: none came) to a request we sent: qualify's OPTIONS or a
        message-waiting NOTIFY."""
        if self.qualifier is not None and self.qualifier.response(key, response, time.monotonic()):
            return
        if self.mwi is not None:
            self.mwi.response(key, response)

    def prefilter(self, request: SipRequest, peer: Peer) -> SipResponse | bool:
        """Settle a first REGISTER (no credentials yet) without a transaction: its 401 is
        sent statelessly, as a registrar may (a retransmission just gets a fresh
        challenge). Half of all registration traffic then never holds a transaction for
        Timer J's 32 s. Everything else goes through the transaction layer (False)."""
        index = request.headers._index
        if request.method != "REGISTER" or "authorization" in index:
            return False
        guard = self.guard
        if guard is not None and not guard.allow_unauthenticated(peer.host, guard.clock()):
            return True
        if self._acl_refusal(request, peer) is not None:
            return self._response(request, 403)
        if "require" in index or address_of_record_problem(request) is not None:
            return False
        decision = self.authenticator.check(request, peer, self.clock())
        if decision.verdict is not Verdict.CHALLENGE:
            return False
        refused = refusal(decision)
        assert refused is not None  # a challenge is always refused
        return self._response(request, *refused)

    def _request(self, key: TransactionKey, request: SipRequest, event: RequestReceived) -> None:
        guard = self.guard
        if guard is not None and not guard.allow_unauthenticated(event.peer.host, guard.clock()):
            return
        method = request.method
        if method != "ACK" and self._acl_refusal(request, event.peer) is not None:
            self._answer(key, request, 403)
            return
        if method == "INVITE" and request.to_tag is None and self.calls is not None:
            self.calls.invite(event)
            return
        if "require" in request.headers._index:
            try:
                check_require(request, SUPPORTED)
            except RemoteProtocolError as error:
                self._answer(key, request, error.status, error.reason, list(error.headers))
                return
        if method == "REGISTER":
            self._register(key, request, event)
        elif method == "SUBSCRIBE" and self.mwi is not None:
            self._subscribe(key, request, event, self.mwi)
        elif method == "OPTIONS" and request.to_tag is None:
            self._answer(
                key,
                request,
                200,
                headers=[
                    ("Allow", self._allow()),
                    ("Accept", ACCEPT),
                    ("Supported", ", ".join(SUPPORTED)),
                ],
            )
        elif method in IN_DIALOG_ONLY or request.to_tag is not None:
            self._answer(key, request, 481)
        else:
            self._answer(key, request, 501, headers=[("Allow", self._allow())])

    def _allow(self) -> str:
        return f"{ALLOW}, SUBSCRIBE" if self.mwi is not None else ALLOW

    def _subscribe(
        self, key: TransactionKey, request: SipRequest, event: RequestReceived, mwi: MessageWaiting
    ) -> None:
        """RFC 6665: an unknown package is 489; a refresh goes to its subscription; a new
        subscription is authenticated as a REGISTER is, then handed to the service."""
        if event_package(request) != "message-summary":
            self._answer(key, request, 489, "Bad Event", [("Allow-Events", ALLOW_EVENTS)])
            return

        def reply(response: SipResponse) -> None:
            response.headers.add("Server", self.user_agent)
            self.respond(key, response)

        if request.to_tag is not None:
            mwi.refresh(request, event.peer, reply)
            return
        decision = self.authenticator.check(request, event.peer, self.clock())
        refused = refusal(decision)
        if refused is not None:
            self._answer(key, request, *refused)
            return
        assert decision.endpoint is not None  # refusal() passes only an identified endpoint
        if self.guard is not None:
            self.guard.authenticated(event.peer.host)
        mwi.subscribe(request, decision.endpoint, event.peer, reply)

    def _register(self, key: TransactionKey, request: SipRequest, event: RequestReceived) -> None:
        problem = address_of_record_problem(request)
        if problem is not None:
            self._answer(key, request, 400, problem)
            return
        now = self.clock()
        decision = self.authenticator.check(request, event.peer, now)
        refused = refusal(decision)
        if refused is not None:
            self._answer(key, request, *refused)
            return
        assert decision.endpoint is not None  # refusal() passes only an identified endpoint
        if self.acls is not None:
            denied = self.acls.contact_refused(request, decision.endpoint)
            if denied is not None:
                self._failed_acl(event.peer, denied)
                self._answer(key, request, 403, "Contact address not permitted")
                return
        if self.guard is not None:
            self.guard.authenticated(event.peer.host)
        response = self.registrar.register(
            request, decision.endpoint, event.peer, now, server=self.user_agent
        )
        self.respond(key, response)

    def _acl_refusal(self, request: SipRequest, peer: Peer) -> str | None:
        """Why the ACLs refuse this request's source (counted as FailedACL), or None."""
        acls = self.acls
        if acls is None or not acls.active:
            return None
        endpoint = self.authenticator.identify(request, None)
        refused = acls.source_refused(peer.host, endpoint)
        if refused is not None:
            self._failed_acl(peer, refused)
        return refused

    def _failed_acl(self, peer: Peer, reason: str) -> None:
        if self.guard is not None:
            self.guard.offence(peer.host, "FailedACL", reason, self.guard.clock())

    def _answer(
        self,
        key: TransactionKey,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.respond(key, self._response(request, status, reason, headers))

    def _response(
        self,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> SipResponse:
        """Our answer to ``request``, with our Server header."""
        return reply(request, status, reason, headers or (), server=self.user_agent)
