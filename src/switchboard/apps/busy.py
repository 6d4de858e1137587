"""``Busy([timeout])``: the caller hears busy; an unanswered SIP call is refused 486."""

from __future__ import annotations

from switchboard.dialplan.interpreter import Hangup, Outcome
from switchboard.services.calls.causes import USER_BUSY
from switchboard.services.calls.channel import Channel

NAME = "Busy"
SYNOPSIS = "Indicate the Busy condition"


async def run(channel: Channel, args: str) -> Outcome:
    """End the dialplan with cause 17 (user busy): 486 Busy Here, or BYE once answered."""
    return Hangup(USER_BUSY)
