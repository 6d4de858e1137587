"""Our answers to requests that no session holds: the response itself (a fresh To tag,
our Server header) and the answer to credentials that did not pass, shared by the
registrar's router, subscriptions and the call engine."""

from __future__ import annotations

from collections.abc import Iterable

from switchboard.services.authenticate import AuthDecision, Verdict
from switchboard.sip.message import SipRequest, SipResponse, make_response
from switchboard.transport.entropy import pool

Refusal = tuple[int, str | None, list[tuple[str, str]]]
"""(status, reason phrase or None, header fields) of a refused request."""


def reply(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    *,
    server: str,
) -> SipResponse:
    """Our answer to ``request``: a fresh To tag (but on 100) and the Server header."""
    extra = [*headers, ("Server", server)]
    tag = None if status == 100 else pool.hex(4)
    return make_response(request, status, reason, to_tag=tag, headers=extra)


def refusal(decision: AuthDecision) -> Refusal | None:
    """400 for a malformed Authorization, the 401 challenge for anything else that did not
    authenticate an endpoint; None when the request may go on."""
    if decision.verdict is Verdict.BAD_REQUEST:
        return 400, "Malformed Authorization", []
    if decision.verdict is not Verdict.ACCEPTED or decision.endpoint is None:
        return 401, None, [("WWW-Authenticate", value) for value in decision.challenge]
    return None
