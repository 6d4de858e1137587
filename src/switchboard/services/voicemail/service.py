"""Mailboxes as the applications use them: voicemail.conf for who and how, the spool for
the messages (its file work runs on a worker thread), events and MWI on every change."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.core.events import Event, EventBus
from switchboard.services.voicemail.spool import Message, MessageInfo, Spool, read_sound

RECORDING_CAP = 600.0
"""Seconds: the longest message when ``maxsecs=0`` (no limit) — a safety cap, so a phone
that never hangs up cannot fill the disk."""


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

    def __init__(self, config: VoicemailConfig, spool: Spool, bus: EventBus) -> None:
        self.config = config
        self.general = config.general
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
        return float(self.general.maxsecs) if self.general.maxsecs > 0 else RECORDING_CAP

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
        Messages are found again by ``msg_id``, since numbers change on the way."""
        if not deleted and not heard:
            return
        spool, context, box = self.spool, mailbox.context, mailbox.box

        def work() -> None:
            gone = {message.info.msg_id for message in deleted}
            with spool.lock(context, box):
                for folder in ("INBOX", "Old"):
                    for message in spool.messages(context, box, folder):
                        if message.info.msg_id in gone:
                            spool.delete(message, renumber=False)
                    spool.renumber(context, box, folder)
                moving = {message.info.msg_id for message in heard} - gone
                while moving:
                    inbox = spool.messages(context, box, "INBOX")
                    found = next((m for m in inbox if m.info.msg_id in moving), None)
                    if found is None:
                        break
                    spool.move(found, "Old")
                    moving.discard(found.info.msg_id)

        await asyncio.to_thread(work)
        self.changed(mailbox)

    def changed(self, mailbox: Mailbox) -> None:
        """Report the box's counts and tell MWI."""
        new, old = self.counts(mailbox.address)
        self.bus.publish(VoicemailChanged(mailbox.address, new, old))
        if self.on_change is not None:
            self.on_change(mailbox.address)

    def close(self) -> None:
        """Wait for the messages being written (the server stops)."""
        self._writer.shutdown(wait=True)

    def password_ok(self, mailbox: Mailbox, typed: str) -> bool:
        """The PIN check; a leading ``-`` in voicemail.conf only forbids changing it."""
        return bool(typed) and typed == mailbox.pin.removeprefix("-")
