"""The store's writer thread: one thread, at idle CPU priority, for the database work the
server defers (write-behind of contacts and call records, start-up clean-ups).

The writes are background work: a batch of 800 contact refreshes costs 5-9 ms of CPU,
and when the server shares its core (pinned to one, or a busy machine) a thread at the
same priority took that time from the event loop in one piece, delaying every SIP
message behind it. Linux's ``SCHED_IDLE`` runs the thread only when the loop leaves the
core free, and never preempts it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def writer_executor() -> ThreadPoolExecutor:
    """One worker thread, named ``store``, at idle priority where the system has one."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="store", initializer=idle_priority)


def idle_priority() -> None:
    """Put the calling thread in ``SCHED_IDLE`` (on Linux, pid 0 means this thread, not
    the process); elsewhere, or when refused, it keeps its priority."""
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is None:
        return
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError:
        return
