"""``VoiceMailMain([box][@context][,options])``: users hear and manage their messages.

As Asterisk 21's ``vm_execmain``: the mailbox (unless given) and the password are asked
by DTMF (``vm-login``, ``vm-password``); ``maxlogins`` wrong attempts end the call, and
the failure is reported (``VoicemailLoginFailed``, a security event). Option ``s`` skips
the password. Then "you have N new and M old messages", and the main menu:

- ``1`` the first message of the current folder, ``5`` the current one again, ``4`` the
  previous, ``6`` the next; before each message its envelope (``envelope=yes``: "received"
  and the date and time; ``saycid=yes``: "from phone number" and the digits;
  ``sayduration=yes``: the length when at least ``saydurationm`` minutes), ``1`` skips it;
- ``2`` changes folder: "vm-changeto", the folders 0-4 (INBOX, Old, Work, Family,
  Friends; 5-9 are Cust1-5) said one after the other, a digit picks one, ``#`` cancels;
- ``3`` advanced options: ``1`` replies to the current message's sender (a message left
  in the box of the caller ID's number, "vm-nobox" when there is none); ``2`` calls the
  sender back in the ``callback=`` context (``1`` that number, ``2`` another one when
  ``dialout=`` is set); ``3`` the envelope; ``4`` dials a typed number in the ``dialout=``
  context; ``5`` leaves a message in other boxes (``sendvoicemail=yes``); what is not
  configured is answered "vm-sorry"; ``*`` back. A call back or dial out leaves
  VoiceMailMain for ``<context>,<number>,1`` of the dialplan, as Asterisk's ``dialout``;
- ``7`` deletes (or undeletes) the current message, ``8`` forwards it to other boxes
  (typed by DTMF, ``*`` between several; ``1`` records an introduction before it, ``2``
  sends it as is), ``9`` saves it to a folder (0-9) — the original is deleted;
- ``0`` mailbox options: ``1`` unavailable greeting, ``2`` busy greeting, ``3`` name,
  ``4`` temporary greeting (record, or re-record or remove an existing one), each
  recorded after the beep until ``#``, then ``1`` keeps it, ``2`` plays it, ``3`` records
  again, ``*`` drops it; ``5`` changes the PIN (typed twice; refused when voicemail.conf's
  PIN starts with ``-``; kept in the spool: ``service.PASSWORD_FILE``); ``*`` back;
- ``*`` help, ``#`` leaves.

Heard new messages move to Old and deleted ones go when the session ends (as Asterisk
does on exit), even when the user just hangs up; saves and forwards happen at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from switchboard.apps import voicemail
from switchboard.apps.prompts import Prompter
from switchboard.apps.recording import record
from switchboard.config.voicemail import Mailbox, VoicemailGeneral
from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.interpreter import Goto, Hangup, Outcome
from switchboard.media.saynumber import say_digits, say_number, you_have_messages
from switchboard.services.calls.channel import Channel
from switchboard.services.voicemail.service import VoicemailLoginFailed, VoicemailService
from switchboard.services.voicemail.spool import FOLDERS, Message

NAME = "VoiceMailMain"
SYNOPSIS = "Check Voicemail messages"

log = logging.getLogger(__name__)

KEY_WAIT = 6.0
"""Seconds a menu waits for a key after saying it (Asterisk's 6000 ms)."""
MAX_COMMANDS = 500
"""A bound on one session's commands (a stuck key cannot keep a channel forever)."""
MENU_KEYS = "0123456789*#"
LISTEN_KEYS = "13456789#"
"""Keys that stop a message and act as menu commands (Asterisk's listen stop keys, and
``#`` to leave)."""
DIGITS = "0123456789"
FOLDER_COUNT = 10
"""Folders a digit can name: INBOX, Old, Work, Family, Friends, Cust1-5."""


async def run(channel: Channel, args: str) -> Outcome:
    """Log in, then the menus; deletions and heard messages are applied at the end."""
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
    session = _Session(channel, service, mailbox, prompts)
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
    return Goto(session.exit_to) if session.exit_to is not None else Hangup()


@contextlib.contextmanager
def secret_digits(channel: Channel) -> Iterator[None]:
    """Keys typed inside are a PIN: kept out of the DtmfReceived events (and so the log)."""
    channel.secret_digits = True
    try:
        yield
    finally:
        channel.secret_digits = False


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
            box = await prompts.read(first=await prompts.play("vm-login", stop_on=DIGITS))
        mailbox = service.mailbox(box) if box else None
        if skip_password and mailbox is not None:
            return mailbox
        with secret_digits(channel):
            typed = await prompts.read(first=await prompts.play("vm-password", stop_on=DIGITS))
        if mailbox is not None and service.password_ok(mailbox, typed):
            return mailbox
        log.info("%s: VoiceMailMain: wrong mailbox or password (attempt %d)", channel.name, attempt)
        await prompts.play("vm-incorrect")
    service.bus.publish(
        VoicemailLoginFailed(given or "?", channel.name, str(channel.peer), attempts)
    )
    return None


# --- what is said (pure) ----------------------------------------------------------------


def folder_name(folder: str, language: str) -> list[str]:
    """``vm_play_folder_name``: "new messages", "Work messages" (English order, which
    Asterisk also uses for French)."""
    del language
    return [f"vm-{folder}", "vm-messages"]


def _enumeration_en(n: int) -> list[str]:
    """``ast_say_enumeration`` in English for a day of the month: "first" .. "thirty-first"."""
    if n < 20:
        return [f"digits/h-{n}"]
    tens, unit = divmod(n, 10)
    return [f"digits/h-{n}"] if not unit else [f"digits/{tens * 10}", f"digits/h-{unit}"]


def _weekday(when: datetime) -> str:
    return f"digits/day-{(when.weekday() + 1) % 7}"  # Asterisk: 0 is Sunday


def _month(when: datetime) -> str:
    return f"digits/mon-{when.month - 1}"


def received_prompts(when: datetime, now: datetime, language: str) -> list[str]:
    """ "Received" and when, as ``play_message_datetime`` says it with
    ``ast_say_date_with_format``: English ``'vm-received' q 'digits/at' IMp`` ("received
    yesterday at 3 oh 5 p m"), French ``'vm-received' q 'digits/at' H 'digits/oclock' M``
    ("reçu hier à 15 heures 5"). ``q`` says nothing for today, "yesterday", the weekday
    within a week, then the date (English: weekday, month and day within a month, month and
    day within six months, with the year beyond; French: weekday, day, month, year)."""
    french = language.lower().startswith("fr")
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    files = ["vm-received"]
    if when > midnight:
        pass
    elif when > midnight - timedelta(days=1):
        files.append("digits/yesterday")
    elif when > midnight - timedelta(days=6):
        files.append(_weekday(when))
    elif french:
        day = ["digits/h-1"] if when.day == 1 else say_number(when.day, language)
        files += [_weekday(when), *day, _month(when), *say_number(when.year, language)]
    elif when > midnight - timedelta(seconds=2_628_000):
        files += [_weekday(when), _month(when), *_enumeration_en(when.day)]
    elif when > midnight - timedelta(seconds=15_768_000):
        files += [_month(when), *_enumeration_en(when.day)]
    else:
        files += [_month(when), *_enumeration_en(when.day), *say_number(when.year, language)]
    files.append("digits/at")
    if french:
        files += say_number(when.hour, language, "f")
        files.append("digits/oclock")
        if when.minute:
            files += say_number(when.minute, language)
        return files
    files.append(f"digits/{when.hour % 12 or 12}")
    if when.minute == 0:
        files.append("digits/oclock")
    elif when.minute < 10:
        files += ["digits/oh", f"digits/{when.minute}"]
    else:
        files += say_number(when.minute, language)
    files.append("digits/p-m" if when.hour >= 12 else "digits/a-m")
    return files


_ANGLED = re.compile(r"<([^>]*)>")
DIALABLE = re.compile(r"[0-9+*#]+")
"""What a call back may dial: the caller ID's number is the caller's to set, and it ends up
in a dialplan target (``context,number,1``)."""


def caller_number(callerid: str) -> str:
    """The number of a ``"Name" <number>`` caller ID (``ast_callerid_parse``); a bare
    number is its own number, a bare name has none."""
    match = _ANGLED.search(callerid)
    if match:
        return match.group(1).strip()
    text = callerid.strip().strip('"')
    return text if text and all(c in "0123456789*#+-() " for c in text) else ""


def callerid_prompts(callerid: str, language: str) -> list[str]:
    """``play_message_callerid``: "from phone number" and its digits; "from an unknown
    caller" when there is no number, or one without a digit to say (a SIP user name)."""
    number = caller_number(callerid)
    digits = say_digits(number, language) if number != "Unknown" else []
    return ["vm-from-phonenumber", *digits] if digits else ["vm-unknown-caller"]


def duration_prompts(seconds: int, language: str, minimum_minutes: int) -> list[str]:
    """``play_message_duration``: "duration N minutes" for messages of at least
    ``minimum_minutes`` minutes (``saydurationm``, 2 by default)."""
    minutes = seconds // 60
    if minutes < minimum_minutes:
        return []
    return ["vm-duration", *say_number(minutes, language), "vm-minutes"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Which parts of the envelope a mailbox says before each message."""

    datetime: bool = True
    callerid: bool = False
    duration: bool = True
    duration_minutes: int = 2


def envelope_for(mailbox: Mailbox, general: VoicemailGeneral) -> Envelope:
    """``envelope``, ``saycid``, ``sayduration``, ``saydurationm``: the mailbox's own
    options win over ``[general]``."""
    minutes = mailbox.options.get("saydurationm", "").strip()
    return Envelope(
        datetime=mailbox.flag("envelope", general.envelope),
        callerid=mailbox.flag("saycid", general.saycid),
        duration=mailbox.flag("sayduration", general.sayduration),
        duration_minutes=int(minutes) if minutes.isdigit() else 2,
    )


def message_prompts(message: Message, envelope: Envelope, now: float, language: str) -> list[str]:
    """The envelope said before a message (local time of the server)."""
    files: list[str] = []
    if envelope.datetime and message.info.origtime > 0:
        when = datetime.fromtimestamp(message.info.origtime).astimezone()
        files += received_prompts(when, datetime.fromtimestamp(now).astimezone(), language)
    if envelope.callerid and message.info.callerid:
        files += callerid_prompts(message.info.callerid, language)
    if envelope.duration:
        files += duration_prompts(message.info.duration, language, envelope.duration_minutes)
    return files


# --- the session ------------------------------------------------------------------------


class _Session:
    """One logged-in user: the folder they are in, the current message, what they heard
    and deleted (Asterisk's ``vm_state``)."""

    def __init__(
        self, channel: Channel, service: VoicemailService, mailbox: Mailbox, prompts: Prompter
    ) -> None:
        self.channel = channel
        self.service = service
        self.mailbox = mailbox
        self.prompts = prompts
        self.language = prompts.language
        self.envelope = envelope_for(mailbox, service.general)
        self.folder = "INBOX"
        self.messages: list[Message] = []
        self.current = 0
        self.starting = True
        self.heard: list[Message] = []
        self.deleted: list[Message] = []
        self.exit_to: str | None = None
        """Where the dialplan goes on when the user called out (``context,number,1``)."""

    # --- state ---

    async def open(self, folder: str) -> None:
        self.folder = folder
        self.messages = await self.service.messages(self.mailbox, folder)
        self.current = 0
        self.starting = True

    @property
    def last(self) -> int:
        return len(self.messages) - 1

    def is_deleted(self, message: Message) -> bool:
        return any(self._same(message, other) for other in self.deleted)

    @staticmethod
    def _same(a: Message, b: Message) -> bool:
        return a.folder == b.folder and a.info.msg_id == b.info.msg_id

    def set_deleted(self, message: Message, deleted: bool) -> None:
        self.deleted = [m for m in self.deleted if not self._same(m, message)]
        if deleted:
            self.deleted.append(message)

    async def play(self, *names: str, stop_on: str = MENU_KEYS) -> str | None:
        return await self.prompts.play(*names, stop_on=stop_on)

    async def ask(self, *names: str, stop_on: str = MENU_KEYS) -> str | None:
        """Say a menu, then wait for a key."""
        key = await self.play(*names, stop_on=stop_on)
        if key is None:
            key = await self.prompts.digit(KEY_WAIT)
        return key if key is None or key in stop_on else None

    # --- main menu ---

    async def run(self) -> None:
        new = len(await self.service.messages(self.mailbox, "INBOX"))
        old = len(await self.service.messages(self.mailbox, "Old"))
        await self.open("Old" if not new and old else "INBOX")
        key = await self.play(*you_have_messages(new, old, self.language))
        timeouts = 0
        for _ in range(MAX_COMMANDS):
            if key is None:
                key = await self.ask(*self.instructions())
                if key is None:
                    timeouts += 1
                    if timeouts > 2:
                        break
                    continue
            timeouts = 0
            if key == "#":
                break
            key = await self.command(key)
            if self.exit_to is not None:
                return
        await self.play("vm-goodbye", stop_on="")

    def instructions(self) -> list[str]:
        """``vm_instructions``: the folder menu, or the message menu once one is selected."""
        if self.starting:
            names = ["vm-onefor", *folder_name(self.folder, self.language)] if self.messages else []
            return [*names, "vm-opts", "vm-helpexit"]
        names = ["vm-prev"] if self.current > 0 else []
        names += ["vm-advopts", "vm-repeat"]
        if self.current != self.last:
            names.append("vm-next")
        message = self.messages[self.current]
        names.append("vm-undelete" if self.is_deleted(message) else "vm-delete")
        return [*names, "vm-toforward", "vm-savemessage", "vm-helpexit"]

    async def command(self, key: str) -> str | None:
        """One main-menu key; returns a key pressed meanwhile (the next command)."""
        if key == "1":
            self.current = 0
            return await self.browse()
        if key == "5":
            return await self.browse()
        if key == "4":
            if self.current > 0:
                self.current -= 1
                return await self.play_message()
            return await self.play("vm-nomore")
        if key == "6":
            if self.current < self.last:
                self.current += 1
                return await self.play_message()
            return await self.play("vm-nomore")
        if key == "2":
            return await self.change_folder()
        if key == "3":
            return await self.advanced()
        if key == "7":
            return await self.delete()
        if key == "8":
            return await self.forward()
        if key == "9":
            return await self.save()
        if key == "0":
            return await self.options()
        if key == "*" and not self.starting:
            return await self.play("vm-onefor", *folder_name(self.folder, self.language), "vm-opts")
        return None

    async def browse(self) -> str | None:
        if self.messages:
            return await self.play_message()
        return await self.play("vm-youhave", "vm-no", *folder_name(self.folder, self.language))

    async def play_message(self) -> str | None:
        """``play_message``: "first"/"last", "message N", the envelope (``1`` skips it),
        then the recording."""
        self.starting = False
        message = self.messages[self.current]
        intro: list[str] = []
        if self.current == 0:
            intro.append("vm-first")
        elif self.current == self.last:
            intro.append("vm-last")
        intro.append("vm-message")
        if self.current and self.current != self.last:
            intro += say_number(self.current + 1, self.language)
        key = await self.play(*intro, stop_on=LISTEN_KEYS)
        if key is None:
            envelope = message_prompts(message, self.envelope, time.time(), self.language)
            key = await self.play(*envelope, stop_on=LISTEN_KEYS)
            if key == "1":
                key = None
        if key is not None:
            return key
        if message.folder == "INBOX" and not any(self._same(message, m) for m in self.heard):
            self.heard.append(message)
        audio = await self.service.samples(message)
        return await self.prompts.play_audio(audio, stop_on=LISTEN_KEYS)

    async def delete(self) -> str | None:
        if self.starting or not self.messages:
            return None
        message = self.messages[self.current]
        deleted = not self.is_deleted(message)
        self.set_deleted(message, deleted)
        key = await self.play("vm-deleted" if deleted else "vm-undeleted")
        return key if key is not None else await self._next_after_command()

    async def _next_after_command(self) -> str | None:
        """``nextaftercmd=yes``: go on to the next message after a delete or a save."""
        if not self.service.general.nextaftercmd:
            return None
        if self.current < self.last:
            self.current += 1
            return await self.play_message()
        return await self.play("vm-nomore")

    # --- folders ---

    async def pick_folder(self, prompt: str, start: int) -> str | None:
        """``get_folder2``: the prompt, then "press N for <folder> messages" for each
        folder from ``start`` to 4, "or # to cancel"; a digit or ``#``, or None."""
        keys = DIGITS + "#"
        key = await self.play(prompt, stop_on=keys)
        for _ in range(4):
            if key is not None:
                return key
            for index in range(start, 5):
                key = await self.play(
                    *say_number(index, self.language),
                    "vm-for",
                    *folder_name(FOLDERS[index], self.language),
                    stop_on=keys,
                )
                if key is None:
                    key = await self._digit_in(0.5, keys)
                if key is not None:
                    return key
            key = await self.play("vm-tocancel", stop_on=keys) or await self._digit_in(4.0, keys)
        return key

    async def _digit_in(self, timeout: float, keys: str) -> str | None:
        key = await self.prompts.digit(timeout)
        return key if key is not None and key in keys else None

    async def change_folder(self) -> str | None:
        key = await self.pick_folder("vm-changeto", 0)
        if key is not None and key in DIGITS and int(key) < FOLDER_COUNT:
            await self.open(FOLDERS[int(key)])
        return await self.play(*folder_name(self.folder, self.language))

    async def save(self) -> str | None:
        """``9``: save the current message to a folder, then "message N saved to <folder>
        messages"; the original is deleted at the end (it is a copy, as in Asterisk)."""
        if not self.messages:
            return None
        key = await self.pick_folder("vm-savefolder", 1)
        if key is None or key == "#":
            return None
        folder = FOLDERS[int(key)]
        message = self.messages[self.current]
        if folder != message.folder:
            copy = await self.service.save_to_folder(self.mailbox, message, folder)
            if copy is None:
                return await self.play("vm-mailboxfull")
            self.set_deleted(message, True)
            log.info(
                "%s: VoiceMailMain: message %d of %s saved to %s",
                self.channel.name,
                message.number,
                self.mailbox.address,
                folder,
            )
        key = await self.play(
            "vm-message",
            *say_number(self.current + 1, self.language),
            "vm-savedto",
            *folder_name(folder, self.language),
        )
        return key if key is not None else await self._next_after_command()

    # --- advanced options ---

    async def advanced(self) -> str | None:
        """``3``: the advanced options menu (``vm_execmain`` case 3); ``*`` returns."""
        selected = bool(self.messages) and not self.starting
        general = self.service.general
        callback = self.mailbox.setting("callback", general.callback)
        dialout = self.mailbox.setting("dialout", general.dialout)
        sends = self.mailbox.flag("sendvoicemail", general.sendvoicemail)
        key: str | None = None
        timeouts = 0
        while True:
            if key is None:
                names = ["vm-toreply"] if selected else []
                names += ["vm-tocallback"] if selected and callback else []
                names += ["vm-tohearenv"] if selected else []
                names += ["vm-tomakecall"] if dialout else []
                names += ["vm-leavemsg"] if sends else []
                key = await self.ask(*names, "vm-starmain")
                if key is None:
                    timeouts += 1
                    if timeouts > 3:
                        return None
                    continue
            if key == "1" and selected:
                await self.reply(self.messages[self.current])
                return None
            if key == "2" and selected and callback:
                await self.call_back(self.messages[self.current], callback, dialout)
                return None
            if key == "3" and selected:
                message = self.messages[self.current]
                when = datetime.fromtimestamp(message.info.origtime).astimezone()
                now = datetime.now().astimezone()
                said = received_prompts(when, now, self.language)
                said += callerid_prompts(message.info.callerid, self.language)
                await self.play(*said, stop_on="")
                return None
            if key == "4" and dialout:
                await self.dial_out(dialout)
                return None
            if key == "5" and sends:
                await self.leave_message()
                return None
            if key in "12345":
                await self.play("vm-sorry", stop_on="")
                return None
            if key == "*":
                return None
            if key == "#":
                return "#"
            key = None

    async def reply(self, message: Message) -> None:
        """``1``: leave a message in the box of the sender's number (this box's context),
        as a caller would (``vm-intro``, beep, record, review); "vm-nonumber" when the
        caller ID has no number, "vm-nobox" when that number has no box."""
        self.starting = False
        number = caller_number(message.info.callerid)
        if not number:
            await self.play("vm-nonumber", stop_on="")
            return
        # In this box's context only: the caller ID is the caller's to set, "@" included.
        target = None if "@" in number else self.service.mailbox(number, self.mailbox.context)
        if target is None:
            log.info("%s: VoiceMailMain: no mailbox %s to reply to", self.channel.name, number)
            await self.play("vm-nobox", stop_on="")
            return
        log.info("%s: VoiceMailMain: reply to %s", self.channel.name, target.address)
        await voicemail.leave(
            self.channel, self.service, [target], "", goodbye=False, prompts=self.prompts
        )

    async def call_back(self, message: Message, callback: str, dialout: str) -> None:
        """``2``: "the number I have is ..., press 1 to call it" (``2`` another number when
        ``dialout=`` is set, ``*`` cancels); calling leaves for ``callback,number,1``."""
        self.starting = False
        number = caller_number(message.info.callerid)
        if not DIALABLE.fullmatch(number):
            number = ""  # a name, or text a caller put in its caller ID: not dialled
        for _ in range(4):
            if number:
                names = ["vm-num-i-have", *say_digits(number, self.language), "vm-tocallnum"]
                names += ["vm-calldiffnum"] if dialout else []
            else:
                names = ["vm-nonumber", *(["vm-toenternumber"] if dialout else [])]
            key = await self.ask(*names, "vm-star-cancel", stop_on=DIGITS + "*")
            if key == "1" and number:
                self.call(callback, number)
                return
            if key in ("1", "2"):
                if dialout:
                    await self.dial_out(dialout)
                else:
                    await self.play("vm-sorry", stop_on="")
                return
            if key == "*":
                return
            if key is not None:
                await self.play("vm-sorry", stop_on="")

    async def dial_out(self, context: str) -> None:
        """``4`` (``dialout``): "enter the number to call, then press pound; star cancels";
        the number leads to ``context,number,1``. Three silences give up."""
        for _ in range(3):
            key = await self.ask(
                "vm-enter-num-to-call", "vm-then-pound", "vm-star-cancel", stop_on=DIGITS + "*#"
            )
            if key == "*":
                return
            if key is None:
                continue
            number = await self.prompts.read(first=key, timeout=6.0, limit=40)
            if number and "*" not in number:
                self.call(context, number)
            return

    def call(self, context: str, number: str) -> None:
        """Leave VoiceMailMain for ``context,number,1`` (the session ends there)."""
        log.info("%s: VoiceMailMain: calling %s in context %s", self.channel.name, number, context)
        self.exit_to = f"{context},{number},1"

    async def leave_message(self) -> None:
        """``5`` (``sendvoicemail=yes``): boxes typed as for a forward, then a new message
        recorded for them (``forward_message`` with ``is_new_message``)."""
        targets = await self.ask_boxes()
        if targets:
            await voicemail.leave(
                self.channel, self.service, targets, "", goodbye=False, prompts=self.prompts
            )

    # --- forwarding ---

    async def forward(self) -> str | None:
        """``8``: ``forward_message``: the boxes (:meth:`ask_boxes`), then
        ``vm_forwardoptions``."""
        if not self.messages:
            return await self.play("vm-nomore")
        targets = await self.ask_boxes()
        if not targets:
            return None
        intro = await self.forward_options()
        if intro is None:
            return None
        message = self.messages[self.current]
        samples = await self.service.samples(message)
        if len(intro):
            samples = np.concatenate([intro.astype(np.int16), samples.astype(np.int16)])
        sent = 0
        for target in targets:
            if await self.service.forward(message, target, samples) is not None:
                sent += 1
                log.info(
                    "%s: VoiceMailMain: message %d of %s forwarded to %s",
                    self.channel.name,
                    message.number,
                    self.mailbox.address,
                    target.address,
                )
        return await self.play("vm-msgforwarded" if sent else "vm-mailboxfull")

    async def ask_boxes(self) -> list[Mailbox]:
        """ "extension", boxes typed with ``*`` between them and ``#`` (not one's own box;
        "pbx-invalid" and again, three times); none when the user gives up."""
        for _ in range(3):
            key = await self.play("vm-extension", stop_on=DIGITS + "*#")
            typed = await self.prompts.read(first=key, timeout=2.0, first_timeout=10.0)
            if not typed:
                continue
            targets: list[Mailbox] = []
            for box in typed.split("*"):
                target = self.service.mailbox(box, self.mailbox.context) if box else None
                if target is None or target.address == self.mailbox.address:
                    targets = []
                    break
                targets.append(target)
            if targets:
                return targets
            await self.play("pbx-invalid", stop_on="")
        return []

    async def forward_options(self) -> np.ndarray | None:
        """``vm_forwardoptions``: ``1`` records an introduction (after the beep, until
        ``#``), ``2`` sends as is; ``*`` (or silence) cancels. The introduction, or None."""
        key: str | None = None
        for _ in range(4):
            key = await self.ask("vm-forwardoptions", "vm-starmain", stop_on="12*")
            if key == "1":
                await self.play("beep", stop_on="")
                intro, _ = await record(
                    self.channel, self.prompts, self.service.max_seconds, app=NAME
                )
                return intro
            if key == "2":
                return np.zeros(0, dtype=np.int16)
            if key == "*":
                return None
        return None

    # --- mailbox options ---

    async def options(self) -> str | None:
        """``0``: ``vm_options``."""
        key: str | None = None
        timeouts = 0
        while True:
            if key is None:
                exists = await self.service.has_greeting(self.mailbox, "temp")
                names = ["vm-tmpexists"] if exists else []
                key = await self.ask(*names, "vm-options")
                if key is None:
                    timeouts += 1
                    if timeouts > 3:
                        return None
                    continue
            timeouts = 0
            if key == "1":
                key = await self.record_greeting("vm-rec-unv", "unavail")
            elif key == "2":
                key = await self.record_greeting("vm-rec-busy", "busy")
            elif key == "3":
                key = await self.record_greeting("vm-rec-name", "greet")
            elif key == "4":
                key = await self.temporary_greeting()
            elif key == "5":
                key = await self.change_password()
            elif key == "*":
                return None
            else:
                key = None

    async def record_greeting(self, prompt: str, kind: str) -> str | None:
        """``play_record_review`` for a greeting: the prompt, the beep, the recording until
        ``#``; then ``1`` keeps it ("vm-msgsaved"), ``2`` plays it, ``3`` records again,
        ``*`` drops it ("vm-deleted"). Nothing is kept without ``1``."""
        samples: np.ndarray | None = None
        key: str | None = "3"
        attempts = 0
        while True:
            if key == "1" and samples is not None:
                await self.service.save_greeting(self.mailbox, kind, samples)
                log.info(
                    "%s: VoiceMailMain: %s greeting of %s recorded (%.1f s)",
                    self.channel.name,
                    kind,
                    self.mailbox.address,
                    len(samples) / 8000,
                )
                await self.play("vm-msgsaved", stop_on="")
                return None
            if key in ("1", "3"):
                await self.play(prompt, stop_on=MENU_KEYS)
                await self.play("beep", stop_on="")
                recorded, _ = await record(
                    self.channel, self.prompts, self.service.max_greeting_seconds, app=NAME
                )
                samples = recorded if len(recorded) else None
                key = None
                continue
            if key == "2" and samples is not None:
                key = await self.prompts.play_audio(samples, stop_on=MENU_KEYS)
                continue
            if key == "*":
                await self.play("vm-deleted", stop_on="")
                return None
            if samples is not None:
                key = await self.ask("vm-review", stop_on="123*")
            else:
                key = await self.ask("vm-torerecord", stop_on="123*")
            if key is None:
                attempts += 1
                if attempts > 3:
                    return None

    async def temporary_greeting(self) -> str | None:
        """``vm_tempgreeting``: record one when there is none; else ``1`` re-records,
        ``2`` removes it ("vm-tempremoved"), ``*`` returns."""
        key: str | None = None
        timeouts = 0
        while True:
            if not await self.service.has_greeting(self.mailbox, "temp"):
                return await self.record_greeting("vm-rec-temp", "temp")
            if key == "1":
                await self.record_greeting("vm-rec-temp", "temp")
                key = None
                continue
            if key == "2":
                await self.service.delete_greeting(self.mailbox, "temp")
                await self.play("vm-tempremoved", stop_on="")
                return None
            if key == "*":
                return None
            key = await self.ask("vm-tempgreeting2", stop_on="12*")
            if key is None:
                timeouts += 1
                if timeouts > 3:
                    return None

    async def change_password(self) -> str | None:
        """``5`` of the options: the new PIN twice (each until ``#``), checked as Asterisk's
        ``check_password`` does; refused ("vm-no") when voicemail.conf's starts with ``-``."""
        if not self.service.may_change_password(self.mailbox):
            return await self.play("vm-no")
        keys = DIGITS + "*#"
        with secret_digits(self.channel):
            first = await self.play("vm-newpassword", stop_on=keys)
            pin = await self.prompts.read(first=first, timeout=2.0, first_timeout=10.0)
        if not self.service.password_acceptable(pin):
            log.info("%s: VoiceMailMain: new PIN refused (too short or invalid)", self.channel.name)
            return await self.play("vm-invalid-password", "vm-pls-try-again")
        with secret_digits(self.channel):
            first = await self.play("vm-reenterpassword", stop_on=keys)
            again = await self.prompts.read(first=first, timeout=2.0, first_timeout=10.0)
        if again != pin:
            log.info("%s: VoiceMailMain: the two new PINs differ", self.channel.name)
            return await self.play("vm-mismatch", "vm-pls-try-again")
        await self.service.set_password(self.mailbox, pin)
        log.info("%s: VoiceMailMain: PIN of %s changed", self.channel.name, self.mailbox.address)
        return await self.play("vm-passchanged")
