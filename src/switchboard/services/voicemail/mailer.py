"""Voicemail email delivery: a persistent outbox and an SMTP sender that never blocks the loop.

::

    <state>/voicemail/outbox/<msg_id>-<random>.mail   one pending email each
    <state>/voicemail/outbox/failed/...               given up (kept for the operator)

A deposit builds the email (:mod:`switchboard.services.voicemail.email`) and writes it to
the outbox before :meth:`VoicemailService.deposit` returns, so a crash or a relay that is
down loses nothing: the file is removed only once the relay has accepted the message.
Files are written under a temporary name, fsynced and renamed (atomic on POSIX); a file
holds one JSON line (envelope, attempts) then the message exactly as it is sent.

One asyncio task sends the due emails one at a time; each SMTP conversation runs on a
daemon thread (``smtplib``, bounded by ``[smtp] timeout``), so the loop never waits on the
network and a hung relay cannot hold the process at shutdown. A failure is retried after
``retry_delay`` seconds, doubled each time up to ``retry_max``; after ``attempts`` tries,
or at once when the relay refuses for good (5xx, other than a failed login), the email is
given up: an error is logged, ``VoicemailEmailFailed`` published and the file moved to
``failed/``. At start-up every pending email is sent again. Delivery is at least once: a
crash between the relay's acceptance and the file's removal sends the email twice (with the
same Message-ID).

Why ``smtplib`` on a thread rather than aiosmtplib: it is the standard library (no new
runtime dependency for a rarely used path), its timeouts bound every step, and one thread
per email costs nothing at voicemail rates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.config.switchboard import SmtpConfig
from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.core.events import Event, EventBus
from switchboard.services.voicemail.email import (
    Attachment,
    EmailError,
    attachment_format,
    build_email,
    recipients,
    sender_address,
    wants_attachment,
)
from switchboard.services.voicemail.formats import extension
from switchboard.services.voicemail.spool import Message

__all__ = [
    "Mailer",
    "Outbox",
    "OutboxEntry",
    "PermanentError",
    "VoicemailEmailDeferred",
    "VoicemailEmailFailed",
    "VoicemailEmailSent",
    "smtp_send",
]

log = logging.getLogger(__name__)

SUFFIX = ".mail"
FAILED_DIR = "failed"
_TMP_PREFIX = ".tmp-"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class VoicemailEmailSent(Event):
    """The relay accepted a voicemail notification."""

    mailbox: str
    msg_id: str
    recipients: int
    attempts: int


@dataclass(frozen=True, slots=True)
class VoicemailEmailDeferred(Event):
    """Sending failed for now; the next try is ``retry_in`` seconds away."""

    mailbox: str
    msg_id: str
    attempts: int
    retry_in: float
    reason: str


@dataclass(frozen=True, slots=True)
class VoicemailEmailFailed(Event):
    """A voicemail notification was given up (kept in ``outbox/failed/``)."""

    mailbox: str
    msg_id: str
    attempts: int
    reason: str


class PermanentError(Exception):
    """The relay refused the email for good: retrying would get the same answer."""


@dataclass(slots=True)
class OutboxEntry:
    """The envelope and the retry state of one pending email (the file's first line)."""

    mailbox: str
    msg_id: str
    sender: str
    recipients: list[str]
    attempts: int = 0
    created: float = 0.0


@dataclass(slots=True)
class _Pending:
    path: Path
    entry: OutboxEntry
    due: float = 0.0
    """Loop time of the next attempt."""


class Outbox:
    """The folder of pending emails; synchronous file work, for a worker thread."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self._fsync = fsync

    def put(self, entry: OutboxEntry, raw: bytes) -> Path:
        """Store a new email; returns its file."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in entry.msg_id)
        path = self.root / f"{stem or 'message'}-{secrets.token_hex(4)}{SUFFIX}"
        self._write(path, entry, raw)
        return path

    def update(self, path: Path, entry: OutboxEntry) -> None:
        """Rewrite the envelope line (the attempt count) of a stored email."""
        _, raw = self.read(path)
        self._write(path, entry, raw)

    def read(self, path: Path) -> tuple[OutboxEntry, bytes]:
        data = path.read_bytes()
        header, sep, raw = data.partition(b"\n")
        if not sep:
            raise ValueError(f"{path.name}: expected a JSON line then the message, found no line")
        fields: dict[str, Any] = json.loads(header)
        return OutboxEntry(**fields), raw

    def load(self) -> list[tuple[Path, OutboxEntry]]:
        """Every pending email, oldest first; removes temporary files a crash left, and
        moves files that do not parse to ``failed/``."""
        if not self.root.is_dir():
            return []
        found: list[tuple[Path, OutboxEntry]] = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(_TMP_PREFIX):
                path.unlink(missing_ok=True)
                continue
            if not path.is_file() or path.suffix != SUFFIX:
                continue
            try:
                entry, _ = self.read(path)
            except (OSError, ValueError, TypeError) as exc:
                log.error("voicemail outbox: %s cannot be read (%s); moved to failed/", path, exc)
                self.give_up(path)
                continue
            found.append((path, entry))
        found.sort(key=lambda item: item[1].created)
        return found

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sync_dir(self.root)

    def give_up(self, path: Path) -> Path:
        failed = self.root / FAILED_DIR
        failed.mkdir(exist_ok=True, mode=0o700)
        target = failed / path.name
        os.replace(path, target)
        self._sync_dir(self.root)
        return target

    def _write(self, path: Path, entry: OutboxEntry, raw: bytes) -> None:
        header = json.dumps(asdict(entry), sort_keys=True).encode()
        tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + b"\n" + raw)
                handle.flush()
                if self._fsync:
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._sync_dir(self.root)

    def _sync_dir(self, directory: Path) -> None:
        if not self._fsync:
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _permanent(exc: BaseException) -> bool:
    """Whether the relay's answer means "never": 5xx for every recipient, or for the
    sender or the data. A refused login (535) is not: the operator may fix the password."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return False


def smtp_send(config: SmtpConfig, sender: str, to: list[str], raw: bytes) -> None:
    """One SMTP conversation (blocking: run it on a thread). Raises :class:`PermanentError`
    when the relay refuses for good, another exception when it may work later."""
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as client:
            if config.starttls:
                client.starttls(context=ssl.create_default_context())
            if config.username and config.password:
                client.login(config.username, config.password)
            refused = client.sendmail(sender, to, raw)
    except Exception as exc:
        if _permanent(exc):
            raise PermanentError(_describe(exc)) from exc
        raise
    if refused:
        log.warning(
            "voicemail email: the relay refused %s; sent to the others",
            ", ".join(f"{address} ({code})" for address, (code, _) in refused.items()),
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(
            f"{address} {code} {text.decode(errors='replace')}"
            for address, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {message}"
    if isinstance(exc, PermanentError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _on_daemon_thread(function: Callable[[], _T]) -> asyncio.Future[_T]:
    """Run ``function`` on a new daemon thread: the loop does not wait on it, and a relay
    that hangs cannot keep the process from exiting (``asyncio.to_thread``'s pool is
    joined at shutdown)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = function()
        except BaseException as exc:
            outcome: tuple[_T | None, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server stopped
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="smtp", daemon=True).start()
    return future


