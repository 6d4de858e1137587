"""RFC 3261 §17 transactions (with RFC 6026's Accepted state): four machines and a layer."""

from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionKey,
    TransactionTerminated,
    TransactionTimedOut,
)
from switchboard.sip.transaction.layer import MAGIC_COOKIE, TransactionLayer
from switchboard.sip.transaction.machine import Input, State
from switchboard.sip.transaction.timers import TimerValues

__all__ = [
    "MAGIC_COOKIE",
    "AckReceived",
    "CancelReceived",
    "Event",
    "Input",
    "RequestReceived",
    "ResponseReceived",
    "State",
    "TimerValues",
    "TransactionFailed",
    "TransactionKey",
    "TransactionLayer",
    "TransactionTerminated",
    "TransactionTimedOut",
]
