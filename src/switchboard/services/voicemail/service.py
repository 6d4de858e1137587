"""Mailboxes as the applications use them: voicemail.conf for who and how, the spool for
the messages (its file work runs on a worker thread), events and MWI on every change."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.core.events import Event, EventBus
from switchboard.services.voicemail.spool import (
    FOLDERS,
    Message,
    MessageInfo,
    Spool,
    make_msg_id,
    read_sound,
)

RECORDING_CAP = 600.0
"""Seconds: the longest message or greeting when voicemail.conf sets no limit (``maxsecs=0``,
``maxgreet=0``), unless switchboard.conf's ``[voicemail] recording_cap`` says otherwise: a
safety cap, so a phone that never hangs up cannot fill the disk."""

PASSWORD_FILE = "password"
"""The PIN a user set from VoiceMailMain, in the mailbox's spool directory (mode 600): it
wins over voicemail.conf's (Asterisk rewrites voicemail.conf instead; Switchboard never
writes the configuration)."""


@dataclass(frozen=True, slots=True)
class VoicemailDeposited(Event):
    """A caller left a message."""

    mailbox: str
    folder: str
    number: int
    duration: int
    callerid: str


@dataclass(frozen=True, slots=True)
class VoicemailChanged(Event):
    """A mailbox's messages changed (read, deleted, moved): ``new`` and ``old`` now."""

    mailbox: str
    new: int
    old: int


@dataclass(frozen=True, slots=True)
class VoicemailLoginFailed(Event):
    """``VoiceMailMain`` hung up after ``attempts`` wrong passwords (a security event)."""

    mailbox: str
    channel: str
    source: str
    attempts: int


class DepositNotifier(Protocol):
    """Told of every deposit before :meth:`VoicemailService.deposit` returns (the email
    notification: it must have the message safely queued by then). Must not raise."""

    async def deposited(self, mailbox: Mailbox, message: Message) -> None: ...


