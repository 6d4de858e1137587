"""The log formats of ``serve --log-format json|text``, and the direct event lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

import pytest

from switchboard.cli import DirectLines, JsonFormatter, TextFormatter


def record(name: str, message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)
    made.created = 1_700_000_000.25
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_line_has_time_level_logger_message_and_extra_fields() -> None:
    line = JsonFormatter().format(record("switchboard.app", "port %d busy", 5060, call_id="a1"))
    assert json.loads(line) == {
        "time": "2023-11-14T22:13:20.250+00:00",
        "level": "WARNING",
        "logger": "switchboard.app",
        "message": "port 5060 busy",
        "call_id": "a1",
    }
    assert "\n" not in line


def test_an_event_line_carries_the_event_as_an_object() -> None:
    text = json.dumps({"type": "ContactAdded", "aor": "alice"})
    entry = json.loads(JsonFormatter().format(record("switchboard.events", "%s", text)))
    assert entry["event"] == {"type": "ContactAdded", "aor": "alice"}
    broken = json.loads(JsonFormatter().format(record("switchboard.events", "{not json")))
    assert "event" not in broken


def test_an_exception_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("switchboard.app", "failed")
        made.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(made))
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]


def test_a_text_line_reads_as_the_standard_formatter_writes_it() -> None:
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    text = TextFormatter()
    for created in (1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.0, 1_700_000_000.5):
        made = record("switchboard.app", "port %d busy", 5060)
        made.created, made.msecs = created, (created - int(created)) * 1000
        assert text.format(made) == plain.format(made)


def test_a_text_line_with_a_traceback_reads_as_the_standard_formatter_writes_it() -> None:
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("switchboard.app", "failed %s", "here")
        made.exc_info = sys.exc_info()
    line = TextFormatter().format(made)
    made.exc_text = None
    assert line == plain.format(made)
    assert line.splitlines()[0].endswith(" WARNING switchboard.app: failed here")
    assert "ValueError: boom" in line


def test_direct_lines_write_what_the_text_handler_writes() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.Logger("switchboard.events")
    logger.addHandler(handler)
    message = '{"aor": "alice", "note": "100 %s %d", "type": "ContactAdded"}'
    for created in (1_700_000_000.25, 1_700_000_000.999, 1_700_000_001.0):
        made = logging.LogRecord(logger.name, logging.INFO, __file__, 1, message, (), None)
        made.created, made.msecs = created, int((created - int(created)) * 1000)
        handler.handle(made)
        DirectLines(logger, handler, clock=lambda created=created: created)(logging.INFO, message)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    assert lines[0::2] == lines[1::2]
    assert lines[1].endswith(" INFO switchboard.events: " + message)
    assert lines[3].split(" ")[1].endswith(",999")


class CountedFlushes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_direct_lines_in_an_event_loop_flush_once_per_turn() -> None:
    stream = CountedFlushes()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    write = DirectLines(logging.Logger("switchboard.events"), handler)
    write(logging.INFO, "{}")
    assert stream.flushes == 1  # outside a loop: at once

    async def burst() -> tuple[int, int]:
        for _ in range(3):
            write(logging.INFO, "{}")
        during = stream.flushes
        await asyncio.sleep(0)
        return during, stream.flushes

    assert asyncio.run(burst()) == (1, 2)
    assert len(stream.getvalue().splitlines()) == 4


def test_a_direct_line_that_cannot_be_written_goes_the_standard_way(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.Logger("switchboard.events")
    logger.addHandler(handler)
    stream.close()  # every write now raises ValueError
    DirectLines(logger, handler)(logging.INFO, "{}")
    assert "--- Logging error ---" in capsys.readouterr().err
