"""``Echo()``: answer and send the caller's audio (and DTMF) back to it until it hangs up."""

from __future__ import annotations

from switchboard.dialplan.interpreter import Hangup, Outcome
from switchboard.services.calls.channel import Channel

NAME = "Echo"
SYNOPSIS = "Echo media, DTMF back to the calling party"


async def run(channel: Channel, args: str) -> Outcome:
    """Loop leg ``a`` of the relay back on itself; return once the caller hangs up."""
    channel.engine.answer(channel)
    if channel.relay is not None:
        channel.relay.echo("a")
    await channel.ended
    return Hangup()
