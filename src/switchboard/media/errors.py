"""Errors of the media layer: one base class, one subclass per wire format.

Parsers raise only these (never ``struct.error``, ``IndexError`` or ``ValueError`` from
inside), so an adapter can drop a bad packet with one ``except MediaError``.
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of every error raised by ``switchboard.media``."""


class RtpError(MediaError):
    """An RTP packet (RFC 3550 §5.1) that cannot be parsed or built."""


class RtcpError(MediaError):
    """An RTCP packet (RFC 3550 §6) that cannot be parsed or built."""


class DtmfError(MediaError):
    """A telephone-event payload (RFC 4733 §2.3) that cannot be parsed or built."""