class VoicemailService:
    """The mailboxes of voicemail.conf and their spool."""

    def __init__(
        self,
        config: VoicemailConfig,
        spool: Spool,
        bus: EventBus,
        recording_cap: float = RECORDING_CAP,
    ) -> None:
        self.config = config
        self.general = config.general
        self.recording_cap = recording_cap
        """Seconds: what ``maxsecs=0`` and ``maxgreet=0`` (no limit) stop at."""
        self.spool = spool
        self.bus = bus
        self._writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="voicemail")
        """Encoding and writing messages (GSM is most of a deposit's CPU: bench/voicemail.py)
        has threads of its own, so a burst of deposits never delays a greeting or a menu."""
        self.on_change: Callable[[str], None] | None = None
        """Called with ``box@context`` after every change (message waiting indication)."""
        self.notifier: DepositNotifier | None = None
        """Told of every deposit (email notification)."""

    def mailbox(self, reference: str, default_context: str = "default") -> Mailbox | None:
        """``101`` or ``101@default``, as voicemail.conf defines it."""
        return self.config.mailbox(reference, default_context)

    @property
    def max_seconds(self) -> float:
        """The longest recording: ``maxsecs``, or the safety cap when it is 0."""
        return float(self.general.maxsecs) if self.general.maxsecs > 0 else self.recording_cap

    def full(self, mailbox: Mailbox) -> bool:
        """Whether the INBOX holds ``maxmsg`` messages already."""
        return self.spool.count(mailbox.context, mailbox.box) >= self.general.maxmsg

    def counts(self, address: str) -> tuple[int, int]:
        """(new, old) of ``box@context``, for MWI."""
        box, _, context = address.partition("@")
        return self.spool.counts(context or "default", box)

    async def deposit(
        self, mailbox: Mailbox, samples: np.ndarray, info: MessageInfo
    ) -> Message | None:
        """Store a message in every configured format; None when the box is full."""
        store = functools.partial(
            self.spool.deposit,
            mailbox.context,
            mailbox.box,
            samples,
            info,
            maxmsg=self.general.maxmsg,
        )
        message = await asyncio.get_running_loop().run_in_executor(self._writer, store)
        if message is not None:
            self.bus.publish(
                VoicemailDeposited(
                    mailbox.address,
                    message.folder,
                    message.number,
                    info.duration,
                    info.callerid,
                )
            )
            self.changed(mailbox)
            if self.notifier is not None:
                await self.notifier.deposited(mailbox, message)
        return message

    async def messages(self, mailbox: Mailbox, folder: str) -> list[Message]:
        """The messages of one folder, in order."""
        return await asyncio.to_thread(self.spool.messages, mailbox.context, mailbox.box, folder)

    async def samples(self, message: Message) -> np.ndarray:
        """A message's audio, decoded."""
        return await asyncio.to_thread(self.spool.samples, message)

    async def greeting(self, mailbox: Mailbox, kind: str) -> np.ndarray | None:
        """The box's own recorded greeting (``unavail``, ``busy``, ``temp``), if any."""
        base = await asyncio.to_thread(self.spool.greeting, mailbox.context, mailbox.box, kind)
        if base is None:
            return None
        return await asyncio.to_thread(read_sound, base)

    async def tidy(self, mailbox: Mailbox, deleted: list[Message], heard: list[Message]) -> None:
        """End of a VoiceMailMain session, as Asterisk closes a mailbox: what was deleted
        goes (then the folders are renumbered), what was heard moves from INBOX to Old.
        Messages are found again by folder and ``msg_id``, since numbers change on the way
        (a message saved to another folder keeps its ``msg_id`` there, as Asterisk's copy)."""
        if not deleted and not heard:
            return
        spool, context, box = self.spool, mailbox.context, mailbox.box

        def work() -> None:
            gone = {(message.folder, message.info.msg_id) for message in deleted}
            touched = {"INBOX", "Old"} | {folder for folder, _ in gone}
            with spool.lock(context, box):
                for folder in (f for f in FOLDERS if f in touched):
                    for message in spool.messages(context, box, folder):
                        if (folder, message.info.msg_id) in gone:
                            spool.delete(message, renumber=False)
                    spool.renumber(context, box, folder)
                moving = {m.info.msg_id for m in heard if m.folder == "INBOX"}
                moving -= {msg_id for folder, msg_id in gone if folder == "INBOX"}
                while moving:
                    inbox = spool.messages(context, box, "INBOX")
                    found = next((m for m in inbox if m.info.msg_id in moving), None)
                    if found is None:
                        break
                    spool.move(found, "Old")
                    moving.discard(found.info.msg_id)

        await asyncio.to_thread(work)
        self.changed(mailbox)

    async def save_to_folder(
        self, mailbox: Mailbox, message: Message, folder: str
    ) -> Message | None:
        """Copy a message into another folder of its box (``save_to_folder``: the copy keeps
        the ``msg_id``; the caller marks the original deleted). None when that folder holds
        ``maxmsg`` messages already."""
        samples = await self.samples(message)
        store = functools.partial(
            self.spool.deposit,
            mailbox.context,
            mailbox.box,
            samples,
            message.info,
            maxmsg=self.general.maxmsg,
            folder=folder,
        )
        copy = await asyncio.get_running_loop().run_in_executor(self._writer, store)
        if copy is not None:
            self.changed(mailbox)
        return copy

    async def forward(
        self, message: Message, target: Mailbox, samples: np.ndarray
    ) -> Message | None:
        """Leave ``samples`` (the message, maybe with a spoken introduction before it) in
        ``target``'s INBOX as a new message (a new ``msg_id``), with the original's caller
        and times: a deposit like any other (event, MWI, email). None when it is full."""
        info = dataclasses.replace(
            message.info,
            msg_id=make_msg_id(message.info.origtime),
            duration=round(len(samples) / 8000),
        )
        return await self.deposit(target, samples, info)

    async def has_greeting(self, mailbox: Mailbox, kind: str) -> bool:
        """Whether the box has its own ``kind`` greeting recorded."""
        found = await asyncio.to_thread(self.spool.greeting, mailbox.context, mailbox.box, kind)
        return found is not None

    async def save_greeting(self, mailbox: Mailbox, kind: str, samples: np.ndarray) -> None:
        """Store a recorded greeting (``unavail``, ``busy``, ``greet``, ``temp``)."""
        store = functools.partial(
            self.spool.save_greeting, mailbox.context, mailbox.box, kind, samples
        )
        await asyncio.get_running_loop().run_in_executor(self._writer, store)

    async def delete_greeting(self, mailbox: Mailbox, kind: str) -> None:
        """Remove a recorded greeting (the temporary one, from the options menu)."""
        await asyncio.to_thread(self.spool.delete_greeting, mailbox.context, mailbox.box, kind)

    @property
    def max_greeting_seconds(self) -> float:
        """The longest greeting: ``maxgreet``, or the safety cap when it is 0."""
        return float(self.general.maxgreet) if self.general.maxgreet > 0 else self.recording_cap

    def changed(self, mailbox: Mailbox) -> None:
        """Report the box's counts and tell MWI."""
        new, old = self.counts(mailbox.address)
        self.bus.publish(VoicemailChanged(mailbox.address, new, old))
        if self.on_change is not None:
            self.on_change(mailbox.address)

    def close(self) -> None:
        """Wait for the messages being written (the server stops)."""
        self._writer.shutdown(wait=True)

    def password_file(self, mailbox: Mailbox) -> Path:
        """Where a PIN changed from VoiceMailMain is kept."""
        return self.spool.box_dir(mailbox.context, mailbox.box) / PASSWORD_FILE

    def current_pin(self, mailbox: Mailbox) -> str:
        """The PIN in force: the one the user set, else voicemail.conf's (without the ``-``
        that only forbids changing it)."""
        try:
            stored = self.password_file(mailbox).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            stored = ""
        return stored or mailbox.pin.removeprefix("-")

    def password_ok(self, mailbox: Mailbox, typed: str) -> bool:
        """The PIN check; a leading ``-`` in voicemail.conf only forbids changing it."""
        return bool(typed) and secrets.compare_digest(
            typed.encode(), self.current_pin(mailbox).encode()
        )

    @staticmethod
    def may_change_password(mailbox: Mailbox) -> bool:
        """False when voicemail.conf's PIN starts with ``-`` (Asterisk: the user cannot
        change it)."""
        return not mailbox.pin.startswith("-")

    def password_acceptable(self, typed: str) -> bool:
        """Asterisk's ``check_password``: at least ``minpassword`` keys, not starting with
        ``*``; and not empty (an empty PIN could never be typed at the login)."""
        return (
            bool(typed)
            and len(typed) >= self.general.minpassword
            and not typed.startswith("*")
            and typed.isascii()
            and all(key in "0123456789*#" for key in typed)
        )

    async def set_password(self, mailbox: Mailbox, pin: str) -> None:
        """Keep a new PIN for the box: written to a temporary file (mode 600), fsynced and
        renamed over the old one, so a crash leaves the old PIN or the new one."""
        path = self.password_file(mailbox)

        def write() -> None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temp = path.with_name(f".{PASSWORD_FILE}.{secrets.token_hex(6)}")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, (pin + "\n").encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(temp, path)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

        await asyncio.to_thread(write)
