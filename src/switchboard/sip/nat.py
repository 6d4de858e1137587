"""RFC 3581 for requests that arrive from behind NAT: stamp the top Via with ``received``
and ``rport`` so the response goes back to the address the request really came from."""

from __future__ import annotations

from switchboard.sip.headers import split_commas
from switchboard.sip.message import SipRequest


def stamp_via(request: SipRequest, host: str, port: int, *, force_rport: bool = True) -> None:
    """Add ``received=host`` (when it differs from sent-by, or rport is used) and fill
    ``rport=port``; the rest of the Via value keeps the peer's bytes.

    ``force_rport`` answers to the source port even when the phone did not ask (Asterisk's
    endpoint option of that name, on by default).
    """
    fields = request.headers.fields("via")
    if not fields:
        return
    first_field = fields[0]
    values = split_commas(first_field) if "," in first_field else [first_field]
    top = values[0]
    head, _, params_text = top.partition(";")
    params = [p for p in params_text.split(";") if p] if params_text else []
    names = [p.partition("=")[0].strip().lower() for p in params]
    has_rport = "rport" in names
    use_rport = has_rport or force_rport
    sent_by_host = _sent_by_host(head)
    kept = [p for p, n in zip(params, names, strict=True) if n not in ("rport", "received")]
    if use_rport or sent_by_host.lower() != host.lower():
        kept.append(f"received={host}")
    if use_rport:
        kept.append(f"rport={port}")
    values[0] = ";".join([head.rstrip(), *kept])
    request.headers.set("via", ", ".join(values))
    for extra in fields[1:]:
        request.headers.add("via", extra)


def _sent_by_host(head: str) -> str:
    """The host of ``SIP/2.0/UDP host:port`` (IPv6 brackets removed)."""
    sent_by = head.strip().split(None, 1)[-1].strip()
    if sent_by.startswith("["):
        return sent_by[1 : sent_by.find("]")]
    return sent_by.partition(":")[0]
