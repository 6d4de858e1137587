"""The SIP trace of ``pjsip set logger on``: every message in and out, whole, as Asterisk's
res_pjsip_logger prints it, with SRTP keys taken out.

SIP itself carries digests, never passwords, but SDES (RFC 4568) puts the SRTP master key
in the SDP (``a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY``) and MIKEY in
``a=key-mgmt``: anyone reading the log could decrypt the call, so those are redacted.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

_CRYPTO_LINE = re.compile(r"(?im)^a=crypto:.*$")
_INLINE_KEY = re.compile(r"(?i)(inline:)[^|;\s]+")
_KEY_MGMT = re.compile(r"(?im)^(a=key-mgmt:\s*\S+\s+)\S+")


def redact_keys(text: str) -> str:
    """``text`` with every SDES inline key and MIKEY payload replaced by ``<redacted>``."""
    lowered = text.lower()
    if "a=crypto" not in lowered and "a=key-mgmt" not in lowered:
        return text
    text = _CRYPTO_LINE.sub(lambda line: _INLINE_KEY.sub(rf"\g<1>{REDACTED}", line[0]), text)
    return _KEY_MGMT.sub(rf"\g<1>{REDACTED}", text)


def trace_entry(outgoing: bool, data: bytes, where: str) -> str:
    """One message as the trace shows it: a header line naming direction, size, transport
    and address (``UDP:192.0.2.1:5060``), then the message."""
    text = redact_keys(data.decode("utf-8", "replace"))
    kind = "response" if text.startswith("SIP/2.0 ") else "request"
    if outgoing:
        head = f"<--- Transmitting SIP {kind} ({len(data)} bytes) to {where} --->"
    else:
        head = f"<--- Received SIP {kind} ({len(data)} bytes) from {where} --->"
    return f"{head}\n{text.rstrip()}\n"