Sender = Callable[[SmtpConfig, str, list[str], bytes], None]


class Mailer:
    """Sends the notification of every deposit to the mailbox's email, through the outbox."""

    def __init__(
        self,
        outbox: Path,
        smtp: SmtpConfig,
        voicemail: VoicemailConfig,
        bus: EventBus,
        *,
        host: str | None = None,
        send: Sender = smtp_send,
        clock: Callable[[], float] = time.time,
        fsync: bool = True,
    ) -> None:
        self.outbox = Outbox(outbox, fsync=fsync)
        self.smtp = smtp
        self.voicemail = voicemail
        self.bus = bus
        self.host = host or socket.gethostname()
        self._send = send
        self._clock = clock
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._zones: dict[str, tzinfo | None] = {}

    def reconfigure(self, smtp: SmtpConfig, voicemail: VoicemailConfig) -> None:
        """Take a reloaded relay and mailboxes; emails already in the outbox keep theirs."""
        self.smtp = smtp
        self.voicemail = voicemail
        self._zones.clear()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> int:
        """Load what a previous run left in the outbox and start sending; returns how many
        emails were pending."""
        loaded = await asyncio.to_thread(self.outbox.load)
        now = asyncio.get_running_loop().time()
        self._pending.extend(_Pending(path, entry, now) for path, entry in loaded)
        if loaded:
            log.info("voicemail: %d emails waiting in the outbox; sending them", len(loaded))
        self._task = asyncio.create_task(self._run(), name="voicemail-mailer")
        self._wake.set()
        return len(loaded)

    async def close(self) -> None:
        """Stop sending; what is pending stays in the outbox for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    # --- deposits --------------------------------------------------------------------

    async def deposited(self, mailbox: Mailbox, message: Message) -> None:
        """The hook :class:`VoicemailService` calls after a deposit: build the email and
        store it in the outbox (before returning), then let the sender task have it.
        Never raises: a notification problem must not fail the caller's deposit."""
        if not recipients(mailbox):
            return
        try:
            path, entry = await asyncio.to_thread(self._store, mailbox, message)
        except (EmailError, OSError, ValueError) as exc:
            log.error("voicemail %s: cannot queue the email notification: %s", mailbox.address, exc)
            return
        log.info(
            "voicemail %s: email for message %d queued (%s)",
            mailbox.address,
            message.number + 1,
            path.name,
        )
        self._pending.append(_Pending(path, entry, asyncio.get_running_loop().time()))
        self._wake.set()

    def _store(self, mailbox: Mailbox, message: Message) -> tuple[Path, OutboxEntry]:
        general = self.voicemail.general
        attachment = None
        if wants_attachment(general, mailbox):
            fmt = attachment_format(general, mailbox)
            path = message.base.with_name(f"{message.base.name}.{extension(fmt)}")
            attachment = Attachment(fmt, path.read_bytes())
        origtime = message.info.origtime or int(self._clock())
        when = datetime.fromtimestamp(origtime, self._zone(mailbox))
        if when.tzinfo is None:
            when = when.astimezone()
        email = build_email(
            mailbox,
            general,
            message.info,
            message.number,
            host=self.host,
            when=when,
            attachment=attachment,
        )
        entry = OutboxEntry(
            mailbox=mailbox.address,
            msg_id=message.info.msg_id,
            sender=sender_address(general, mailbox, self.host),
            recipients=recipients(mailbox),
            created=self._clock(),
        )
        return self.outbox.put(entry, email.as_bytes()), entry

    def _zone(self, mailbox: Mailbox) -> tzinfo | None:
        """The mailbox's zone: ``tz=`` names a ``[zonemessages]`` line (``zone|format``)
        whose first field is an IANA zone; else ``[general]``'s; else the server's."""
        name = mailbox.options.get("tz") or self.voicemail.general.tz
        if not name:
            return None
        if name not in self._zones:
            item = self.voicemail.zonemessages.get(name)
            zone_name = item.value.split("|", 1)[0].strip() if item is not None else name
            try:
                self._zones[name] = ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("voicemail %s: unknown time zone %r", mailbox.address, zone_name)
                self._zones[name] = None
        return self._zones[name]

    # --- sending -----------------------------------------------------------------------

    def _delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failures."""
        delay = self.smtp.retry_delay * 2.0 ** min(attempts - 1, 60)
        return min(delay, max(self.smtp.retry_max, self.smtp.retry_delay))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if not self._pending:
                await self._wake.wait()
                continue
            item = min(self._pending, key=lambda pending: pending.due)
            wait = item.due - loop.time()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            try:
                await self._attempt(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one email stop the others
                log.exception("voicemail %s: email delivery failed", item.entry.mailbox)
                item.due = loop.time() + self._delay(max(1, item.entry.attempts))

    async def _attempt(self, item: _Pending) -> None:
        entry = item.entry
        config = self.smtp

        def send() -> None:
            _, raw = self.outbox.read(item.path)
            self._send(config, entry.sender, entry.recipients, raw)

        try:
            await _on_daemon_thread(send)
        except FileNotFoundError:
            log.warning("voicemail %s: %s vanished from the outbox", entry.mailbox, item.path)
            self._pending.remove(item)
            return
        except Exception as exc:
            entry.attempts += 1
            reason = _describe(exc)
            if isinstance(exc, PermanentError) or entry.attempts >= config.attempts:
                await self._give_up(item, reason)
                return
            retry_in = self._delay(entry.attempts)
            item.due = asyncio.get_running_loop().time() + retry_in
            await asyncio.to_thread(self.outbox.update, item.path, entry)
            log.warning(
                "voicemail %s: email to %s not sent (attempt %d of %d: %s); retry in %gs",
                entry.mailbox,
                ", ".join(entry.recipients),
                entry.attempts,
                config.attempts,
                reason,
                retry_in,
            )
            self.bus.publish(
                VoicemailEmailDeferred(
                    entry.mailbox, entry.msg_id, entry.attempts, retry_in, reason
                )
            )
            return
        entry.attempts += 1
        self._pending.remove(item)
        await asyncio.to_thread(self.outbox.remove, item.path)
        log.info(
            "voicemail %s: email sent to %s via %s:%d",
            entry.mailbox,
            ", ".join(entry.recipients),
            config.host,
            config.port,
        )
        self.bus.publish(
            VoicemailEmailSent(entry.mailbox, entry.msg_id, len(entry.recipients), entry.attempts)
        )

    async def _give_up(self, item: _Pending, reason: str) -> None:
        entry = item.entry
        self._pending.remove(item)
        target = await asyncio.to_thread(self.outbox.give_up, item.path)
        log.error(
            "voicemail %s: email to %s given up after %d attempts (%s); kept in %s",
            entry.mailbox,
            ", ".join(entry.recipients),
            entry.attempts,
            reason,
            target,
        )
        self.bus.publish(VoicemailEmailFailed(entry.mailbox, entry.msg_id, entry.attempts, reason))
