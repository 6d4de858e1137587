"""Errors of the SIP layer, split as h11 does: whose fault it is decides what happens.

- :class:`RemoteProtocolError`: the peer sent something invalid. For a request it carries
  the status (and reason, and any extra header fields such as ``Unsupported``) to answer
  with; the server answers when it can build a response, else it drops the message.
- :class:`UnanswerableError`: a malformed response, or bytes that are not a request at
  all. Nothing can be answered (RFC 3261 §18.1.2: a bad response is discarded): drop it.
- :class:`UnsupportedUriSchemeError`: a well-formed URI of a scheme we do not serve (416).
- :class:`LocalProtocolError`: our own code asked for something the protocol forbids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from switchboard.sip.message import SipRequest


class SipError(Exception):
    """Base of every error raised by ``switchboard.sip``."""


class LocalProtocolError(SipError):
    """We tried to build or send something invalid: a bug on our side, never the peer's."""


class RemoteProtocolError(SipError):
    """The peer's message breaks the protocol; answer a request with ``status`` ``reason``."""

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Sequence[tuple[str, str]] = (),
        request: SipRequest | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = tuple(headers)
        self.request = request
        """The request as far as it could be read, to build the error response from."""


class UnanswerableError(RemoteProtocolError):
    """A malformed response or unreadable start line: no one to answer, so drop it."""


class UnsupportedUriSchemeError(RemoteProtocolError):
    """A syntactically valid URI whose scheme is not sip, sips or tel (answer 416)."""

    def __init__(self, scheme: str) -> None:
        super().__init__(416, f"Unsupported URI Scheme {scheme!r}")
        self.scheme = scheme
