"""``Progress()``: early media (183 Session Progress with our SDP)."""

from __future__ import annotations

from switchboard.dialplan.interpreter import Continue, Outcome
from switchboard.services.calls.channel import Channel

NAME = "Progress"
SYNOPSIS = "Indicate progress"


async def run(channel: Channel, args: str) -> Outcome:
    """Send 183 with the SDP answer, so the caller hears what the dialplan plays."""
    channel.engine.ring(channel, 183)
    return Continue()
