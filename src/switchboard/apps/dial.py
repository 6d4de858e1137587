"""``Dial(PJSIP/a[&PJSIP/b...][,timeout[,options]])``: ring phones, bridge the first to answer.

Asterisk 21's semantics: every registered contact of every target rings at once; the caller
hears 180 when one rings (at once with option ``r``); nobody answering within ``timeout``
seconds CANCELs them all (``Reason: Q.850;cause=19``) and the dialplan goes on with
``DIALSTATUS=NOANSWER``; no contact at all gives ``CHANUNAVAIL`` at once, busy gives
``BUSY``. The first to answer is bridged and the others are CANCELled as answered
elsewhere. After the bridge, the dialplan continues only with option ``g`` when the callee
hung up; otherwise the call ends. A blind transfer (REFER) by the callee sends the caller to
the target extension; one by the caller hands the callee to it and ends here. An attended
transfer swaps the peer, or ends this Dial when this side was transferred into another call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.interpreter import Continue, Goto, Hangup, Outcome
from switchboard.services.calls.causes import NO_ANSWER, NORMAL_CLEARING, dial_status
from switchboard.services.calls.channel import Channel, Transfer

NAME = "Dial"
SYNOPSIS = "Attempt to connect to another device or endpoint and bridge the call"

log = logging.getLogger(__name__)


def _timeout(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None


class _Reports:
    """What the dialled legs report, oldest first, for the Dial waiting on them: one future
    per wait and one timer per Dial (a queue read through ``wait_for`` cost a task and a
    timer for every report)."""

    __slots__ = ("_items", "_loop", "_waiter", "expired")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._items: deque[tuple[Channel, str]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.expired = False
        """Whether the Dial's timeout passed."""

    def report(self, leg: Channel, what: str) -> None:
        """A leg's news (the engine calls this as the legs' listener)."""
        self._items.append((leg, what))
        self._wake()

    def expire(self) -> None:
        """The Dial's timeout passed: the wait ends with no report."""
        self.expired = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> tuple[Channel, str] | None:
        """The oldest report not yet taken; None once the timeout has passed."""
        while not self.expired and not self._items:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return None if self.expired else self._items.popleft()


async def run(channel: Channel, args: str) -> Outcome:
    """Dial, wait for an answer, bridge, and report DIALSTATUS."""
    parts = separate_args(args)
    targets = parts[0] if parts else ""
    timeout = _timeout(parts[1].strip()) if len(parts) > 1 else None
    options = parts[2] if len(parts) > 2 else ""
    engine = channel.engine
    reports = _Reports(engine.loop)
    legs: list[Channel] = []
    for target in targets.split("&"):
        technology, _, resource = target.strip().partition("/")
        if technology.upper() != "PJSIP" or not resource:
            log.warning("%s: Dial: cannot dial %r (only PJSIP/<endpoint>)", channel.name, target)
            continue
        legs += engine.originate(channel, resource.split("/")[0], reports.report)
    if not legs:
        return Continue({"DIALSTATUS": "CHANUNAVAIL"})
    if "r" in options:
        engine.ring(channel, 180)
    answered = await _wait_answer(channel, legs, reports, timeout)
    if isinstance(answered, str):
        return Continue({"DIALSTATUS": answered})
    engine.bridge(channel, answered)
    transfer = await _bridged(channel, answered)
    answered = transfer.peer if transfer.kind == "ended" and transfer.peer else answered
    if transfer.kind == "goto":
        return Goto(transfer.target, {"DIALSTATUS": "ANSWER"})
    if transfer.kind in ("away", "handover"):
        return Hangup(NORMAL_CLEARING, {"DIALSTATUS": "ANSWER"})
    if channel.hung_up:
        return Hangup(channel.cause, {"DIALSTATUS": "ANSWER"})
    if "g" in options:
        return Continue({"DIALSTATUS": "ANSWER"})
    return Hangup(answered.cause or NORMAL_CLEARING, {"DIALSTATUS": "ANSWER"})


async def _bridged(channel: Channel, answered: Channel) -> Transfer:
    """Wait while the two talk: until one hangs up (kind ``ended``, with the last peer) or a
    transfer moves one of them; an attended transfer may swap the peer meanwhile."""
    engine = channel.engine
    loop = engine.loop
    outcome = Transfer("ended", peer=answered)
    channel.app_awaits_end = True  # a hangup wakes the wait below: no cancel needed
    try:
        while True:
            transfer: asyncio.Future[Transfer] = loop.create_future()
            channel.transfer = transfer
            await _first_done((channel.ended, answered.ended, transfer))
            if not transfer.done():
                transfer.cancel()
                outcome = Transfer("ended", peer=answered)
                return outcome
            outcome = transfer.result()
            if outcome.kind != "swap" or outcome.peer is None:
                return outcome
            engine.hangup(answered, NORMAL_CLEARING)
            answered = outcome.peer
            outcome = Transfer("ended", peer=answered)
    finally:
        channel.transfer = None
        channel.app_awaits_end = False
        if outcome.kind != "away" and not answered.hung_up:
            engine.hangup(answered, channel.cause or NORMAL_CLEARING)


async def _first_done(futures: tuple[asyncio.Future[Any], ...]) -> None:
    """Return once one of ``futures`` is done: ``asyncio.wait(FIRST_COMPLETED)`` without the
    sets and the callback bookkeeping it builds for its result."""
    if any(future.done() for future in futures):
        return
    waiter: asyncio.Future[None] = futures[0].get_loop().create_future()

    def wake(_: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    try:
        await waiter
    finally:
        for future in futures:
            future.remove_done_callback(wake)


async def _wait_answer(
    channel: Channel,
    legs: list[Channel],
    reports: _Reports,
    timeout: float | None,
) -> Channel | str:
    """The leg that answered, or the DIALSTATUS when none did; a caller hangup cancels
    the task, and every ringing leg is CANCELled on the way out."""
    engine = channel.engine
    loop = engine.loop
    timer = None if timeout is None else loop.call_later(timeout, reports.expire)
    pending = set(legs)
    causes: list[int] = []
    answered: Channel | None = None
    try:
        while pending:
            report = await reports.next()
            if report is None:
                return "NOANSWER"
            leg, what = report
            if what in {"ringing", "progress"}:
                engine.ring(channel, 180)
            elif what == "answered" and leg in pending:
                answered = leg
                return leg
            elif what == "ended" and leg in pending:
                pending.discard(leg)
                causes.append(leg.cause)
        return dial_status(causes)
    finally:
        if timer is not None:
            timer.cancel()
        if answered is not None:
            engine.cancel_others(legs, answered)
        else:
            cause = channel.cause if channel.hung_up else NO_ANSWER
            for leg in legs:
                engine.hangup(leg, cause)
        for leg in legs:  # nothing reads the reports now; a leg keeping them is a cycle
            leg.listener = None
