"""The voicemail spool on disk: Asterisk's layout, numbering, and no half message ever."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.services.voicemail import (
    MailboxFullError,
    MessageInfo,
    Spool,
    SpoolError,
    formats,
    make_msg_id,
)

RATE = 8000
FORMATS = ["wav49", "gsm", "wav", "ulaw"]


def tone(seconds: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.argmax(spectrum) * RATE / len(samples))


def info(callerid: str = '"Bob" <102>', duration: int = 5, msg_id: str = "1704110400-00000000"):
    return MessageInfo(
        origmailbox="101",
        context="from-internal",
        macrocontext="",
        exten="101",
        rdnis="unknown",
        priority=2,
        callerchan="PJSIP/bob-00000001",
        callerid=callerid,
        origdate="Mon Jan  1 12:00:00 PM UTC 2024",
        origtime=1704110400,
        category="",
        msg_id=msg_id,
        flag="",
        duration=duration,
    )


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "voicemail", FORMATS, fsync=False)


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_deposit_writes_every_format_and_the_txt_in_asterisks_layout(spool: Spool) -> None:
    message = spool.deposit("default", "101", tone(5.0), info())
    assert message is not None
    inbox = spool.root / "default" / "101" / "INBOX"
    assert message.number == 0 and message.folder == "INBOX" and message.base == inbox / "msg0000"
    assert files(inbox) == ["msg0000.WAV", "msg0000.gsm", "msg0000.txt", "msg0000.ulaw",
                            "msg0000.wav"]  # fmt: skip
    assert files(spool.root / "default" / "101" / "tmp") == []


@pytest.mark.parametrize("ext", ["WAV", "gsm", "wav", "ulaw"])
def test_each_stored_format_decodes_to_the_tone_for_its_duration(spool: Spool, ext: str) -> None:
    message = spool.deposit("default", "101", tone(5.0), info())
    assert message is not None
    data = Path(f"{message.base}.{ext}").read_bytes()
    decoded = formats.decode(ext, data)
    assert abs(len(decoded) - 5 * RATE) < 320
    assert abs(peak_hz(decoded) - 1000) < 5


@pytest.mark.parametrize("fmt", ["alaw", "sln"])
def test_alaw_and_sln_are_stored_too(tmp_path: Path, fmt: str) -> None:
    spool = Spool(tmp_path, [fmt], fsync=False)
    message = spool.deposit("default", "101", tone(1.0), info())
    assert message is not None
    assert Path(f"{message.base}.{fmt}").exists()
    assert abs(peak_hz(spool.samples(message)) - 1000) < 5


def test_samples_prefer_the_lossless_format(spool: Spool) -> None:
    samples = tone(1.0, freq=440)
    message = spool.deposit("default", "101", samples, info())
    assert message is not None
    assert np.array_equal(spool.samples(message), samples)  # from .wav, bit-exact
    Path(f"{message.base}.wav").unlink()
    from_ulaw = spool.samples(message)
    assert len(from_ulaw) == len(samples) and abs(peak_hz(from_ulaw) - 440) < 5
    Path(f"{message.base}.ulaw").unlink()
    assert abs(peak_hz(spool.samples(message)) - 440) < 5  # gsm


def test_txt_is_asterisks_message_information_file(spool: Spool) -> None:
    message = spool.deposit("default", "101", tone(0.5), info())
    assert message is not None
    assert Path(f"{message.base}.txt").read_text() == (
        ";\n"
        "; Message Information file\n"
        ";\n"
        "[message]\n"
        "origmailbox=101\n"
        "context=from-internal\n"
        "macrocontext=\n"
        "exten=101\n"
        "rdnis=unknown\n"
        "priority=2\n"
        "callerchan=PJSIP/bob-00000001\n"
        'callerid="Bob" <102>\n'
        "origdate=Mon Jan  1 12:00:00 PM UTC 2024\n"
        "origtime=1704110400\n"
        "category=\n"
        "msg_id=1704110400-00000000\n"
        "flag=\n"
        "duration=5\n"
    )
    assert spool.messages("default", "101")[0].info == info()


def test_a_value_cannot_inject_keys() -> None:
    text = info(callerid="x\nduration=999").to_text()
    assert MessageInfo.from_text(text).duration == 5


def test_from_text_reads_asterisk_files_leniently() -> None:
    text = ";\n; Message Information file\n;\n[message]\norigmailbox=101\npriority=x\n"
    parsed = MessageInfo.from_text(text + "duration=12\nunknown=1\n")
    assert parsed.origmailbox == "101" and parsed.priority == 0 and parsed.duration == 12
    assert parsed.msg_id == "" and parsed.flag == ""


LINE_BREAKS = "\r\n\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"
st_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=LINE_BREAKS), max_size=20
).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(callerid=st_text, msg_id=st_text, duration=st.integers(0, 10**6))
def test_txt_round_trips(callerid: str, msg_id: str, duration: int) -> None:
    original = info(callerid=callerid, msg_id=msg_id, duration=duration)
    assert MessageInfo.from_text(original.to_text()) == original


def test_modes_are_0700_and_0600(spool: Spool) -> None:
    message = spool.deposit("default", "101", tone(0.5), info())
    assert message is not None
    for directory in (spool.root / "default", spool.root / "default" / "101", message.base.parent):
        assert directory.stat().st_mode & 0o777 == 0o700
    for path in message.base.parent.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def test_maxmsg_refuses_the_next_message(spool: Spool) -> None:
    for _ in range(3):
        assert spool.deposit("default", "101", tone(0.1), info(), maxmsg=3) is not None
    assert spool.deposit("default", "101", tone(0.1), info(), maxmsg=3) is None
    assert spool.count("default", "101") == 3
    assert files(spool.root / "default" / "101" / "tmp") == []


def test_numbering_takes_the_first_free_number(spool: Spool) -> None:
    for _ in range(3):
        spool.deposit("default", "101", tone(0.1), info())
    inbox = spool.root / "default" / "101" / "INBOX"
    for path in inbox.glob("msg0001.*"):
        path.unlink()  # a gap left by someone else (e.g. Asterisk itself)
    message = spool.deposit("default", "101", tone(0.1), info())
    assert message is not None and message.number == 1


def test_delete_renumbers_the_folder_without_gaps(spool: Spool) -> None:
    for n in range(4):
        spool.deposit("default", "101", tone(0.1), info(msg_id=f"id{n}"))
    second = spool.messages("default", "101")[1]
    spool.delete(second)
    remaining = spool.messages("default", "101")
    assert [m.number for m in remaining] == [0, 1, 2]
    assert [m.info.msg_id for m in remaining] == ["id0", "id2", "id3"]
    inbox = spool.root / "default" / "101" / "INBOX"
    assert {p.name[:7] for p in inbox.iterdir()} == {"msg0000", "msg0001", "msg0002"}
    assert len(list(inbox.iterdir())) == 3 * 5


def test_delete_can_defer_renumbering_as_asterisk_does_until_the_mailbox_closes(
    spool: Spool,
) -> None:
    for n in range(3):
        spool.deposit("default", "101", tone(0.1), info(msg_id=f"id{n}"))
    first, second, _ = spool.messages("default", "101")
    spool.delete(first, renumber=False)
    spool.delete(second, renumber=False)
    assert [m.number for m in spool.messages("default", "101")] == [2]
    assert spool.renumber("default", "101", "INBOX") == 1
    assert [(m.number, m.info.msg_id) for m in spool.messages("default", "101")] == [(0, "id2")]


def test_move_to_old_after_listening(spool: Spool) -> None:
    for n in range(2):
        spool.deposit("default", "101", tone(0.1), info(msg_id=f"id{n}"))
    spool.deposit("default", "101", tone(0.1), info(msg_id="old0"), folder="Old")
    first = spool.messages("default", "101")[0]
    moved = spool.move(first, "Old")
    assert moved.folder == "Old" and moved.number == 1 and moved.info.msg_id == "id0"
    assert Path(f"{moved.base}.WAV").exists()
    assert [m.info.msg_id for m in spool.messages("default", "101", "Old")] == ["old0", "id0"]
    assert [(m.number, m.info.msg_id) for m in spool.messages("default", "101")] == [(0, "id1")]
    assert abs(peak_hz(spool.samples(moved)) - 1000) < 5


def test_move_refuses_a_full_folder(spool: Spool) -> None:
    spool.deposit("default", "101", tone(0.1), info())
    spool.deposit("default", "101", tone(0.1), info(), folder="Old")
    with pytest.raises(MailboxFullError):
        spool.move(spool.messages("default", "101")[0], "Old", maxmsg=1)
    assert spool.counts("default", "101") == (1, 1)


def test_counts_are_new_inbox_plus_urgent_and_old(spool: Spool) -> None:
    assert spool.counts("default", "101") == (0, 0)
    spool.deposit("default", "101", tone(0.1), info())
    spool.deposit("default", "101", tone(0.1), info(), folder="Urgent")
    spool.deposit("default", "101", tone(0.1), info(), folder="Old")
    spool.deposit("default", "101", tone(0.1), info(), folder="Work")
    assert spool.counts("default", "101") == (2, 1)
    assert spool.count("default", "101", "Work") == 1
    assert spool.counts("default", "102") == (0, 0)


def test_greetings(spool: Spool) -> None:
    assert spool.greeting("default", "101", "unavail") is None
    spool.save_greeting("default", "101", "unavail", tone(1.0, freq=600))
    base = spool.greeting("default", "101", "unavail")
    assert base == spool.root / "default" / "101" / "unavail"
    assert files(base.parent) == ["tmp", "unavail.WAV", "unavail.gsm", "unavail.ulaw",
                                  "unavail.wav"]  # fmt: skip
    assert spool.greeting("default", "101", "busy") is None
    spool.save_greeting("default", "101", "unavail", tone(1.0, freq=1500))  # re-recorded
    from switchboard.services.voicemail import read_sound

    samples = read_sound(base)
    assert samples is not None and abs(peak_hz(samples) - 1500) < 5
    spool.delete_greeting("default", "101", "unavail")
    assert spool.greeting("default", "101", "unavail") is None


def test_greeting_saved_with_other_formats_drops_the_stale_ones(tmp_path: Path) -> None:
    Spool(tmp_path, ["wav", "gsm"], fsync=False).save_greeting("c", "1", "busy", tone(0.2))
    Spool(tmp_path, ["ulaw"], fsync=False).save_greeting("c", "1", "busy", tone(0.2))
    assert files(tmp_path / "c" / "1") == ["busy.ulaw", "tmp"]


def test_a_greeting_of_another_format_is_found(tmp_path: Path) -> None:
    box = tmp_path / "default" / "101"
    box.mkdir(parents=True)
    (box / "temp.gsm").write_bytes(formats.encode("gsm", tone(0.2)))
    assert Spool(tmp_path, ["wav"]).greeting("default", "101", "temp") == box / "temp"


def test_unknown_names_are_refused(spool: Spool, tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="folder"):
        spool.messages("default", "101", "Inbox")
    with pytest.raises(SpoolError, match="greeting"):
        spool.greeting("default", "101", "name")
    with pytest.raises(SpoolError, match="mailbox"):
        spool.count("default", "../etc")
    with pytest.raises(SpoolError, match="g729"):
        Spool(tmp_path, ["wav", "g729"])


def test_cleanup_removes_temporary_files_and_orphans(spool: Spool) -> None:
    spool.deposit("default", "101", tone(0.1), info(msg_id="kept"))
    box = spool.root / "default" / "101"
    (box / "tmp" / "0123abcd.WAV").write_bytes(b"partial")
    (box / "tmp" / "0123abcd.txt").write_bytes(b"partial")
    (box / "INBOX" / "msg0001.wav").write_bytes(b"no txt: never complete")
    (box / "INBOX" / "msg0001.gsm").write_bytes(b"no txt: never complete")
    assert spool.cleanup() == 4
    assert files(box / "tmp") == []
    assert [m.info.msg_id for m in spool.messages("default", "101")] == ["kept"]
    assert len(list((box / "INBOX").iterdir())) == 5
    assert spool.cleanup() == 0


def test_cleanup_closes_a_gap_a_crash_left_in_renumbering(spool: Spool) -> None:
    for n in range(3):
        spool.deposit("default", "101", tone(0.1), info(msg_id=f"id{n}"))
    inbox = spool.root / "default" / "101" / "INBOX"
    for path in inbox.glob("msg0000.*"):
        path.unlink()
    spool.cleanup()
    assert [(m.number, m.info.msg_id) for m in spool.messages("default", "101")] == [
        (0, "id1"), (1, "id2"),
    ]  # fmt: skip


def test_cleanup_of_a_missing_root_is_nothing(tmp_path: Path) -> None:
    assert Spool(tmp_path / "absent", ["wav"]).cleanup() == 0


def test_a_failing_later_format_leaves_no_message(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash simulation: the third format's write fails after two were written to tmp/."""
    spool.deposit("default", "101", tone(0.1), info(msg_id="before"))
    real_write = Spool._write_temp
    calls = []

    def failing_write(self: Spool, tmp: Path, ext: str, data: bytes) -> Path:
        calls.append(ext)
        if ext == "wav":
            raise OSError(28, "No space left on device")
        return real_write(self, tmp, ext, data)

    monkeypatch.setattr(Spool, "_write_temp", failing_write)
    with pytest.raises(OSError, match="No space"):
        spool.deposit("default", "101", tone(0.1), info(msg_id="lost"))
    assert calls == ["WAV", "gsm", "wav"]
    assert [m.info.msg_id for m in spool.messages("default", "101")] == ["before"]
    assert files(spool.root / "default" / "101" / "tmp") == []
    monkeypatch.undo()
    assert spool.cleanup() == 0


