"""Routing transaction-layer events to INVITE sessions, and 481 for unknown dialogs.

The call engine feeds every event of the :class:`TransactionLayer` to
:meth:`SessionRouter.dispatch`; events that belong to no session (a new INVITE, an
OPTIONS, a REGISTER) are handed back for the engine to act on. Sessions are created
through the router (:meth:`SessionRouter.accept_invite`, :meth:`SessionRouter.invite`) so
that their events land in one queue, drained with :meth:`SessionRouter.next_event`.

Lookup costs one dict access: in-dialog requests and responses by dialog id, responses
and requests of a UAC's forks by Call-ID and our tag (the :class:`ClientInvite` then
picks the fork), a CANCEL by the INVITE's transaction key.

Timers sit in one heap, so :meth:`next_deadline` stays cheap with thousands of calls. A
session's deadline can only change when it is fed an event, fires a timer, or sends
something (every command that arms a timer sends: the 2xx, a reliable 1xx, a re-INVITE);
each session sends through a :class:`_Binding` that notes it, and noted sessions have
their deadline noted and, when it moved, pushed again. Heap entries whose deadline no
longer matches the noted one are skipped, without asking the session again.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable

from switchboard.sip.dialog import DialogId
from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    error_response,
    make_response,
)
from switchboard.sip.peer import Peer
from switchboard.sip.session import SessionConfig, TransactionSender
from switchboard.sip.session_events import SessionEvent
from switchboard.sip.session_uac import ClientInvite
from switchboard.sip.session_uas import ServerSession
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionKey,
    TransactionTimedOut,
)

Target = ServerSession | ClientInvite


class _Binding:
    """The transaction layer as one session sees it: sending notes the session for review."""

    __slots__ = ("_host", "_router", "target")

    def __init__(self, router: SessionRouter) -> None:
        self._router = router
        self._host = router.host
        self.target: Target | None = None

    def _note(self) -> None:
        if self.target is not None:
            self._router._dirty.add(self.target)

    def new_branch(self) -> str:
        """A fresh branch from the layer."""
        return self._host.new_branch()

    def send_request(self, request: SipRequest, peer: Peer, now: float) -> TransactionKey:
        """Start a client transaction."""
        self._note()
        return self._host.send_request(request, peer, now)

    def send_response(self, key: TransactionKey, response: SipResponse, now: float) -> bool:
        """Respond on a server transaction."""
        self._note()
        return self._host.send_response(key, response, now)

    def send_stateless(self, message: SipMessage, peer: Peer) -> None:
        """Send outside any transaction."""
        self._note()
        self._host.send_stateless(message, peer)


def _unbind(target: Target) -> None:
    """Cut a forgotten session's binding loose from it. Session and binding refer to each
    other, so without this a call's sessions, dialogs and messages could only be freed by
    the cyclic collector, in pauses that grow with the call rate. A forgotten session is
    terminated: the router sweeps it after every timer it still runs, so it needs no notes.
    """
    host = target.host
    if isinstance(host, _Binding):
        host.target = None


class SessionRouter:
    """Every INVITE session of one endpoint: creation, event routing, timers, events."""

    def __init__(self, host: TransactionSender) -> None:
        self.host = host
        self.events: deque[SessionEvent] = deque()
        """Every session's events, oldest first (the engine drains it in place)."""
        self._dialogs: dict[DialogId, ServerSession] = {}
        """UAS sessions; a UAC's forks are reached through their :class:`ClientInvite`."""
        self._server_invites: dict[TransactionKey, ServerSession] = {}
        self._clients: dict[tuple[str, str], ClientInvite] = {}
        self._heap: list[tuple[float, int, Target]] = []
        self._order = itertools.count()
        self._dirty: set[Target] = set()
        self._deadlines: dict[Target, float] = {}
        """Each session's deadline when last reviewed: the heap entry that still counts."""

    # -- creation -----------------------------------------------------------------------

    def accept_invite(
        self,
        event: RequestReceived,
        now: float,
        *,
        config: SessionConfig,
        local_tag: str,
        random: Callable[[], float],
    ) -> ServerSession | None:
        """A UAS session for a new INVITE; None when it was refused (420, 421, 422, 400)."""
        binding = _Binding(self)
        try:
            session = ServerSession(
                event,
                host=binding,
                config=config,
                local_tag=local_tag,
                random=random,
                events=self.events,
            )
        except RemoteProtocolError as exc:
            if exc.request is None:
                exc.request = event.request  # a grammar error raised without the request
            response = error_response(exc, local_tag)
            if response is not None:
                self.host.send_response(event.key, response, now)
            return None
        binding.target = session
        self._dialogs[session.id] = session
        self._server_invites[event.key] = session
        return session

    def invite(
        self,
        request: SipRequest,
        peer: Peer,
        now: float,
        *,
        config: SessionConfig,
        random: Callable[[], float],
    ) -> ClientInvite:
        """Send an initial INVITE as UAC; its forks become sessions as responses arrive."""
        binding = _Binding(self)
        call = ClientInvite(
            request, host=binding, peer=peer, config=config, random=random, events=self.events
        )
        binding.target = call
        self._clients[(request.call_id, request.from_tag or "")] = call
        call.start(now)
        return call

    # -- routing ------------------------------------------------------------------------

    def dispatch(self, event: Event, now: float) -> Event | None:
        """Hand ``event`` to its session; returns it when no session takes it.

        Returned: requests outside any dialog (a new INVITE, OPTIONS, ...), responses to
        requests no session sent (OPTIONS of qualify), and transaction bookkeeping.
        In-dialog requests for an unknown dialog are answered
        481 here (RFC 3261 §12.2.2), a CANCEL matching nothing 481 (§9.2).
        """
        if isinstance(event, ResponseReceived | TransactionTimedOut | TransactionFailed):
            if event.response is not None and self._route_response(event, event.response, now):
                return None
            return event
        if isinstance(event, CancelReceived):
            self._route_cancel(event, now)
            return None
        if isinstance(event, RequestReceived | AckReceived):
            request = event.request
            to_tag = request.to_tag
            if to_tag is None:
                return event if isinstance(event, RequestReceived) else None
            target = self._find(request.call_id, to_tag, request.from_tag or "")
            if target is not None:
                target.receive(event, now)
                self._sweep(target)
            elif isinstance(event, RequestReceived):
                self._reply_481(event.key, request, now)
            return None
        return event

    def _find(
        self, call_id: str, local_tag: str, remote_tag: str
    ) -> ServerSession | ClientInvite | None:
        session = self._dialogs.get(DialogId(call_id, local_tag, remote_tag))
        if session is not None:
            return session
        return self._clients.get((call_id, local_tag))

    def _route_response(
        self,
        event: ResponseReceived | TransactionTimedOut | TransactionFailed,
        response: SipResponse,
        now: float,
    ) -> bool:
        from_tag = response.from_tag or ""
        call = self._clients.get((response.call_id, from_tag))
        target: ServerSession | ClientInvite | None = call
        if call is None:
            target = self._dialogs.get(DialogId(response.call_id, from_tag, response.to_tag or ""))
        if target is None:
            return False
        target.receive(event, now)
        self._sweep(target)
        return True

    def _route_cancel(self, event: CancelReceived, now: float) -> None:
        session: ServerSession | ClientInvite | None = None
        if event.invite_key is not None:
            session = self._server_invites.get(event.invite_key)
            request = event.request
            if session is None and request.to_tag is not None:
                session = self._find(request.call_id, request.to_tag, request.from_tag or "")
        if session is None:
            # §9.2: a CANCEL matching a transaction gets 200 even once it was answered.
            status = 481 if event.invite_key is None else 200
            self.host.send_response(event.key, make_response(event.request, status), now)
            return
        session.receive(event, now)
        self._sweep(session)

    def _reply_481(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        self.host.send_response(key, make_response(request, 481), now)

    def _sweep(self, target: Target) -> None:
        """Review ``target``'s deadline; forget it once ended (terminated, or INVITE done)."""
        self._dirty.add(target)
        if isinstance(target, ClientInvite):
            if target.final_status is None:
                return
            for session in target.sessions.values():
                if not session.terminated:
                    return
            self._clients.pop((target.request.call_id, target.request.from_tag or ""), None)
            _unbind(target)
            return
        if target.terminated:
            self._dialogs.pop(target.id, None)
            self._server_invites.pop(target.invite_key, None)
            _unbind(target)

    # -- timers and outputs -------------------------------------------------------------

    def _review(self) -> None:
        """Note the deadline of every session that may have changed; push the new ones."""
        deadlines = self._deadlines
        for target in self._dirty:
            deadline = target.next_deadline()
            if deadline is None:
                deadlines.pop(target, None)
            elif deadlines.get(target) != deadline:
                deadlines[target] = deadline
                heapq.heappush(self._heap, (deadline, next(self._order), target))
        self._dirty.clear()

    def next_deadline(self) -> float | None:
        """The earliest deadline of any session, or None."""
        if self._dirty:
            self._review()
        heap = self._heap
        deadlines = self._deadlines
        while heap:
            deadline, _, target = heap[0]
            if deadlines.get(target) == deadline:
                return deadline
            heapq.heappop(heap)  # stale: the session moved on
        return None

    def handle_timer(self, now: float) -> None:
        """Fire the timers due at ``now``."""
        self._review()
        heap = self._heap
        deadlines = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, _, target = heapq.heappop(heap)
            if deadlines.get(target) == deadline:
                del deadlines[target]
                target.handle_timer(now)
                self._sweep(target)
        self._review()

    def next_event(self) -> SessionEvent | None:
        """The oldest session event not yet returned, or None."""
        return self.events.popleft() if self.events else None

    def __len__(self) -> int:
        """How many sessions and pending outgoing INVITEs are alive."""
        return len(self._dialogs) + len(self._clients)
