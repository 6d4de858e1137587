"""DTMF in SIP INFO: the ``application/dtmf-relay`` body phones send (``Signal=5``)."""

from __future__ import annotations

from switchboard.sip.message import SipRequest


def dtmf_relay_digit(request: SipRequest) -> str | None:
    """The digit of a SIP INFO ``application/dtmf-relay`` (``Signal=5``), or None."""
    content_type = (request.headers.get("content-type") or "").lower()
    if not content_type.startswith("application/dtmf-relay"):
        return None
    for line in request.body.decode("latin-1").splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == "signal":
            digit = value.strip().upper()
            return digit if len(digit) == 1 and digit in "0123456789*#ABCD" else None
    return None
