"""Timer queues per duration fire in the order one heap of every timer would."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st
from transaction_support import make_request, new_layer

from switchboard.sip.peer import Peer
from switchboard.sip.transaction.client_non_invite import ClientNonInviteTransaction
from switchboard.sip.transaction.machine import Input
from switchboard.sip.transaction.queues import TimerQueues
from switchboard.sip.transaction.timers import TimerValues

UDP = Peer("udp", "192.0.2.1", 5060)
TRANSACTION = ClientNonInviteTransaction(new_layer(), ("k",), make_request(), UDP, TimerValues())

arming = st.tuples(
    st.floats(min_value=-1.0, max_value=3.0),  # the clock's step: now and then backwards
    st.sampled_from([0.5, 1.0, 2.0, 4.0, 5.0, 32.0]),
)


@given(st.lists(arming, max_size=60), st.lists(st.floats(0.0, 80.0), max_size=8))
def test_entries_come_out_as_from_one_heap(
    armings: list[tuple[float, float]], polls: list[float]
) -> None:
    queues = TimerQueues()
    heap: list[tuple[float, int]] = []
    now = 0.0
    for step, duration in armings:
        now += step
        seq = queues.push(TRANSACTION, Input.TIMER_A, now, duration)
        heapq.heappush(heap, (now + duration, seq))
    assert len(queues) == len(heap)
    for poll in sorted(polls):
        due = []
        while (entry := queues.pop_due(poll)) is not None:
            due.append(entry[:2])
        expected = []
        while heap and heap[0][0] <= poll:
            expected.append(heapq.heappop(heap))
        assert due == expected
    while (entry := queues.earliest()) is not None:
        assert queues.pop() == entry
        assert entry[:2] == heapq.heappop(heap)
    assert heap == [] and len(queues) == 0
