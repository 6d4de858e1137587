"""The transaction layer (RFC 3261 §17): matches messages to transactions, owns their timers.

Sans-I/O, in the manner of aioquic's ``QuicConnection``: the adapter feeds parsed
messages with :meth:`TransactionLayer.receive`, the TU issues :meth:`send_request` and
:meth:`send_response`, and after each call both drain :meth:`datagrams_to_send` and
:meth:`next_event`, then re-arm one timer for :meth:`next_deadline` and call
:meth:`handle_timer` when it expires. ``now`` is always passed in; new branch ids come
from an injected callable.

Matching costs one dict lookup. Responses match a client transaction by top-Via branch
and CSeq method (§17.1.3). Requests whose branch carries the ``z9hG4bK`` cookie match a
server transaction by branch, sent-by and method, ACK matching INVITE (§17.2.3); other
requests fall back to RFC 2543 matching on Request-URI, From tag, Call-ID, CSeq, top Via
(and To tag). Timers sit in a queue per duration (``queues``); a stopped timer's entry
is skipped when it comes up.

A non-INVITE server transaction that has sent its final response over UDP only waits for
Timer J (32 s by default) to answer retransmissions with the same bytes. The layer keeps
such a *settled* transaction as a record of plain values (deadline, bytes, address) in a
first-in, first-out queue instead of the transaction object: a registrar has one per
registration, and tens of thousands of objects lingering for 32 s made every pass of the
cyclic garbage collector long. Nothing observable changes: retransmissions get the same
bytes, ``state_of`` says Completed, Timer J ends it with ``TransactionTerminated``, a
transport error with ``TransactionFailed`` (the machine's own table still describes it,
and ``settle=False`` keeps the objects, for tests that drive a machine directly).

Nothing raises out of :meth:`receive` or :meth:`handle_timer`: malformed or stray input
is logged, counted in :attr:`ignored`, and dropped.
"""

from __future__ import annotations

import logging
from bisect import insort
from collections import deque
from collections.abc import Callable

from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.message import SipMessage, SipRequest, SipResponse, make_response
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.client_invite import ClientInviteTransaction, top_via_value
from switchboard.sip.transaction.client_non_invite import ClientNonInviteTransaction
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    Event,
    RequestReceived,
    TransactionFailed,
    TransactionKey,
    TransactionTerminated,
)
from switchboard.sip.transaction.machine import (
    Input,
    State,
    Transaction,
    received_input,
    sent_input,
)
from switchboard.sip.transaction.machine import ServerTransaction as ServerMachine
from switchboard.sip.transaction.queues import Entry, TimerQueues
from switchboard.sip.transaction.server_invite import ServerInviteTransaction
from switchboard.sip.transaction.server_non_invite import ServerNonInviteTransaction
from switchboard.sip.transaction.timers import TimerValues

logger = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"
"""Branch prefix of RFC 3261 clients: only such branches are unique (§8.1.1.7)."""

ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction
ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction
Settled = tuple[float, bytes, str, int]
"""A settled transaction: (Timer J's deadline, final response bytes, UDP host, port)."""


