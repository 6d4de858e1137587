"""Recording what the caller says (voicemail messages, greetings, forwarding intros).

The caller's relay leg is captured (``RelayLeg.capture`` swaps the leg's send function)
into an :class:`~switchboard.media.rtpport.RtpReceiver` (timestamp order, the leg's codec
decoded) whose sink is a :class:`~switchboard.media.recorder.Recorder`, until ``#``, the
caller hanging up, ``max_seconds``, or voicemail.conf ``maxsilence`` seconds of silence
(``silencethreshold``; 0 turns it off), checked every :data:`SILENCE_CHECK` seconds. As
Asterisk's ``ast_play_and_record_full``, a recording ended by silence keeps only the first
:data:`SILENCE_KEPT` seconds of that silence.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from switchboard.apps.prompts import Prompter
from switchboard.media.codecs import CODECS
from switchboard.media.recorder import DEFAULT_SILENCE_THRESHOLD, Recorder
from switchboard.media.rtpport import RtpReceiver
from switchboard.services.calls.channel import Channel

log = logging.getLogger(__name__)

SILENCE_CHECK = 0.2
"""How often the recording's trailing silence is measured (seconds)."""
SILENCE_KEPT = 0.2
"""Silence left at the end of a recording that silence ended (Asterisk keeps 200 ms)."""


async def record(
    channel: Channel, prompts: Prompter, max_seconds: float, *, app: str = "VoiceMail"
) -> tuple[np.ndarray, bool]:
    """Record until ``#``, a hangup, ``max_seconds`` or ``maxsilence``: the audio (8 kHz
    PCM), and whether ``#`` ended it. A hangup does not cancel the caller's task here: what
    was said is returned, and the task is un-cancelled so the application can keep it."""
    leg, stream = channel.media_leg, channel.streams[0] if channel.streams else None
    codec = stream.codecs[0] if stream is not None and stream.codecs else None
    if leg is None or codec is None or codec.name not in CODECS:
        log.warning("%s: %s: no G.711, G.722 or Opus media to record", channel.name, app)
        return np.zeros(0, dtype=np.int16), False
    service = channel.engine.voicemail
    max_silence = float(service.general.maxsilence) if service is not None else 0.0
    threshold = service.general.silencethreshold if service is not None else None
    recorder = Recorder(
        max_seconds=max_seconds,
        silence_threshold=DEFAULT_SILENCE_THRESHOLD if threshold is None else threshold,
    )
    receiver = RtpReceiver(codec.local_payload_type, CODECS[codec.name], (recorder,))
    prompts.forget_keys()
    leg.capture(receiver.put)
    by_key = False
    trim = 0.0
    try:
        if max_silence > 0:
            by_key, silence = await until_hash_or_silence(
                prompts, max_seconds, recorder, max_silence
            )
            if silence:
                log.info(
                    "%s: %s: recording stopped after %.1f s of silence", channel.name, app, silence
                )
                trim = max(0.0, silence - SILENCE_KEPT)
        else:
            by_key = await until_hash(prompts, max_seconds)
    except asyncio.CancelledError:
        if not channel.hung_up:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # the caller hung up: what was recorded is kept all the same
    finally:
        leg.capture(None)
        receiver.flush()
    return recorder.samples(trim), by_key


async def until_hash(prompts: Prompter, limit: float) -> bool:
    """Wait for ``#`` (True) or the end of ``limit`` seconds (False)."""
    deadline = asyncio.get_running_loop().time() + limit
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        if await prompts.digit(left) == "#":
            return True
    return False


async def until_hash_or_silence(
    prompts: Prompter, limit: float, recorder: Recorder, max_silence: float
) -> tuple[bool, float]:
    """Wait for ``#`` (True, 0), the end of ``limit`` seconds (False, 0), or ``max_silence``
    seconds of silence at the end of ``recorder`` (False, the silence's length)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while (left := deadline - loop.time()) > 0:
        if await prompts.digit(min(left, SILENCE_CHECK)) == "#":
            return True, 0.0
        silence = recorder.trailing_silence()
        if silence >= max_silence:
            return False, silence
    return False, 0.0
