"""RFC 3261 §17 timer values (Table 4): T1, T2, T4 and the timers A-K derived from them.

RFC 6026 adds Timer L (INVITE server, Accepted) and Timer M (INVITE client, Accepted).
On a reliable transport the retransmission timers (A, E, G) are not started and the
wait timers D, I, J and K are zero: a transaction leaves Completed or Confirmed at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

T1 = 0.5
"""RTT estimate, seconds (RFC 3261 §17.1.1.1)."""
T2 = 4.0
"""Maximum retransmit interval for non-INVITE requests and INVITE responses, seconds."""
T4 = 5.0
"""Maximum duration a message remains in the network, seconds."""


@dataclass(frozen=True, slots=True)
class TimerValues:
    """T1/T2/T4 as configured and every timer duration derived from them, in seconds."""

    T1: float = T1
    T2: float = T2
    T4: float = T4
    reliable: bool = False
    TIMER_A: float = field(init=False)
    TIMER_B: float = field(init=False)
    TIMER_D: float = field(init=False)
    TIMER_E: float = field(init=False)
    TIMER_F: float = field(init=False)
    TIMER_G: float = field(init=False)
    TIMER_H: float = field(init=False)
    TIMER_I: float = field(init=False)
    TIMER_J: float = field(init=False)
    TIMER_K: float = field(init=False)
    TIMER_L: float = field(init=False)
    TIMER_M: float = field(init=False)

    def __post_init__(self) -> None:
        """Derive timers A-M from T1, T2 and T4 as RFC 3261 Table 4 and RFC 6026 §8 say."""
        if not 0 < self.T1 <= self.T2:
            raise ValueError(f"Expected 0 < T1 <= T2, found T1={self.T1} T2={self.T2}")
        if self.T4 < 0:
            raise ValueError(f"Expected T4 >= 0, found {self.T4}")
        wait = 64 * self.T1
        values = {
            "TIMER_A": self.T1,
            "TIMER_B": wait,
            # "at least 32 s" for unreliable transports; never shorter than the peer's Timer H.
            "TIMER_D": 0.0 if self.reliable else max(32.0, wait),
            "TIMER_E": self.T1,
            "TIMER_F": wait,
            "TIMER_G": self.T1,
            "TIMER_H": wait,
            "TIMER_I": 0.0 if self.reliable else self.T4,
            "TIMER_J": 0.0 if self.reliable else wait,
            "TIMER_K": 0.0 if self.reliable else self.T4,
            "TIMER_L": wait,
            "TIMER_M": wait,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def retransmits(self) -> bool:
        """Whether messages are retransmitted (Timers A, E, G): only on unreliable transports."""
        return not self.reliable

    def for_reliable_transport(self) -> TimerValues:
        """The same T1/T2/T4 with the reliable-transport rules applied."""
        return TimerValues(self.T1, self.T2, self.T4, reliable=True)
