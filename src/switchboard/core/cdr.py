"""Call detail records: one :class:`CallRecord` per call, with Asterisk's CDR fields and
spellings (``cdr_csv``/``cdr_adaptive_odbc`` columns), plus the RTP quality of each leg.

Pure: the call engine builds records from what it saw (times are epoch seconds it passes
in) and the store persists them.

How Asterisk 21 (``main/cdr.c``) decides a disposition, which :func:`disposition_for`
follows:

- A ``Dial()`` that ended sets it from ``DIALSTATUS``: ``ANSWER`` -> ``ANSWERED``,
  ``BUSY`` -> ``BUSY``, ``NOANSWER`` and ``CANCEL`` -> ``NO ANSWER``, ``CONGESTION`` ->
  ``FAILED`` (``CONGESTION`` only with ``congestion=yes`` in cdr.conf), and everything
  else (``CHANUNAVAIL``, ``FAILED``, ``DONTCALL``, ``TORTURE``, ``INVALIDARGS``) ->
  ``FAILED``.
- Otherwise, when the record is finalized: answered -> ``ANSWERED``; else from the Q.850
  hangup cause: 17 (user busy) -> ``BUSY``, 34 (congestion) as above, 3 (no route) and
  20 (subscriber absent) -> ``FAILED``, 16 (normal clearing) and 19 (no answer) ->
  ``NO ANSWER``; any other cause leaves Asterisk's "null" disposition, which it prints as
  ``NO ANSWER``; no cause at all -> ``FAILED``.

``duration`` and ``billsec`` are whole seconds cut down, as Asterisk computes them (the
milliseconds between the two times, divided by 1000).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final, Protocol

ANSWERED: Final = "ANSWERED"
NO_ANSWER: Final = "NO ANSWER"
BUSY: Final = "BUSY"
FAILED: Final = "FAILED"
CONGESTION: Final = "CONGESTION"
DISPOSITIONS: Final = frozenset({ANSWERED, NO_ANSWER, BUSY, FAILED, CONGESTION})

# Q.850 cause values (Asterisk's AST_CAUSE_* names) that decide a disposition.
AST_CAUSE_NO_ROUTE_DESTINATION: Final = 3
AST_CAUSE_NORMAL_CLEARING: Final = 16
AST_CAUSE_USER_BUSY: Final = 17
AST_CAUSE_NO_ANSWER: Final = 19
AST_CAUSE_SUBSCRIBER_ABSENT: Final = 20
AST_CAUSE_NORMAL_CIRCUIT_CONGESTION: Final = 34

_BY_DIALSTATUS: Final = {
    "ANSWER": ANSWERED,
    "BUSY": BUSY,
    "NOANSWER": NO_ANSWER,
    "CANCEL": NO_ANSWER,
}

_BY_CAUSE: Final = {
    AST_CAUSE_USER_BUSY: BUSY,
    AST_CAUSE_NO_ROUTE_DESTINATION: FAILED,
    AST_CAUSE_SUBSCRIBER_ABSENT: FAILED,
    AST_CAUSE_NORMAL_CLEARING: NO_ANSWER,
    AST_CAUSE_NO_ANSWER: NO_ANSWER,
}


def disposition_for(
    dialstatus: str | None,
    answered: bool,
    hangupcause: int | None = None,
    *,
    congestion: bool = False,
) -> str:
    """The CDR disposition Asterisk 21 would record.

    ``dialstatus`` is the ``DIALSTATUS`` of the ``Dial()`` that ended the record (None when
    the call never dialled out), ``answered`` whether the record's channel was answered,
    ``hangupcause`` its Q.850 cause, ``congestion`` cdr.conf's ``congestion`` option.
    """
    if dialstatus is not None:
        status = dialstatus.upper()
        if status == "CONGESTION":
            return CONGESTION if congestion else FAILED
        return _BY_DIALSTATUS.get(status, FAILED)
    if answered:
        return ANSWERED
    if not hangupcause:
        return FAILED
    if hangupcause == AST_CAUSE_NORMAL_CIRCUIT_CONGESTION:
        return CONGESTION if congestion else FAILED
    return _BY_CAUSE.get(hangupcause, NO_ANSWER)


def whole_seconds(since: float | None, until: float) -> int:
    """Seconds from ``since`` to ``until`` cut down to whole seconds, 0 when ``since`` is
    None (never answered) or after ``until``: Asterisk's ``duration`` and ``billsec``."""
    if since is None:
        return 0
    return max(0, round((until - since) * 1000) // 1000)


class StreamSummary(Protocol):
    """What :meth:`LegQuality.of` reads; ``media.stats.StreamQuality`` has it."""

    @property
    def packets_received(self) -> int: ...
    @property
    def packets_lost(self) -> int: ...
    @property
    def loss(self) -> float: ...
    @property
    def jitter_ms(self) -> float: ...
    @property
    def rtt_ms(self) -> float | None: ...
    @property
    def mos(self) -> float: ...


@dataclass(frozen=True, slots=True)
class LegQuality:
    """The RTP received from one phone: loss (0..1), jitter and RTT in ms, an MOS estimate."""

    packets_received: int
    packets_lost: int
    loss: float
    jitter_ms: float
    rtt_ms: float | None
    mos: float

    @classmethod
    def of(cls, summary: StreamSummary) -> LegQuality:
        """Copy the fields of a stream summary (the media relay's per-leg quality)."""
        return cls(
            packets_received=summary.packets_received,
            packets_lost=summary.packets_lost,
            loss=summary.loss,
            jitter_ms=summary.jitter_ms,
            rtt_ms=summary.rtt_ms,
            mos=summary.mos,
        )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call detail record, with Asterisk's field names and meanings.

    ``uniqueid``/``linkedid`` identify the caller's channel and the whole call; ``clid`` is
    the caller ID as ``"name" <number>``; ``channel``/``dstchannel`` are channel names like
    ``PJSIP/bob-00000001``; ``lastapp``/``lastdata`` the last dialplan application and its
    arguments; ``start``/``answer``/``end`` epoch seconds; ``disposition`` one of
    :data:`DISPOSITIONS`; ``hangupcause`` the Q.850 cause. ``caller_quality`` is the RTP
    received from the caller's phone, ``callee_quality`` from the callee's (None without
    media).
    """

    uniqueid: str
    linkedid: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str
    hangupcause: int
    caller_quality: LegQuality | None = None
    callee_quality: LegQuality | None = None

    def __post_init__(self) -> None:
        if self.disposition not in DISPOSITIONS:
            expected = ", ".join(sorted(DISPOSITIONS))
            raise ValueError(f"CDR disposition must be one of {expected}, not {self.disposition!r}")

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly fields; qualities as nested dicts (or None)."""
        return asdict(self)
