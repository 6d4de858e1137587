"""Errors of the SDP layer; each carries the SIP status a server answers the offer with.

- :class:`SdpParseError`: the body is not a valid session description (400, with the
  short reason in the reason phrase or a Warning header).
- :class:`NotAcceptableError`: a valid offer with nothing we can accept (488).
- :class:`OfferAnswerError`: the peer broke the offer/answer rules (RFC 3264, RFC 3261
  §14): :class:`GlareError` (491) for an offer while ours is pending, 500 for a second
  offer before we answered the first, 488 for an answer that does not fit the offer.
- :class:`LocalOfferAnswerError`: our own code fed the negotiator an impossible input.
"""

from __future__ import annotations

from typing import ClassVar


class SdpError(Exception):
    """Base of every error raised by ``switchboard.sdp``; ``status`` is the SIP answer."""

    # ClassVar: compiled by mypyc, a plain class attribute of an exception class is an
    # instance default that its instances never get.
    default_status: ClassVar[int] = 400
    """``status`` unless the raiser gives one."""

    MAX_REASON: ClassVar[int] = 160
    """Reasons end up in a SIP reason phrase or Warning header: keep them short."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        if len(reason) > self.MAX_REASON:
            reason = reason[: self.MAX_REASON - 3] + "..."
        super().__init__(reason)
        self.reason = reason
        self.status = self.default_status if status is None else status


class SdpParseError(SdpError):
    """Malformed session description: answer 400 with ``reason``."""


class NotAcceptableError(SdpError):
    """Nothing in the offer is acceptable (no common codec, no usable stream): 488."""

    default_status: ClassVar[int] = 488


class OfferAnswerError(SdpError):
    """The peer's offer or answer breaks RFC 3264 in the current state."""

    default_status: ClassVar[int] = 488


class GlareError(OfferAnswerError):
    """An offer arrived while our own offer is pending: answer 491 (RFC 3261 §14.2)."""

    default_status: ClassVar[int] = 491


class LocalOfferAnswerError(SdpError):
    """Our side asked for a transition the offer/answer model forbids: a bug, never the peer's."""

    default_status: ClassVar[int] = 500
