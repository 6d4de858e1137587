"""The transaction layer's timers: one first-in, first-out queue per duration.

A layer arms only a handful of durations (T1 and its doublings, T2, T4, 64*T1), and on a
clock that never goes back, timers armed for the same duration come due in the order they
were armed. So a queue per duration keeps them sorted for free: arming and popping cost
O(1), where one heap of every armed timer cost a sift of log n tuple comparisons per timer
(3 % of py-spy's samples of a server at 200 calls/s). The order of firing is the heap's: by
deadline, then by arming.
"""

from __future__ import annotations

from bisect import insort
from collections import deque

from switchboard.sip.transaction.machine import Input, Transaction

Entry = tuple[float, int, Transaction, Input]
"""(deadline, arming number, transaction, timer)."""


class TimerQueues:
    """Armed timers, earliest first; a disarmed one stays until it comes up (the caller
    tells it by its arming number)."""

    __slots__ = ("_queues", "_seq")

    def __init__(self) -> None:
        self._queues: dict[float, deque[Entry]] = {}
        self._seq = 0

    def push(self, transaction: Transaction, timer: Input, now: float, duration: float) -> int:
        """Arm ``timer`` for ``duration`` from ``now``; returns this arming's number."""
        self._seq += 1
        entry = (now + duration, self._seq, transaction, timer)
        queue = self._queues.get(duration)
        if queue is None:
            queue = self._queues[duration] = deque()
        if queue and queue[-1][0] > entry[0]:
            insort(queue, entry)  # the clock went back (a test's): keep the queue sorted
        else:
            queue.append(entry)
        return self._seq

    def number(self) -> int:
        """An arming number for a timer kept elsewhere (the layer's settled records), so
        that timers due at the same time still fire in the order they were armed."""
        self._seq += 1
        return self._seq

    def earliest(self) -> Entry | None:
        """The entry due first, or None when no timer is queued."""
        queue = self._earliest_queue()
        return None if queue is None else queue[0]

    def pop(self) -> Entry | None:
        """Remove and return the entry due first."""
        queue = self._earliest_queue()
        return None if queue is None else queue.popleft()

    def pop_due(self, now: float) -> Entry | None:
        """Remove and return the entry due first if it is due at ``now``."""
        queue = self._earliest_queue()
        if queue is None or queue[0][0] > now:
            return None
        return queue.popleft()

    def __len__(self) -> int:
        """How many entries are queued, disarmed ones included."""
        return sum(len(queue) for queue in self._queues.values())

    def _earliest_queue(self) -> deque[Entry] | None:
        best: deque[Entry] | None = None
        deadline = 0.0
        seq = 0
        for queue in self._queues.values():
            if not queue:
                continue
            head = queue[0]
            if best is None or head[0] < deadline or (head[0] == deadline and head[1] < seq):
                best, deadline, seq = queue, head[0], head[1]
        return best