class TransactionLayer:
    """Every client and server transaction of one SIP endpoint, with their timers."""

    def __init__(
        self,
        new_branch: Callable[[], str],
        timers: TimerValues | None = None,
        *,
        send_trying: bool = True,
        settle: bool = True,
    ) -> None:
        self._new_branch = new_branch
        self.timers = TimerValues() if timers is None else timers
        self._reliable_timers = self.timers.for_reliable_transport()
        self.send_trying = send_trying
        """Answer each new INVITE with 100 Trying at once (§17.2.1), so it stops retransmitting."""
        self._clients: dict[TransactionKey, ClientTransaction] = {}
        self._servers: dict[TransactionKey, ServerTransaction] = {}
        self.servers_per_host: dict[str, int] = {}
        """Live server transactions by the source host that started them (per-source limits)."""
        self._due = TimerQueues()
        self.settle = settle
        """Keep completed UDP non-INVITE server transactions as settled records."""
        self._settled: dict[TransactionKey, Settled] = {}
        self._settled_due: deque[tuple[float, int, TransactionKey]] = deque()
        """(deadline, arming number, key): Timer J of each settled record, earliest first."""
        self._outbox: list[tuple[bytes, Peer]] = []
        self._events: deque[Event] = deque()
        self.ignored = 0
        """How many received messages or inputs were dropped as stray or malformed."""

    # -- inputs -------------------------------------------------------------------------

    def receive(self, message: SipRequest | SipResponse, peer: Peer, now: float) -> None:
        """Feed one parsed message received from ``peer``."""
        try:
            if isinstance(message, SipResponse):
                self._receive_response(message, now)
            else:
                self._receive_request(message, peer, now)
        except RemoteProtocolError as exc:
            self._ignore("malformed message %r from %s: %s", message, peer, exc.reason)

    def _receive_response(self, response: SipResponse, now: float) -> None:
        """Match a response to its client transaction (§17.1.3); drop strays."""
        key = (response.branch, response.cseq.method)
        transaction = self._clients.get(key)
        if transaction is None:
            self._ignore("stray response %r for %r", response, key)
        elif not transaction.process(received_input(response.status), now, response):
            self._ignore("response %r not expected in %r", response, transaction)

    def _receive_request(self, request: SipRequest, peer: Peer, now: float) -> None:
        """Match a request to its server transaction (§17.2.3), or create one."""
        method = request.method
        if method == "ACK":
            invite = self._match(request, "INVITE")
            if invite is None:
                self._events.append(AckReceived(None, request, peer))
            elif not invite.process(Input.RECV_ACK, now, request):
                self._ignore("ACK not expected in %r", invite)
            return
        key = self._server_key(request, method)
        transaction = self._servers.get(key)
        if transaction is not None and self._to_tag_matches(key, request, transaction):
            # Every live server state has a RECV_REQUEST row: absorb, resend, or ignore.
            transaction.process(Input.RECV_REQUEST, now, request)
            return
        settled = self._settled.get(key)
        if settled is not None:
            self._outbox.append((settled[1], Peer("udp", settled[2], settled[3])))
            return
        timers = self.timers if peer.transport == "udp" else self._reliable_timers
        if method == "INVITE":
            transaction = ServerInviteTransaction(self, key, request, peer, timers)
        else:
            transaction = ServerNonInviteTransaction(self, key, request, peer, timers)
        self._servers[key] = transaction
        per_host = self.servers_per_host
        per_host[peer.host] = per_host.get(peer.host, 0) + 1
        transaction.start(now)
        if method == "CANCEL":
            invite = self._match(request, "INVITE")
            invite_key = None if invite is None else invite.key
            self._events.append(CancelReceived(key, invite_key, request, peer))
            return
        self._events.append(RequestReceived(key, request, peer))
        if method == "INVITE" and self.send_trying:
            trying = make_response(request, 100)
            timestamp = request.headers.get("timestamp")
            if timestamp is not None:
                trying.headers.add("Timestamp", timestamp)
            transaction.process(Input.SEND_1XX, now, trying)

    def has_server(self, request: SipRequest) -> bool:
        """Whether ``request`` belongs to a live server transaction (a retransmission)."""
        key = self._server_key(request, request.method)
        return key in self._servers or key in self._settled

    def _match(self, request: SipRequest, method: str) -> ServerTransaction | None:
        """The server transaction ``request`` (ACK or CANCEL) refers to, of ``method``."""
        key = self._server_key(request, method)
        transaction = self._servers.get(key)
        if transaction is None or not self._to_tag_matches(key, request, transaction):
            return None
        return transaction

    @staticmethod
    def _server_key(request: SipRequest, method: str) -> TransactionKey:
        """The §17.2.3 key of ``request`` for a transaction of ``method``."""
        branch = request.branch
        if branch is not None and branch.startswith(MAGIC_COOKIE):
            return (branch, sent_by(request), method)
        cseq = request.cseq
        return (
            request.uri_text,
            request.from_tag,
            request.call_id,
            cseq.seq,
            method,
            top_via_value(request),
        )

    @staticmethod
    def _to_tag_matches(
        key: TransactionKey, request: SipRequest, transaction: ServerTransaction
    ) -> bool:
        """RFC 2543 matching also compares To tags: the request's or our final response's."""
        return len(key) == 3 or transaction.to_tag_matches(request.to_tag)

    def transport_failed(self, peer: Peer, now: float) -> int:
        """The transport could not reach ``peer`` (connection refused or lost, ICMP error).

        Every transaction bound to ``peer`` takes its transport-error transition (§17.1.1.2,
        §17.1.2.2, §17.2.4); returns how many did. States without one in RFC 3261/6026 (an
        INVITE client in Proceeding or Accepted, an INVITE server in Accepted or Confirmed)
        carry on.
        """
        failed = 0
        for table in (self._clients, self._servers):
            for transaction in [t for t in table.values() if t.peer == peer]:
                failed += transaction.process(Input.TRANSPORT_ERROR, now)
        if peer.transport == "udp" and self._settled:
            address = (peer.host, peer.port)
            for key, settled in list(self._settled.items()):
                if (settled[2], settled[3]) == address:
                    self._events.append(TransactionFailed(key, None))
                    self._end_settled(key, settled)
                    failed += 1
        return failed

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, in deadline order, settled records' Timer J
        among them."""
        due = self._due
        settled = self._settled_due
        while True:
            if settled and settled[0][0] <= now:
                head = due.earliest()
                if head is None or _before(settled[0], head):
                    deadline, _, key = settled.popleft()
                    record = self._settled.get(key)
                    if record is not None and record[0] == deadline:
                        self._end_settled(key, record)
                    continue
            entry = due.pop_due(now)  # one scan of the queues when no record is due
            if entry is None:
                return
            _, seq, transaction, timer = entry
            transaction.fire(timer, seq, now)

    # -- commands from the TU -----------------------------------------------------------

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch: the magic cookie and the injected entropy."""
        return MAGIC_COOKIE + self._new_branch()

    def send_request(self, request: SipRequest, peer: Peer, now: float) -> TransactionKey:
        """Start a client transaction for ``request`` and send it; returns its key.

        A top Via without a branch gets a new one. ACK is not a transaction: use
        :meth:`send_stateless`.
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK starts no transaction: send it with send_stateless")
        vias = request.headers._index.get("via")
        if not vias:
            raise LocalProtocolError("A request needs a Via header field to carry its branch")
        branch = request.branch
        if branch is None:
            branch = self.new_branch()
            vias[0] = _add_branch(vias[0], branch)
        key: TransactionKey = (branch, request.method)
        if key in self._clients:
            raise LocalProtocolError(f"A client transaction already exists for {key!r}")
        timers = self._timers(peer)
        transaction: ClientTransaction
        if request.method == "INVITE":
            transaction = ClientInviteTransaction(self, key, request, peer, timers)
        else:
            transaction = ClientNonInviteTransaction(self, key, request, peer, timers)
        self._clients[key] = transaction
        transaction.start(now)
        return key

    def send_response(self, key: TransactionKey, response: SipResponse, now: float) -> bool:
        """Send ``response`` on server transaction ``key``; False when its state forbids it."""
        transaction = self._servers.get(key)
        if transaction is None:
            logger.warning("No server transaction %r for %r", key, response)
            return False
        if not transaction.process(sent_input(response.status), now, response):
            logger.warning("%r cannot send %r", transaction, response)
            return False
        return True

    def send_stateless(self, message: SipMessage, peer: Peer) -> None:
        """Send outside any transaction: an ACK for a 2xx, a response to a malformed request."""
        self._outbox.append((message.serialize(), peer))

    # -- outputs ------------------------------------------------------------------------

    def datagrams_to_send(self) -> list[tuple[bytes, Peer]]:
        """Drain the outbox: each item is one message's bytes and where to send them."""
        outbox = self._outbox
        self._outbox = []
        return outbox

    def next_event(self) -> Event | None:
        """The oldest event not yet returned, or None."""
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None when no timer runs."""
        due = self._due
        settled = self._settled_due
        records = self._settled
        while settled:
            deadline, _, key = settled[0]
            record = records.get(key)
            if record is not None and record[0] == deadline:
                break
            settled.popleft()  # ended early, by a transport error
        first = settled[0][0] if settled else None
        while (entry := due.earliest()) is not None:
            deadline, seq, transaction, timer = entry
            if transaction._armed.get(timer) == seq:
                return deadline if first is None or deadline < first else first
            due.pop()  # disarmed
        return first

    def state_of(self, key: TransactionKey) -> State | None:
        """The state of the live transaction ``key`` (client or server), None once gone."""
        transaction = self._servers.get(key) or self._clients.get(key)
        if transaction is None:
            return State.COMPLETED if key in self._settled else None
        return transaction.state

    def __len__(self) -> int:
        """How many transactions are alive, settled ones included."""
        return len(self._clients) + len(self._servers) + len(self._settled)

    # -- TransactionHost ----------------------------------------------------------------

    def _transmit(self, data: bytes, peer: Peer) -> None:
        """Queue bytes for the adapter (a transaction sending or resending)."""
        self._outbox.append((data, peer))

    def _emit(self, event: Event) -> None:
        """Queue an event for the TU."""
        self._events.append(event)

    def _arm(self, transaction: Transaction, timer: Input, now: float, duration: float) -> int:
        """Queue a timer; the returned number identifies this arming."""
        return self._due.push(transaction, timer, now, duration)

    def _forget(self, transaction: Transaction) -> None:
        """Drop a terminated transaction from its table and tell the TU."""
        table: dict[TransactionKey, ClientTransaction] | dict[TransactionKey, ServerTransaction]
        if isinstance(transaction, ClientInviteTransaction | ClientNonInviteTransaction):
            table = self._clients
        else:
            table = self._servers
            self._count_down(transaction.peer.host)
        # A transaction displaced by RFC 2543 matching (same key, other To tag) ends silently.
        if table.get(transaction.key) is transaction:
            del table[transaction.key]
            self._events.append(TransactionTerminated(transaction.key))

    def _settle(self, transaction: ServerMachine, now: float) -> bool:
        """Take over a completed non-INVITE server transaction's wait for Timer J as a
        settled record; False (the machine keeps waiting itself) on a reliable transport,
        for an RFC 2543 key (its matching needs To tags), or when settling is off."""
        duration = transaction.timers.TIMER_J
        key = transaction.key
        if not self.settle or duration <= 0 or len(key) != 3:
            return False
        if self._servers.get(key) is not transaction:
            return False
        del self._servers[key]
        deadline = now + duration
        peer = transaction.peer
        self._settled[key] = (deadline, transaction._data, peer.host, peer.port)
        due = self._settled_due
        entry = (deadline, self._due.number(), key)
        if due and due[-1][0] > deadline:
            insort(due, entry)  # the clock went back (a test's): keep it sorted
        else:
            due.append(entry)
        return True

    def _end_settled(self, key: TransactionKey, settled: Settled) -> None:
        """A settled transaction is over (Timer J, or a transport error)."""
        del self._settled[key]
        self._count_down(settled[2])
        self._events.append(TransactionTerminated(key))

    def _count_down(self, host: str) -> None:
        """One server transaction from ``host`` fewer."""
        left = self.servers_per_host.get(host, 0) - 1
        if left > 0:
            self.servers_per_host[host] = left
        else:
            self.servers_per_host.pop(host, None)

    def _timers(self, peer: Peer) -> TimerValues:
        """The timer values for ``peer``'s transport (reliable: no retransmission, no waits)."""
        return self._reliable_timers if peer.reliable else self.timers

    def _ignore(self, text: str, *args: object) -> None:
        """Count and log a dropped input; never raise out of the layer."""
        self.ignored += 1
        logger.debug(text, *args)


