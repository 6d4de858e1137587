"""``Answer([delay])``: answer the channel (200 OK with our SDP)."""

from __future__ import annotations

import asyncio

from switchboard.dialplan.interpreter import Continue, Hangup, Outcome
from switchboard.services.calls.channel import Channel

NAME = "Answer"
SYNOPSIS = "Answer a channel if ringing"


async def run(channel: Channel, args: str) -> Outcome:
    """Answer, then wait ``delay`` milliseconds as Asterisk does (media settling)."""
    if channel.hung_up:
        return Hangup()
    channel.engine.answer(channel)
    delay = args.split(",", maxsplit=1)[0].strip()
    if delay.isdigit() and int(delay) > 0:
        await asyncio.sleep(int(delay) / 1000)
    return Continue()
