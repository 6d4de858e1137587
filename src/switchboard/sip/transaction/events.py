"""What the transaction layer reports to its user (the TU): past-tense frozen events."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.sip.message import SipRequest, SipResponse
from switchboard.sip.peer import Peer

TransactionKey = tuple[object, ...]
"""Identifies one transaction; returned by ``send_request`` and carried by every event."""


@dataclass(frozen=True, init=False, slots=True)
class RequestReceived:
    """A new request created a server transaction; answer it with ``send_response(key, ...)``."""

    key: TransactionKey
    request: SipRequest
    peer: Peer

    def __init__(
        self,
        key: TransactionKey,
        request: SipRequest,
        peer: Peer,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "peer", peer)


@dataclass(frozen=True, init=False, slots=True)
class ResponseReceived:
    """A response for a client transaction, passed up as RFC 3261 §17.1 says."""

    key: TransactionKey
    response: SipResponse
    peer: Peer

    def __init__(
        self,
        key: TransactionKey,
        response: SipResponse,
        peer: Peer,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "response", response)
        object.__setattr__(self, "peer", peer)


@dataclass(frozen=True, init=False, slots=True)
class TransactionTimedOut:
    """Timer B, F or H fired; client timeouts carry the 408 the TU must act on (§8.1.3.1)."""

    key: TransactionKey
    timer: str
    response: SipResponse | None

    def __init__(
        self,
        key: TransactionKey,
        timer: str,
        response: SipResponse | None,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "timer", timer)
        object.__setattr__(self, "response", response)


@dataclass(frozen=True, init=False, slots=True)
class TransactionFailed:
    """The transport could not deliver; client failures carry the 503 the TU acts on (§8.1.3.1)."""

    key: TransactionKey
    response: SipResponse | None

    def __init__(
        self,
        key: TransactionKey,
        response: SipResponse | None,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "response", response)


@dataclass(frozen=True, init=False, slots=True)
class TransactionTerminated:
    """The transaction reached Terminated and was forgotten; its key will match no more."""

    key: TransactionKey

    def __init__(
        self,
        key: TransactionKey,
    ) -> None:
        object.__setattr__(self, "key", key)


@dataclass(frozen=True, init=False, slots=True)
class AckReceived:
    """An ACK for a 2xx (end to end, §17.1.1.3); ``key`` is set when a transaction matched it."""

    key: TransactionKey | None
    request: SipRequest
    peer: Peer

    def __init__(
        self,
        key: TransactionKey | None,
        request: SipRequest,
        peer: Peer,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "peer", peer)


@dataclass(frozen=True, init=False, slots=True)
class CancelReceived:
    """A CANCEL: answer it on ``key``; ``invite_key`` is the INVITE it cancels, if any (§9.2)."""

    key: TransactionKey
    invite_key: TransactionKey | None
    request: SipRequest
    peer: Peer

    def __init__(
        self,
        key: TransactionKey,
        invite_key: TransactionKey | None,
        request: SipRequest,
        peer: Peer,
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "invite_key", invite_key)
        object.__setattr__(self, "request", request)
        object.__setattr__(self, "peer", peer)


Event = (
    RequestReceived
    | ResponseReceived
    | TransactionTimedOut
    | TransactionFailed
    | TransactionTerminated
    | AckReceived
    | CancelReceived
)
