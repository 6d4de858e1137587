"""``VoiceMail(box[@context][&box2...][,options])``: the caller leaves a message.

As Asterisk 21's ``leave_voicemail``: the channel is answered; a full box says so
(``vm-mailboxfull``) and records nothing; option ``u`` plays the unavailable greeting,
``b`` the busy one (the box's own recording, else "the person at extension 101 is
unavailable" built from prompts), a recorded ``temp`` greeting wins over both, and
without either option only a ``temp`` greeting plays; ``s`` skips the instructions
(``vm-intro``). With several boxes (``101&102``) the first one's greeting plays and the
message is left in each box that has room. During the greeting ``#`` skips to the beep
and ``0`` leaves for the ``o`` extension (of ``exitcontext`` when set) when
``operator=yes``. The beep, then the recording: until ``#``, the caller hanging up, or
``maxsecs`` (0: the safety cap, switchboard.conf's ``recording_cap``). A message shorter
than ``minsecs`` is discarded. With ``review=yes``, ``#`` leads to "1 to accept, 2 to
listen, 3 to re-record". A caller who hangs up still leaves the message. ``VMSTATUS`` is
SUCCESS, USEREXIT or FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import numpy as np

from switchboard.apps.prompts import Prompter
from switchboard.apps.recording import record
from switchboard.config.voicemail import Mailbox
from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.interpreter import Continue, Goto, Hangup, Outcome
from switchboard.media.saynumber import say_digits
from switchboard.services.calls.channel import Channel
from switchboard.services.voicemail.service import VoicemailService
from switchboard.services.voicemail.spool import MessageInfo, make_msg_id

NAME = "VoiceMail"
SYNOPSIS = "Leave a Voicemail message"

log = logging.getLogger(__name__)


def _status(value: str) -> dict[str, str]:
    return {"VMSTATUS": value}


async def run(channel: Channel, args: str) -> Outcome:
    """Greet, beep, record, review, store."""
    service: VoicemailService | None = channel.engine.voicemail
    parts = separate_args(args)
    boxes = [b.strip() for b in (parts[0] if parts else "").split("&") if b.strip()]
    options = parts[1] if len(parts) > 1 else ""
    found = [service.mailbox(box) for box in boxes] if service is not None else []
    if service is None or not found or found[0] is None:
        log.warning("%s: VoiceMail: no mailbox %r in voicemail.conf", channel.name, args)
        return Continue(_status("FAILED"))
    return await leave(channel, service, [m for m in found if m is not None], options)


async def leave(
    channel: Channel,
    service: VoicemailService,
    mailboxes: list[Mailbox],
    options: str,
    *,
    goodbye: bool = True,
    prompts: Prompter | None = None,
) -> Outcome:
    """``leave_voicemail`` for the first of ``mailboxes`` (and copies to the others); also
    what VoiceMailMain's reply and "leave a message" run, with its prompter and no goodbye."""
    mailbox = mailboxes[0]
    channel.engine.answer(channel)
    prompts = prompts or Prompter(channel)
    if service.full(mailbox):
        await prompts.play("vm-mailboxfull")
        return Continue(_status("FAILED"))
    key = await _greet(service, mailbox, prompts, options)
    if key == "0" and service.general.operator:
        exit_context = mailbox.setting("exitcontext", service.general.exitcontext)
        target = f"{exit_context},o,1" if exit_context else "o,1"
        return Goto(target, _status("USEREXIT"))
    if key is None and "s" not in options:
        key = await prompts.play("vm-intro", stop_on="#")
    await prompts.play("beep")
    samples, by_key = await _record(channel, service, prompts)
    long_enough = len(samples) / 8000 >= max(service.general.minsecs, 0.001)
    if long_enough and by_key and service.general.review and not channel.hung_up:
        samples = await _review(channel, service, prompts, samples)
    return await _store(channel, service, mailboxes, prompts, samples, goodbye=goodbye)


async def _greet(
    service: VoicemailService, mailbox: Mailbox, prompts: Prompter, options: str
) -> str | None:
    """Play the greeting; the key that cut it short (``#`` or ``0``), if any."""
    busy = "b" in options
    wanted = "busy" if busy else "unavail" if "u" in options else None
    greeting = await service.greeting(mailbox, "temp")
    if greeting is None and wanted is not None:
        greeting = await service.greeting(mailbox, wanted)
    if greeting is not None:
        return await prompts.play_audio(greeting, stop_on="#0")
    if wanted is None:
        return None
    digits = say_digits(mailbox.box, prompts.language)
    ending = "vm-isonphone" if busy else "vm-isunavail"
    return await prompts.play("vm-theperson", *digits, ending, stop_on="#0")


async def _record(
    channel: Channel, service: VoicemailService, prompts: Prompter
) -> tuple[np.ndarray, bool]:
    """Record until ``#``, a hangup or the time limit: the audio, and whether ``#`` ended it."""
    return await record(channel, prompts, service.max_seconds, app=NAME)


async def _review(
    channel: Channel, service: VoicemailService, prompts: Prompter, samples: np.ndarray
) -> np.ndarray:
    """``review=yes``: 1 accepts, 2 plays it back, 3 records again."""
    for _ in range(3):
        key = await prompts.play("vm-review", stop_on="123")
        if key is None:
            key = await prompts.digit(5.0)
        if key == "1" or channel.hung_up:
            break
        if key == "2":
            await prompts.play_audio(samples, stop_on="123")
        elif key == "3":
            await prompts.play("beep")
            samples, _ = await _record(channel, service, prompts)
    return samples


async def _store(
    channel: Channel,
    service: VoicemailService,
    mailboxes: list[Mailbox],
    prompts: Prompter,
    samples: np.ndarray,
    *,
    goodbye: bool,
) -> Outcome:
    """Keep the message unless it is too short; thank the caller if still there."""
    duration = len(samples) / 8000
    if duration < max(service.general.minsecs, 0.001):
        log.info("%s: VoiceMail: message of %.1f s discarded (minsecs)", channel.name, duration)
        return Continue(_status("FAILED"))
    state = channel.dialplan
    number, name = channel.caller_number, channel.caller_name
    now = time.time()
    stored = 0
    for mailbox in mailboxes:
        info = MessageInfo(
            origmailbox=mailbox.box,
            context=state.context if state is not None else channel.endpoint.context,
            macrocontext="",
            exten=channel.exten,
            rdnis="unknown",
            priority=state.priority if state is not None else 1,
            callerchan=channel.name,
            callerid=f'"{name}" <{number}>' if name else f"<{number}>",
            origdate=time.strftime("%a %b %d %I:%M:%S %p UTC %Y", time.gmtime(now)),
            origtime=int(now),
            category="",
            msg_id=make_msg_id(int(now)),
            flag="",
            duration=round(duration),
        )
        message = await service.deposit(mailbox, samples, info)
        if message is None:
            log.info("%s: VoiceMail: %s is full, no copy left", channel.name, mailbox.address)
            continue
        stored += 1
        log.info(
            "%s: VoiceMail: message %d for %s (%.1f s)",
            channel.name,
            message.number,
            mailbox.address,
            duration,
        )
    if not stored:
        return Continue(_status("FAILED"))
    if not channel.hung_up:
        with contextlib.suppress(asyncio.CancelledError):
            await prompts.play("vm-msgsaved", *(["vm-goodbye"] if goodbye else []))
    return (
        Continue(_status("SUCCESS"))
        if not channel.hung_up
        else Hangup(channel.cause, _status("SUCCESS"))
    )
