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
    headers = request.headers
    values = headers._index.get("via")
    if not values:
        return
    first = values[0]
    if "," in first:
        values = split_commas(first)
        values[0] = _stamped(values[0], host, port, force_rport)
        headers.replace_first("via", ", ".join(values))
    else:
        headers._index["via"][0] = _stamped(first, host, port, force_rport)  # replace_first


def _stamped(top: str, host: str, port: int, force_rport: bool) -> str:
    """One Via value with ``received`` and ``rport`` set; empty parameters dropped."""
    head, _, params_text = top.partition(";")
    kept: list[str] = []
    has_rport = False
    if params_text:
        lowered = params_text.lower()
        if "rport" in lowered or "received" in lowered:
            for param in params_text.split(";"):
                if param:
                    name = param.partition("=")[0].strip().lower()
                    if name == "rport":
                        has_rport = True
                    elif name != "received":
                        kept.append(param)
        elif ";;" in params_text or params_text[0] == ";" or params_text[-1] == ";":
            kept = [param for param in params_text.split(";") if param]
        else:
            kept.append(params_text)  # the usual case: every parameter kept as it came
    use_rport = has_rport or force_rport
    if use_rport or _sent_by_host(head).lower() != host.lower():
        kept.append(f"received={host}")
    if use_rport:
        kept.append(f"rport={port}")
    return ";".join([head.rstrip(), *kept])


def _sent_by_host(head: str) -> str:
    """The host of ``SIP/2.0/UDP host:port`` (IPv6 brackets removed)."""
    sent_by = head.strip().split(None, 1)[-1].strip()
    if sent_by.startswith("["):
        return sent_by[1 : sent_by.find("]")]
    return sent_by.partition(":")[0]
