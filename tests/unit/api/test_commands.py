"""Console commands answered from a ServerView, without a running server: ``cdr show``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from switchboard.api.commands import Commands, ServerView, command_words, completions
from switchboard.config.diff import ReloadReport
from switchboard.config.switchboard import default_security
from switchboard.core.cdr import BUSY, NO_ANSWER, CallRecord
from switchboard.core.contact import Contact
from switchboard.core.events import EventBus
from switchboard.services.location import LocationService
from switchboard.services.security import Guard
from switchboard.store.cdr import SqlCdrStore
from switchboard.store.contacts import sqlite_engine
from tests.unit.config.helpers import load
from tests.unit.core.test_cdr import record


def view(cdrs: object = None, pjsip: str = "", **kw: object) -> ServerView:
    config, _ = load({"pjsip.conf": pjsip})
    bus = EventBus()
    return ServerView(
        config,
        LocationService(bus),
        None,
        Guard(default_security(), bus, time.monotonic),
        time.time(),
        list,
        lambda: None,
        cdrs,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def local(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


CALLS = [
    record(
        uniqueid="3",
        start=1_700_000_200.0,
        src="103",
        dst="6001",
        disposition=BUSY,
        answer=None,
        duration=2,
        billsec=0,
    ),
    record(
        uniqueid="2",
        start=1_700_000_100.0,
        src="102",
        dst="101",
        disposition=NO_ANSWER,
        answer=None,
        duration=30,
        billsec=0,
    ),
    record(uniqueid="1"),
]


def test_cdr_show_lists_the_recent_calls_as_a_table() -> None:
    asked: list[int] = []

    def cdrs(limit: int) -> Sequence[CallRecord]:
        asked.append(limit)
        return CALLS[:limit]

    ok, output = Commands(view(cdrs)).run("cdr show")
    assert ok
    assert asked == [20]
    assert output.splitlines() == [
        "Start                Src  Dst   Disposition  Duration  Billsec",
        "===================  ===  ====  ===========  ========  =======",
        f"{local(1_700_000_200.0)}  103  6001  BUSY         2         0",
        f"{local(1_700_000_100.0)}  102  101   NO ANSWER    30        0",
        f"{local(1_700_000_000.25)}  101  102   ANSWERED     64        60",
        "",
        "3 object(s) found.",
    ]


def test_cdr_show_n_asks_for_n(tmp_path: Path) -> None:
    store = SqlCdrStore(sqlite_engine(str(tmp_path / "switchboard.db")))
    store.save(reversed(CALLS))
    ok, output = Commands(view(store.recent)).run("CDR SHOW 2")
    assert ok
    assert "103  6001" in output
    assert "102  101" in output
    assert "ANSWERED" not in output
    assert output.endswith("2 object(s) found.")


def test_cdr_show_with_no_calls_yet() -> None:
    ok, output = Commands(view(lambda _limit: [])).run("cdr show")
    assert ok
    assert output.endswith("0 object(s) found.")


@pytest.mark.parametrize("args", ["0", "-3", "ten", "2 3", "²", "1.5"])
def test_cdr_show_rejects_a_count_that_is_not_a_positive_number(args: str) -> None:
    def cdrs(_limit: int) -> Sequence[CallRecord]:
        raise AssertionError("not asked")

    ok, output = Commands(view(cdrs)).run(f"cdr show {args}")
    assert ok
    assert output.startswith("Usage: cdr show [N]")


def test_cdr_show_when_the_server_keeps_no_records() -> None:
    ok, output = Commands(view()).run("cdr show")
    assert ok
    assert output == "Call detail records are not kept by this server"


def test_cdr_show_is_listed_for_help_and_completion() -> None:
    assert "cdr show" in command_words()


PJSIP = """[alice]
type=endpoint
context=from-internal
allow=ulaw,alaw
auth=alice
aors=alice
[alice]
type=auth
auth_type=userpass
username=alice
password=never-shown-7
[alice]
type=aor
max_contacts=2
"""


def site_view(pjsip: str = PJSIP, **kw: object) -> ServerView:
    return view(None, pjsip, **kw)


def test_pjsip_show_endpoint_details_one_endpoint_without_secrets() -> None:
    view = site_view()
    view.location.add(
        Contact("alice", "sip:alice@192.0.2.7:5062", time.time() + 60, "alice"), time.time()
    )
    ok, output = Commands(view).run("pjsip show endpoint alice")
    assert ok
    lines = output.splitlines()
    assert lines[0] == " Endpoint:  alice  Available"
    assert "     InAuth:  alice/alice" in lines
    assert "        Aor:  alice  2" in lines
    assert "      Contact:  alice/sip:alice@192.0.2.7:5062  " in lines
    assert " codecs                         : ulaw,alaw" in lines
    assert " direct_media                   : true" in lines
    assert "never-shown" not in output


def test_pjsip_show_endpoint_of_an_unknown_name_fails() -> None:
    assert Commands(site_view()).run("pjsip show endpoint bob") == (
        False,
        "Unable to find object bob.",
    )
    assert Commands(site_view()).run("pjsip show endpoint")[0] is False


def test_pjsip_show_registrations_is_asterisks_empty_table_without_any() -> None:
    ok, output = Commands(site_view()).run("pjsip show registrations")
    assert ok and output.endswith("\nNo objects found.")
    outbound = PJSIP + "[trunk]\ntype=registration\nserver_uri=sip:provider.example\n"
    ok, output = Commands(site_view(outbound)).run("pjsip show registrations")
    assert " trunk/sip:provider.example  n/a  Unregistered" in output
    assert "not implemented" in output


def test_pjsip_set_logger_turns_the_trace_on_and_off() -> None:
    calls: list[bool] = []
    commands = Commands(site_view(sip_trace=calls.append))
    assert commands.run("pjsip set logger on") == (True, "PJSIP Logging enabled")
    assert commands.run("pjsip set logger off") == (True, "PJSIP Logging disabled")
    assert commands.run("pjsip set logger maybe")[0] is False
    assert calls == [True, False]


@pytest.mark.asyncio
async def test_core_reload_answers_the_report_and_fails_when_refused() -> None:
    reports = [
        ReloadReport(True, ["endpoint bob added"], [], []),
        ReloadReport(False, [], ["pjsip.conf:3: error: bad"], []),
    ]

    async def reload() -> ReloadReport:
        return reports.pop(0)

    commands = Commands(site_view(reload=reload))
    assert await commands.execute("core reload") == (
        True,
        "Reloaded: 1 change(s).\n  endpoint bob added",
    )
    ok, output = await commands.execute("module reload")
    assert not ok and output.endswith("pjsip.conf:3: error: bad")
    ok, output = commands.run("core reload")
    assert not ok and "control socket" in output


def test_completions_offer_arguments_and_endpoint_names() -> None:
    lines = completions(["alice"])
    assert "pjsip show endpoint alice" in lines
    assert "core show channels verbose" in lines
    assert {"pjsip set logger on", "pjsip set logger off", "core reload"} <= set(lines)
