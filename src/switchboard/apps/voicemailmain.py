"""``VoiceMailMain([box][@context][,options])``: users hear and manage their messages.

As Asterisk 21's ``vm_execmain``: the mailbox (unless given) and the password are asked
by DTMF (``vm-login``, ``vm-password``); ``maxlogins`` wrong attempts end the call, and
the failure is reported (``VoicemailLoginFailed``, a security event). Then "you have N new
and M old messages", and the menu: ``1`` listens to the messages of the current folder,
``2`` switches between INBOX and Old, ``*`` repeats the help, ``#`` leaves. While a
message plays or after it: ``4`` previous, ``5`` repeat, ``6`` next, ``7`` delete, ``#``
leaves. Heard new messages move to Old and deleted ones go, when the session ends (as
Asterisk does on exit), even when the user just hangs up. Option ``s`` skips the
password.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from switchboard.apps.prompts import Prompter
from switchboard.config.voicemail import Mailbox
from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.interpreter import Hangup, Outcome
from switchboard.media.saynumber import say_number, you_have_messages
from switchboard.services.calls.channel import Channel
from switchboard.services.voicemail.service import VoicemailLoginFailed, VoicemailService
from switchboard.services.voicemail.spool import Message

NAME = "VoiceMailMain"
SYNOPSIS = "Check Voicemail messages"

log = logging.getLogger(__name__)

KEY_WAIT = 5.0
"""Seconds a menu waits for a key before saying it again."""
FOLDERS = ("INBOX", "Old")


async def run(channel: Channel, args: str) -> Outcome:
    """Log in, then the menus; changes are applied when the session ends."""
    service: VoicemailService | None = channel.engine.voicemail
    if service is None:
        return Hangup()
    parts = separate_args(args)
    given = parts[0].strip() if parts else ""
    options = parts[1] if len(parts) > 1 else ""
    channel.engine.answer(channel)
    prompts = Prompter(channel)
    mailbox = await _login(channel, service, prompts, given, skip_password="s" in options)
    if mailbox is None:
        with contextlib.suppress(asyncio.CancelledError):
            await prompts.play("vm-goodbye")
        return Hangup()
    session = _Session(service, mailbox, prompts)
    try:
        await session.run()
    except asyncio.CancelledError:
        if not channel.hung_up:
            raise
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        await service.tidy(mailbox, session.deleted, session.heard)
    return Hangup()


async def _login(
    channel: Channel,
    service: VoicemailService,
    prompts: Prompter,
    given: str,
    *,
    skip_password: bool,
) -> Mailbox | None:
    """The mailbox once the password is right; None after ``maxlogins`` failures."""
    attempts = max(service.general.maxlogins, 1)
    for attempt in range(1, attempts + 1):
        box = given
        if not box:
            box = await prompts.read(first=await prompts.play("vm-login", stop_on="0123456789"))
        mailbox = service.mailbox(box) if box else None
        if skip_password and mailbox is not None:
            return mailbox
        typed = await prompts.read(first=await prompts.play("vm-password", stop_on="0123456789"))
        if mailbox is not None and service.password_ok(mailbox, typed):
            return mailbox
        log.info("%s: VoiceMailMain: wrong mailbox or password (attempt %d)", channel.name, attempt)
        await prompts.play("vm-incorrect")
    service.bus.publish(
        VoicemailLoginFailed(given or "?", channel.name, str(channel.peer), attempts)
    )
    return None


class _Session:
    """One logged-in user: the folder they are in, what they heard and deleted."""

    def __init__(self, service: VoicemailService, mailbox: Mailbox, prompts: Prompter) -> None:
        self.service = service
        self.mailbox = mailbox
        self.prompts = prompts
        self.folder = "INBOX"
        self.heard: list[Message] = []
        self.deleted: list[Message] = []

    async def run(self) -> None:
        new = len(await self.service.messages(self.mailbox, "INBOX"))
        old = len(await self.service.messages(self.mailbox, "Old"))
        if not new and old:
            self.folder = "Old"
        key = await self.prompts.play(
            *you_have_messages(new, old, self.prompts.language), stop_on="12*#"
        )
        for _ in range(20):
            if key is None:
                key = await self.prompts.play(*self._menu(), stop_on="12*#")
            if key is None:
                key = await self.prompts.digit(KEY_WAIT)
            if key == "#":
                break
            if key == "1":
                key = await self.listen()
                if key == "#":
                    break
                key = None
            elif key == "2":
                self.folder = FOLDERS[(FOLDERS.index(self.folder) + 1) % len(FOLDERS)]
                key = await self.prompts.play("vm-" + self.folder, "vm-messages", stop_on="12*#")
            else:
                key = None
        await self.prompts.play("vm-goodbye")

    def _menu(self) -> list[str]:
        return ["vm-onefor", "vm-" + self.folder, "vm-messages", "vm-opts"]

    async def listen(self) -> str | None:
        """The folder's messages in order; returns ``#`` when the user leaves."""
        messages = await self.service.messages(self.mailbox, self.folder)
        if not messages:
            await self.prompts.play("vm-no", "vm-messages")
            return None
        index = 0
        while 0 <= index < len(messages):
            message = messages[index]
            intro = (
                ["vm-first"]
                if index == 0
                else ["vm-message", *say_number(index + 1, self.prompts.language)]
            )
            if index == len(messages) - 1 and index > 0:
                intro = ["vm-last"]
            key = await self.prompts.play(*intro, stop_on="4567#")
            if key is None:
                audio = await self.service.samples(message)
                key = await self.prompts.play_audio(audio, stop_on="4567#")
                if message.folder == "INBOX" and message not in self.heard:
                    self.heard.append(message)
            if key is None:
                key = await self.prompts.play(
                    "vm-advopts", stop_on="4567#"
                ) or await self.prompts.digit(KEY_WAIT)
            if key == "#":
                return "#"
            if key == "4":
                index = index - 1 if index > 0 else 0
            elif key == "5":
                continue
            elif key == "7":
                self.deleted.append(message)
                await self.prompts.play("vm-deleted")
                index += 1
            else:
                index += 1
        await self.prompts.play("vm-nomore")
        return None
