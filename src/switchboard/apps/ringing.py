"""``Ringing()``: tell the caller the call is ringing (180)."""

from __future__ import annotations

from switchboard.dialplan.interpreter import Continue, Outcome
from switchboard.services.calls.channel import Channel

NAME = "Ringing"
SYNOPSIS = "Indicate ringing tone"


async def run(channel: Channel, args: str) -> Outcome:
    """Send 180 Ringing unless the call is answered."""
    channel.engine.ring(channel, 180)
    return Continue()
