"""What INVITE sessions report to the call engine: past-tense frozen events."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.sip.dialog import DialogId
from switchboard.sip.message import SipRequest, SipResponse
from switchboard.sip.reason import Reason
from switchboard.sip.transaction.events import TransactionKey


@dataclass(frozen=True, slots=True)
class EarlyDialogCreated:
    """A 1xx with a To tag created an early dialog (one per fork on the UAC side)."""

    dialog_id: DialogId


@dataclass(frozen=True, slots=True)
class ProvisionalReceived:
    """A 1xx to our INVITE (``dialog_id`` is None without a To tag, as for 100)."""

    dialog_id: DialogId | None
    response: SipResponse


@dataclass(frozen=True, slots=True)
class DialogEstablished:
    """A 2xx to the initial INVITE confirmed the dialog (sent by us as UAS, or received)."""

    dialog_id: DialogId


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """The ACK for our 2xx to an INVITE arrived: the exchange is over, a re-INVITE may go."""

    dialog_id: DialogId


@dataclass(frozen=True, slots=True)
class InviteFailed:
    """Our initial INVITE ended without a 2xx: its final status (408 on timeout; 487 and no
    response when a CANCELled INVITE was never answered within 64*T1). ``call_id`` and
    ``local_tag`` (our From tag) name the INVITE even when no response came."""

    status: int
    response: SipResponse | None
    call_id: str = ""
    local_tag: str = ""


@dataclass(frozen=True, slots=True)
class DialogTerminated:
    """The dialog ended; ``reason`` is one of the ``TERMINATED_*`` strings of session.py."""

    dialog_id: DialogId
    reason: str
    status: int | None = None
    reasons: tuple[Reason, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class OfferReceived:
    """An SDP offer arrived in ``method`` (INVITE, UPDATE, a 2xx, a reliable 1xx): answer it."""

    dialog_id: DialogId
    body: bytes
    method: str


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    """The SDP answer to our offer; ``provisional`` for one in an unreliable 1xx (a preview)."""

    dialog_id: DialogId
    body: bytes
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class OfferRejected:
    """Our re-INVITE or UPDATE offer failed with ``status``: the previous session stands."""

    dialog_id: DialogId
    status: int


@dataclass(frozen=True, slots=True)
class SessionRefreshed:
    """A session refresh succeeded; the timer restarted with ``interval`` (0: no timer)."""

    dialog_id: DialogId
    interval: int


@dataclass(frozen=True, slots=True)
class InDialogRequestReceived:
    """An in-dialog request the session does not handle itself (INFO, REFER, NOTIFY, ...)."""

    dialog_id: DialogId
    key: TransactionKey
    request: SipRequest


@dataclass(frozen=True, slots=True)
class InDialogResponseReceived:
    """The final response to an in-dialog request we sent with ``InviteSession.request``."""

    dialog_id: DialogId
    key: TransactionKey
    response: SipResponse


SessionEvent = (
    EarlyDialogCreated
    | ProvisionalReceived
    | DialogEstablished
    | Acknowledged
    | InviteFailed
    | DialogTerminated
    | OfferReceived
    | AnswerReceived
    | OfferRejected
    | SessionRefreshed
    | InDialogRequestReceived
    | InDialogResponseReceived
)