def _before(settled: tuple[float, int, TransactionKey], entry: Entry) -> bool:
    """Whether a settled record's Timer J comes before a queued timer: by deadline, then
    by arming, as one queue of both would order them."""
    return settled[0] < entry[0] or (settled[0] == entry[0] and settled[1] < entry[1])


def sent_by(request: SipRequest) -> str:
    """The top Via's sent-by, lower-cased ``host[:port]``: part of the §17.2.3 key.

    The usual ``SIP/2.0/UDP host:port;params`` is sliced without parsing; anything else
    (LWS inside the protocol, a comma, quotes) goes through the Via grammar.
    """
    value = request.headers._index["via"][0]
    if value[:8] == "SIP/2.0/":
        space = value.find(" ", 8)
        end = value.find(";", space)
        text = value[space + 1 : end] if end >= 0 else value[space + 1 :]
        plain = " " not in text and "\t" not in text and "," not in text and '"' not in text
        if space > 0 and text and plain:
            return text.lower()
    via = request.top_via
    host = f"[{via.host}]" if ":" in via.host else via.host
    return (host if via.port is None else f"{host}:{via.port}").lower()


def _add_branch(via: str, branch: str) -> str:
    """``via`` (possibly several comma-separated values) with ``branch`` on its first value."""
    first, comma, rest = via.partition(",")
    return f"{first.rstrip()};branch={branch}{comma}{rest}"