def test_a_failing_encoder_leaves_nothing_at_all(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(samples: np.ndarray) -> bytes:
        raise RuntimeError("encoder failed")

    monkeypatch.setitem(formats.ENCODERS, "wav", broken)
    with pytest.raises(RuntimeError):
        spool.deposit("default", "101", tone(0.1), info())
    assert spool.count("default", "101") == 0
    assert (
        not (spool.root / "default" / "101" / "INBOX").exists()
        or files(spool.root / "default" / "101" / "INBOX") == []
    )


def test_a_crash_before_the_txt_is_linked_is_invisible_then_cleaned(
    spool: Spool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill between linking the sound files and the .txt: the message never appears; the
    sound files and temporaries are what cleanup removes at the next start."""
    real_link = os.link

    def dying_link(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if str(dst).endswith(".txt"):
            raise KeyboardInterrupt  # stands for SIGKILL: nothing after this runs
        real_link(src, dst)

    monkeypatch.setattr(os, "link", dying_link)
    monkeypatch.setattr(os, "unlink", lambda path: None)  # a killed process cleans nothing
    with pytest.raises(KeyboardInterrupt):
        spool.deposit("default", "101", tone(0.1), info())
    monkeypatch.undo()
    assert spool.count("default", "101") == 0
    assert spool.messages("default", "101") == []
    assert spool.cleanup() > 0
    box = spool.root / "default" / "101"
    assert files(box / "tmp") == [] and files(box / "INBOX") == []


def test_concurrent_deposits_never_share_a_number(spool: Spool) -> None:
    barrier = threading.Barrier(8)
    results = []

    def deposit(n: int) -> None:
        barrier.wait()
        results.append(spool.deposit("default", "101", tone(0.2), info(msg_id=f"id{n}")))

    threads = [threading.Thread(target=deposit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m.number for m in results if m) == list(range(8))
    assert sorted(m.info.msg_id for m in spool.messages("default", "101")) == [
        f"id{n}" for n in range(8)
    ]


def test_concurrent_deposits_respect_maxmsg(spool: Spool) -> None:
    barrier = threading.Barrier(6)
    results = []

    def deposit() -> None:
        barrier.wait()
        results.append(spool.deposit("default", "101", tone(0.1), info(), maxmsg=4))

    threads = [threading.Thread(target=deposit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r is not None) == 4
    assert spool.count("default", "101") == 4


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["deposit", "delete0", "deletelast", "move"]), max_size=12))
def test_any_sequence_keeps_numbering_dense(tmp_path: Path, operations: list[str]) -> None:
    spool = Spool(tmp_path / os.urandom(4).hex(), ["sln"], fsync=False)
    for operation in operations:
        inbox = spool.messages("c", "1")
        if operation == "deposit":
            spool.deposit("c", "1", tone(0.02), info(), maxmsg=5)
        elif inbox and operation == "delete0":
            spool.delete(inbox[0])
        elif inbox and operation == "deletelast":
            spool.delete(inbox[-1])
        elif inbox and operation == "move":
            spool.move(inbox[0], "Old")
        for folder in ("INBOX", "Old"):
            numbers = [m.number for m in spool.messages("c", "1", folder)]
            assert numbers == list(range(len(numbers)))
    assert spool.cleanup() == 0


def test_msg_ids_are_unique_and_shaped_as_asterisks() -> None:
    first, second = make_msg_id(1704110400), make_msg_id(1704110400)
    assert first != second
    assert first.startswith("1704110400-") and len(first.split("-")[1]) == 8
