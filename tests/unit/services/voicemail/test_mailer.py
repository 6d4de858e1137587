"""The outbox and the sender: nothing lost on failure, backoff, give-up, start-up resend."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import numpy as np
import pytest

from switchboard.config.switchboard import SmtpConfig
from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.core.events import Event, EventBus
from switchboard.diagnostics import Location
from switchboard.services.voicemail.mailer import (
    Mailer,
    Outbox,
    OutboxEntry,
    PermanentError,
    VoicemailEmailDeferred,
    VoicemailEmailFailed,
    VoicemailEmailSent,
)
from switchboard.services.voicemail.spool import MessageInfo, Spool


def smtp(**values: object) -> SmtpConfig:
    config = SmtpConfig("smtp", Location("switchboard.conf", 1))
    config.retry_delay = 0.01
    config.retry_max = 0.04
    for key, value in values.items():
        setattr(config, key, value)
    return config


def box(email: str = "alice@example.com", **options: str) -> Mailbox:
    return Mailbox("default", "101", "1234", "alice", email, "", options, Location("v", 1))


class FakeRelay:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.failures = list(failures or [])
        self.sent: list[tuple[str, list[str], bytes]] = []
        self.calls = 0

    def __call__(self, config: SmtpConfig, sender: str, to: list[str], raw: bytes) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((sender, to, raw))


async def until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = VoicemailConfig()
    config.general.format = ("wav49", "wav")
    config.general.attach = True
    spool = Spool(tmp_path / "voicemail", config.general.format, fsync=False)
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    info = MessageInfo(
        "101", "default", "", "101", "", 1, "PJSIP/bob-1", '"Bob" <102>', "", 1709647629, "",
        "1709647629-00000001", "", 1,
    )  # fmt: skip
    message = spool.deposit("default", "101", np.zeros(8000, dtype=np.int16), info)
    assert message is not None
    return tmp_path / "voicemail" / "outbox", config, bus, events, message


def mailer(world, relay: FakeRelay, **smtp_values: object) -> Mailer:  # type: ignore[no-untyped-def]
    outbox, config, bus, _, _ = world
    return Mailer(outbox, smtp(**smtp_values), config, bus, host="pbx", send=relay, fsync=False)


@pytest.mark.asyncio
async def test_a_deposit_is_queued_then_sent_and_removed(world) -> None:  # type: ignore[no-untyped-def]
    outbox, _, _, events, message = world
    relay = FakeRelay()
    m = mailer(world, relay)
    await m.start()
    await m.deposited(box(), message)
    assert len(list(outbox.glob("*.mail"))) + len(relay.sent) >= 1  # queued before returning
    await until(lambda: any(isinstance(e, VoicemailEmailSent) for e in events))
    await until(lambda: not list(outbox.glob("*.mail")))
    sender, to, raw = relay.sent[0]
    assert sender == "asterisk@pbx"
    assert to == ["alice@example.com"]
    assert b'filename="msg0000.WAV"' in raw
    assert b"Subject: [PBX]: New message 1 in mailbox 101" in raw
    sent = [e for e in events if isinstance(e, VoicemailEmailSent)]
    assert sent == [VoicemailEmailSent("101@default", "1709647629-00000001", 1, 1)]
    await m.close()


@pytest.mark.asyncio
async def test_no_email_address_no_email(world) -> None:  # type: ignore[no-untyped-def]
    outbox, _, _, _, message = world
    relay = FakeRelay()
    m = mailer(world, relay)
    await m.start()
    await m.deposited(box(email=""), message)
    assert not outbox.exists() or not list(outbox.iterdir())
    await m.close()


@pytest.mark.asyncio
async def test_failures_are_retried_with_doubling_delays(world) -> None:  # type: ignore[no-untyped-def]
    outbox, _, _, events, message = world
    relay = FakeRelay([ConnectionRefusedError(111, "refused"), smtplib.SMTPServerDisconnected()])
    m = mailer(world, relay)
    await m.start()
    await m.deposited(box(), message)
    await until(lambda: any(isinstance(e, VoicemailEmailSent) for e in events))
    deferred = [e for e in events if isinstance(e, VoicemailEmailDeferred)]
    assert [(e.attempts, e.retry_in) for e in deferred] == [(1, 0.01), (2, 0.02)]
    assert "refused" in deferred[0].reason
    sent = [e for e in events if isinstance(e, VoicemailEmailSent)]
    assert sent[0].attempts == 3
    await until(lambda: not list(outbox.glob("*.mail")))
    await m.close()


@pytest.mark.asyncio
async def test_delays_are_capped_and_attempts_bounded(world) -> None:  # type: ignore[no-untyped-def]
    outbox, _, _, events, message = world
    relay = FakeRelay([TimeoutError()] * 10)
    m = mailer(world, relay, attempts=5)
    await m.start()
    await m.deposited(box(), message)
    await until(lambda: any(isinstance(e, VoicemailEmailFailed) for e in events))
    deferred = [e.retry_in for e in events if isinstance(e, VoicemailEmailDeferred)]
    assert deferred == [0.01, 0.02, 0.04, 0.04]
    failed = [e for e in events if isinstance(e, VoicemailEmailFailed)]
    assert failed[0].attempts == 5
    assert relay.calls == 5
    assert list(outbox.glob("*.mail")) == []
    assert len(list((outbox / "failed").glob("*.mail"))) == 1
    assert m.pending == 0
    await m.close()


@pytest.mark.asyncio
async def test_a_permanent_refusal_is_given_up_at_once(world) -> None:  # type: ignore[no-untyped-def]
    _, _, _, events, message = world
    relay = FakeRelay([PermanentError("550 no such user")])
    m = mailer(world, relay)
    await m.start()
    await m.deposited(box(), message)
    await until(lambda: any(isinstance(e, VoicemailEmailFailed) for e in events))
    failed = [e for e in events if isinstance(e, VoicemailEmailFailed)]
    assert failed[0].attempts == 1 and "550" in failed[0].reason
    assert relay.calls == 1
    await m.close()


def test_what_counts_as_permanent() -> None:
    from switchboard.services.voicemail.mailer import _permanent

    assert _permanent(smtplib.SMTPRecipientsRefused({"a@b": (550, b"x")}))
    assert not _permanent(smtplib.SMTPRecipientsRefused({"a@b": (450, b"x"), "c@d": (550, b"")}))
    assert _permanent(smtplib.SMTPSenderRefused(553, b"x", "a@b"))
    assert _permanent(smtplib.SMTPDataError(554, b"spam"))
    assert not _permanent(smtplib.SMTPDataError(451, b"later"))
    assert not _permanent(smtplib.SMTPAuthenticationError(535, b"bad password"))
    assert not _permanent(ConnectionRefusedError())


@pytest.mark.asyncio
async def test_pending_emails_are_sent_at_start_up(world) -> None:  # type: ignore[no-untyped-def]
    outbox, _, _, events, message = world
    down = FakeRelay([OSError("down")] * 100)
    first = mailer(world, down, retry_delay=3600, retry_max=3600)
    await first.start()
    await first.deposited(box(), message)
    await until(lambda: any(isinstance(e, VoicemailEmailDeferred) for e in events))
    await first.close()
    (path,) = outbox.glob("*.mail")
    entry, _ = Outbox(outbox).read(path)
    assert entry.attempts == 1  # kept across the restart
    (outbox / ".tmp-leftover.mail.1234").write_bytes(b"half")
    (outbox / "garbage.mail").write_bytes(b"no newline")
    up = FakeRelay()
    second = mailer(world, up)
    assert await second.start() == 1
    await until(lambda: any(isinstance(e, VoicemailEmailSent) for e in events))
    assert [e.attempts for e in events if isinstance(e, VoicemailEmailSent)] == [2]
    assert not (outbox / ".tmp-leftover.mail.1234").exists()
    assert (outbox / "failed" / "garbage.mail").exists()
    await second.close()


def test_outbox_files_are_written_whole(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    entry = OutboxEntry("101@default", "id/../x", "a@b", ["c@d"], 0, 12.5)
    path = outbox.put(entry, b"Subject: x\r\n\r\nbody\n")
    assert path.parent == tmp_path / "outbox"
    assert path.name.startswith("id____x-") and path.suffix == ".mail"
    assert path.stat().st_mode & 0o777 == 0o600
    entry.attempts = 3
    outbox.update(path, entry)
    again, raw = outbox.read(path)
    assert again == entry
    assert raw == b"Subject: x\r\n\r\nbody\n"
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    assert outbox.load() == [(path, entry)]
    outbox.remove(path)
    assert outbox.load() == []
    assert Outbox(tmp_path / "missing").load() == []


@pytest.mark.asyncio
async def test_a_queue_failure_does_not_fail_the_deposit(world, caplog) -> None:  # type: ignore[no-untyped-def]
    outbox, config, _, _, message = world
    config.general.attachfmt = "wav"
    message.base.with_name(message.base.name + ".wav").unlink()
    m = mailer(world, FakeRelay())
    await m.start()
    await m.deposited(box(), message)
    assert "cannot queue the email notification" in caplog.text
    assert not list(outbox.glob("*.mail"))
    await m.close()
