"""Where one leg's RTP comes from and goes to: symmetric RTP latching with strict source
checking, after rtp.conf ``strictrtp`` (``yes`` / ``seqno`` / ``no``) and ``probation``.

- ``yes``: the leg starts *learning*. Packets from the address the SDP gave are accepted;
  a source that sends ``probation`` packets with consecutive sequence numbers is latched
  (for a NATed phone: its public address), and from then on only it is accepted.
- ``seqno``: as ``yes``, and after learning a packet from a new address is still accepted
  (and latched) when its sequence number continues the stream: the phone moved.
- ``no``: every packet is accepted and the last source is latched (plain symmetric RTP).

The relay sends the other leg's media to :attr:`RtpLatch.address`. The hot path is
:meth:`RtpLatch.accept`: one compare and one store for a packet from the latched source;
the relay skips even that call for a packet from :attr:`RtpLatch.latched` (the latched
source once learning is over, under ``yes`` and ``no``: nothing about it is left to check).
"""

from __future__ import annotations

from collections.abc import Hashable

STRICTRTP_VALUES = ("yes", "seqno", "no")


class RtpLatch:
    """Source checking and symmetric-RTP latching for the packets of one leg."""

    __slots__ = (
        "_candidate",
        "_candidate_seq",
        "_count",
        "address",
        "dropped",
        "last_seq",
        "latched",
        "learning",
        "probation",
        "strictrtp",
    )

    def __init__(
        self, expected: Hashable | None = None, strictrtp: str = "yes", probation: int = 4
    ) -> None:
        """``expected``: the address from the SDP (None when not known yet)."""
        if strictrtp not in STRICTRTP_VALUES:
            raise ValueError(f"strictrtp {strictrtp!r}: expected one of {STRICTRTP_VALUES}")
        self.strictrtp = strictrtp
        self.probation = probation
        self.address = expected
        """Where the other leg's media goes (the latched source)."""
        self.latched: Hashable | None = None
        """A source whose packets are accepted without a call to :meth:`accept`; None
        while learning and under ``seqno`` (which follows every sequence number)."""
        self.last_seq: int | None = None
        self.dropped = 0
        self.learning = False
        self._candidate: Hashable | None = None
        self._candidate_seq = 0
        self._count = 0
        self.relearn(expected)

    def relearn(self, expected: Hashable | None) -> None:
        """Learn the source again (a re-INVITE changed the remote address)."""
        self.address = expected
        self.learning = self.strictrtp != "no"
        self._candidate = None
        self._count = 0
        self._settle()

    def _settle(self) -> None:
        """Point :attr:`latched` at the address once nothing per packet is left to check."""
        fast = not self.learning and self.strictrtp != "seqno"
        self.latched = self.address if fast else None

    def accept(self, address: Hashable, seq: int) -> bool:
        """True when a packet from ``address`` with sequence number ``seq`` is to be relayed."""
        if address == self.address and not self.learning:
            self.last_seq = seq
            return True
        return self._accept_other(address, seq)

    def _accept_other(self, address: Hashable, seq: int) -> bool:
        if self.strictrtp == "no":
            self.address = self.latched = address
            self.last_seq = seq
            return True
        if self.learning:
            if address == self._candidate and seq == (self._candidate_seq + 1) & 0xFFFF:
                self._count += 1
            else:
                self._candidate = address
                self._count = 1
            self._candidate_seq = seq
            if self._count >= self.probation:
                self.address = address
                self.learning = False
                self._settle()
            if address == self.address:
                self.last_seq = seq
                return True
        elif (
            self.strictrtp == "seqno"
            and self.last_seq is not None
            and seq == (self.last_seq + 1) & 0xFFFF
        ):
            self.address = address
            self.last_seq = seq
            return True
        self.dropped += 1
        return False
