"""``Congestion([timeout])``: the caller hears congestion; an unanswered call gets 503."""

from __future__ import annotations

from switchboard.dialplan.interpreter import Hangup, Outcome
from switchboard.services.calls.causes import CONGESTION
from switchboard.services.calls.channel import Channel

NAME = "Congestion"
SYNOPSIS = "Indicate the Congestion condition"


async def run(channel: Channel, args: str) -> Outcome:
    """End the dialplan with cause 34 (congestion): 503, or BYE once answered."""
    return Hangup(CONGESTION)
