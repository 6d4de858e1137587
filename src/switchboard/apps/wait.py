"""``Wait(seconds)``: pause the dialplan (fractions allowed)."""

from __future__ import annotations

import asyncio

from switchboard.dialplan.interpreter import Continue, Hangup, Outcome
from switchboard.services.calls.channel import Channel

NAME = "Wait"
SYNOPSIS = "Waits for some time"


async def run(channel: Channel, args: str) -> Outcome:
    """Sleep; a hangup meanwhile cancels the sleep (the runner sees it)."""
    try:
        seconds = float(args.split(",", maxsplit=1)[0] or 0)
    except ValueError:
        return Hangup()
    if seconds > 0:
        await asyncio.sleep(seconds)
    return Continue()
