"""Voicemail email: bob leaves alice a message and it arrives by SMTP at a local aiosmtpd
server, with the subject and body templates filled in and the message attached; when the
relay is down at first, the email arrives once it is up (the outbox is retried)."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiosmtpd.controller import Controller

from switchboard.services.voicemail.formats import decode
from tests.e2e.audio import tone_seconds
from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.voicemail_calls import MESSAGE_TONE, beep_frequency, inbox, leave_message

pytestmark = pytest.mark.e2e

SUBJECT = r"Message ${VM_MSGNUM} for ${VM_NAME} from ${VM_CIDNUM}"
BODY = r"Mailbox ${VM_MAILBOX}@${VM_CONTEXT}\nFrom: ${VM_CALLERID}\nLength:\t${VM_DUR}"


class Collector:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait(self, timeout: float) -> tuple[str, list[str], EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received:
                return self.received[0]
            time.sleep(0.05)
        raise AssertionError("no email arrived")


def smtp_server(port: int) -> tuple[Controller, Collector]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, collector


def email_config(folder: Path, ports: Ports, smtp_port: int) -> Path:
    """The reference deployment; alice's box 101 has an email address and attach=yes,
    [general] has subject and body templates, switchboard.conf points at the relay."""
    config = reference_config(folder, ports)
    voicemail = (config / "voicemail.conf").read_text()
    voicemail = voicemail.replace(
        "[default]", f"emailsubject={SUBJECT}\nemailbody={BODY}\n[default]", 1
    )
    voicemail = voicemail.replace(
        "101 => 1234, alice", "101 => 1234,alice,alice@example.com,,attach=yes"
    )
    assert "alice@example.com" in voicemail
    (config / "voicemail.conf").write_text(voicemail)
    (config / "switchboard.conf").write_text(
        f"[smtp]\nhost=127.0.0.1\nport={smtp_port}\ntimeout=5\nretry_delay=0.5\nretry_max=1\n"
    )
    return config


def check_email(mail: tuple[str, list[str], EmailMessage]) -> None:
    sender, recipients, message = mail
    assert sender.startswith("asterisk@"), sender
    assert recipients == ["alice@example.com"]
    assert message["To"].addresses[0].addr_spec == "alice@example.com"
    assert message["To"].addresses[0].display_name == "alice"
    assert message["From"].addresses[0].display_name == "Asterisk PBX"
    assert message["Subject"] == "Message 1 for alice from bob"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    lines = text.splitlines()
    assert lines[0] == "Mailbox 101@default", text
    assert lines[1] == 'From: "Bob" <bob>', text
    assert lines[2].startswith("Length:\t0:0"), text
    seconds = int(lines[2].rsplit(":", 1)[1])
    assert 2 <= seconds <= 4, text
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    part = attachments[0]
    assert part.get_content_type() == "audio/x-wav"
    assert part.get_filename() == "msg0000.WAV"
    data = part.get_content()
    assert isinstance(data, bytes)
    samples = decode("WAV", data)
    assert 2.5 <= tone_seconds(np.asarray(samples), MESSAGE_TONE, 8000) <= 3.1


def test_the_message_is_emailed_with_its_recording(tmp_path: Path) -> None:
    ports = Ports()
    controller, collector = smtp_server(free_port())
    try:
        config = email_config(tmp_path / "config", ports, controller.port)
        with ServerProcess(config, tmp_path / "state") as server:
            leave_message(tmp_path, ports, "deposit", 3.0, beep_frequency(config))
            check_email(collector.wait(timeout=20))
            server.wait_for('"type": "VoicemailEmailSent"')
        assert (inbox(tmp_path) / "msg0000.WAV").exists()
        outbox = tmp_path / "state" / "voicemail" / "outbox"
        assert [p for p in outbox.iterdir() if p.is_file()] == []
    finally:
        controller.stop()


def test_the_email_waits_for_the_relay_to_come_up(tmp_path: Path) -> None:
    ports = Ports()
    smtp_port = free_port()
    config = email_config(tmp_path / "config", ports, smtp_port)
    with ServerProcess(config, tmp_path / "state") as server:
        leave_message(tmp_path, ports, "deposit", 3.0, beep_frequency(config))
        server.wait_for('"type": "VoicemailEmailDeferred"')
        outbox = tmp_path / "state" / "voicemail" / "outbox"
        assert len(list(outbox.glob("*.mail"))) == 1
        controller, collector = smtp_server(smtp_port)
        try:
            check_email(collector.wait(timeout=20))
            server.wait_for('"type": "VoicemailEmailSent"')
        finally:
            controller.stop()
    assert list(outbox.glob("*.mail")) == []
