"""The Reason header field (RFC 3326): why a CANCEL or BYE was sent, as a Q.850 or SIP cause.

``Reason: Q.850;cause=16;text="Normal Clearing"`` tells the far end (and the CDR) what
ended the call; Asterisk sends it on the CANCEL of a Dial() that timed out or was
answered elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.sip.headers import parse_number, parse_params, quote, split_commas, unquote

Q850_CAUSES: dict[int, str] = {
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "No answer from user (user alerted)",
    20: "Subscriber absent",
    21: "Call rejected",
    26: "Non-selected user clearing",
    27: "Destination out of order",
    28: "Invalid number format",
    31: "Normal, unspecified",
    34: "No circuit/channel available",
    38: "Network out of order",
    41: "Temporary failure",
    47: "Resource unavailable, unspecified",
    127: "Interworking, unspecified",
}
"""ITU-T Q.850 cause values and their texts, for the ``text`` parameter."""


@dataclass(frozen=True, slots=True)
class Reason:
    """One Reason value: ``protocol;cause=N;text="..."`` (RFC 3326 §2)."""

    protocol: str
    cause: int | None
    text: str | None = None

    def __str__(self) -> str:
        value = self.protocol
        if self.cause is not None:
            value += f";cause={self.cause}"
        if self.text is not None:
            value += f";text={quote(self.text)}"
        return value


def q850_reason(cause: int, text: str | None = None) -> Reason:
    """A Q.850 Reason, its text taken from :data:`Q850_CAUSES` unless given."""
    return Reason("Q.850", cause, Q850_CAUSES.get(cause) if text is None else text)


def parse_reason(value: str) -> list[Reason]:
    """Every Reason in a header field value; items without a readable cause keep None."""
    reasons = []
    for item in split_commas(value):
        protocol, semi, rest = item.partition(";")
        params = parse_params(rest) if semi else {}
        cause = params.get("cause")
        text = params.get("text")
        reasons.append(
            Reason(
                protocol.strip(),
                None if cause is None else parse_number(cause, 2**32 - 1),
                None if text is None else unquote(text),
            )
        )
    return reasons
