"""Recording what the caller says (voicemail messages, greetings, forwarding intros).

The caller's relay leg is captured (``RelayLeg.capture`` swaps the leg's send function)
into a :class:`~switchboard.media.recorder.Recorder` until ``#``, the caller hanging up,
or ``max_seconds``; the audio is decoded once at the end.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from switchboard.apps.prompts import Prompter
from switchboard.media.g711 import Law
from switchboard.media.recorder import Recorder
from switchboard.services.calls.channel import Channel

log = logging.getLogger(__name__)


async def record(
    channel: Channel, prompts: Prompter, max_seconds: float, *, app: str = "VoiceMail"
) -> tuple[np.ndarray, bool]:
    """Record until ``#``, a hangup or ``max_seconds``: the audio (8 kHz PCM), and whether
    ``#`` ended it. A hangup does not cancel the caller's task here: what was said is
    returned, and the task is un-cancelled so the application can keep it."""
    leg, stream = channel.media_leg, channel.streams[0] if channel.streams else None
    codec = stream.codecs[0] if stream is not None and stream.codecs else None
    if leg is None or codec is None or codec.name not in ("ulaw", "alaw"):
        log.warning("%s: %s: no G.711 media to record", channel.name, app)
        return np.zeros(0, dtype=np.int16), False
    law: Law = "ulaw" if codec.name == "ulaw" else "alaw"
    recorder = Recorder(codec.local_payload_type, law, max_seconds=max_seconds)
    prompts.forget_keys()
    leg.capture(recorder.feed)
    by_key = False
    try:
        by_key = await until_hash(prompts, max_seconds)
    except asyncio.CancelledError:
        if not channel.hung_up:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # the caller hung up: what was recorded is kept all the same
    finally:
        leg.capture(None)
    return recorder.samples(), by_key


async def until_hash(prompts: Prompter, limit: float) -> bool:
    """Wait for ``#`` (True) or the end of ``limit`` seconds (False)."""
    deadline = asyncio.get_running_loop().time() + limit
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        if await prompts.digit(left) == "#":
            return True
    return False
