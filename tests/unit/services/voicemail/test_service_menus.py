"""VoicemailService for VoiceMailMain's menus: saving to folders, forwarding, greetings,
PIN changes, and the end-of-session tidy across folders."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.core.events import Event, EventBus
from switchboard.diagnostics import Location
from switchboard.services.voicemail.service import VoicemailDeposited, VoicemailService
from switchboard.services.voicemail.spool import MessageInfo, Spool


def box(number: str, pin: str = "1234") -> Mailbox:
    return Mailbox("default", number, pin, "someone", "", "", {}, Location("v", 1))


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = VoicemailConfig()
    config.general.format = ("wav",)
    config.general.maxmsg = 3
    config.mailboxes["default"] = {"101": box("101"), "102": box("102"), "103": box("103", "-4321")}
    spool = Spool(tmp_path / "voicemail", config.general.format, fsync=False)
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    service = VoicemailService(config, spool, bus)
    yield service, spool, events
    service.close()


def info(msg_id: str) -> MessageInfo:
    return MessageInfo(
        "101", "default", "", "101", "", 1, "PJSIP/bob-1", '"Bob" <102>', "", 1709647629, "",
        msg_id, "", 1,
    )  # fmt: skip


def tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return np.round(np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


@pytest.mark.asyncio
async def test_save_to_folder_copies_then_tidy_deletes_only_the_original(world) -> None:  # type: ignore[no-untyped-def]
    service, spool, _ = world
    alice = service.mailbox("101")
    message = spool.deposit("default", "101", tone(), info("a"))
    copy = await service.save_to_folder(alice, message, "Work")
    assert copy is not None and copy.folder == "Work" and copy.info.msg_id == "a"
    await service.tidy(alice, [message], [message])
    assert spool.messages("default", "101", "INBOX") == []
    assert spool.messages("default", "101", "Old") == []
    (saved,) = spool.messages("default", "101", "Work")
    assert np.abs(spool.samples(saved) - tone()).max() == 0


@pytest.mark.asyncio
async def test_save_to_a_full_folder_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    service, spool, _ = world
    alice = service.mailbox("101")
    for n in range(3):
        spool.deposit("default", "101", tone(0.1), info(f"w{n}"), folder="Family")
    message = spool.deposit("default", "101", tone(), info("a"))
    assert await service.save_to_folder(alice, message, "Family") is None
    assert len(spool.messages("default", "101", "INBOX")) == 1


@pytest.mark.asyncio
async def test_tidy_deletes_in_any_folder_and_moves_heard_to_old(world) -> None:  # type: ignore[no-untyped-def]
    service, spool, _ = world
    alice = service.mailbox("101")
    work = spool.deposit("default", "101", tone(0.1), info("w"), folder="Work")
    first = spool.deposit("default", "101", tone(0.1), info("1"))
    second = spool.deposit("default", "101", tone(0.1), info("2"))
    await service.tidy(alice, [work, first], [first, second])
    assert spool.messages("default", "101", "Work") == []
    assert [m.info.msg_id for m in spool.messages("default", "101", "Old")] == ["2"]
    assert spool.messages("default", "101", "INBOX") == []


@pytest.mark.asyncio
async def test_forward_deposits_a_new_message_in_the_other_box(world) -> None:  # type: ignore[no-untyped-def]
    service, spool, events = world
    bob = service.mailbox("102")
    message = spool.deposit("default", "101", tone(), info("a"))
    intro = np.zeros(4000, dtype=np.int16)
    sent = await service.forward(message, bob, np.concatenate([intro, tone()]))
    assert sent is not None
    (copy,) = spool.messages("default", "102", "INBOX")
    assert copy.info.msg_id != "a" and copy.info.callerid == '"Bob" <102>'
    assert len(spool.samples(copy)) == 12000
    assert any(isinstance(e, VoicemailDeposited) and e.mailbox == "102@default" for e in events)
    assert len(spool.messages("default", "101", "INBOX")) == 1  # the original stays


@pytest.mark.asyncio
async def test_greetings_saved_found_and_removed(world) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = world
    alice = service.mailbox("101")
    assert not await service.has_greeting(alice, "temp")
    await service.save_greeting(alice, "temp", tone())
    assert await service.has_greeting(alice, "temp")
    greeting = await service.greeting(alice, "temp")
    assert greeting is not None and len(greeting) == 8000
    await service.delete_greeting(alice, "temp")
    assert not await service.has_greeting(alice, "temp")


@pytest.mark.asyncio
async def test_a_changed_pin_replaces_the_configured_one(world) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = world
    alice = service.mailbox("101")
    assert service.password_ok(alice, "1234")
    await service.set_password(alice, "5678")
    path = service.password_file(alice)
    assert path.read_text() == "5678\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []
    assert service.password_ok(alice, "5678")
    assert not service.password_ok(alice, "1234")
    assert not service.password_ok(alice, "")


def test_a_dash_pin_cannot_be_changed_but_logs_in(world) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = world
    locked = service.mailbox("103")
    assert not service.may_change_password(locked)
    assert service.may_change_password(service.mailbox("101"))
    assert service.password_ok(locked, "4321")


@pytest.mark.parametrize(
    ("pin", "minimum", "ok"),
    [("5678", 0, True), ("", 0, False), ("*12", 0, False), ("123", 4, False), ("12a4", 0, False)],
)
def test_new_pins_are_checked_as_asterisk_does(world, pin: str, minimum: int, ok: bool) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = world
    service.general.minpassword = minimum
    assert service.password_acceptable(pin) is ok
