"""The dialplan step machine: priorities, jumps, ends and the h extension, as Asterisk 21."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

import pytest

from switchboard.dialplan.events import MessageLogged, VerboseLogged, WarningLogged
from switchboard.dialplan.interpreter import (
    Application,
    ApplicationRegistry,
    Continue,
    Execute,
    Goto,
    Hangup,
    Interpreter,
    InterpreterError,
    Terminate,
    Wait,
)
from switchboard.dialplan.state import ChannelState
from tests.unit.dialplan.helpers import dialplan, run, start

REFERENCE = Path(__file__).parents[4] / "shared" / "reference" / "extensions.conf"
REFERENCE_TEXT = (
    REFERENCE.read_text()
    if REFERENCE.exists()
    else "[from-internal]\nexten=>101,1,Dial(PJSIP/alice,10)\nexten=>102,1,Dial(PJSIP/bob,10)\n"
    "exten=>199,1,VoiceMailMain()\nexten=>101,2,VoiceMail(101)\nexten=>102,2,VoiceMail(102)\n"
)


def executes(actions: list[object]) -> list[tuple[str, str, int]]:
    return [(a.app, a.args, a.priority) for a in actions if isinstance(a, Execute)]


def messages(interp: Interpreter, kind: type = WarningLogged) -> list[str]:
    return [e.message for e in interp.state.events if isinstance(e, kind)]


# -- the reference deployment --


def test_reference_101_no_answer_goes_to_voicemail_at_priority_2() -> None:
    interp = start(REFERENCE_TEXT, "101", "from-internal")
    dial = interp.next_action()
    assert isinstance(dial, Execute)
    assert (dial.app, dial.args, dial.context, dial.exten, dial.priority) == (
        "Dial",
        "PJSIP/alice,10",
        "from-internal",
        "101",
        1,
    )
    assert interp.next_action() is None  # Dial is ringing
    interp.complete(Wait())
    assert interp.next_action() is None
    interp.complete(Continue({"DIALSTATUS": "NOANSWER"}))
    voicemail = interp.next_action()
    assert isinstance(voicemail, Execute)
    assert (voicemail.app, voicemail.args, voicemail.priority) == ("VoiceMail", "101", 2)
    assert voicemail.location.line > dial.location.line
    interp.complete(Continue())
    assert interp.next_action() == Terminate(16)
    assert interp.finished
    assert messages(interp, VerboseLogged) == [
        "Auto fallthrough, channel 'PJSIP/bob-00000001' status is 'NOANSWER'"
    ]
    assert interp.state.get("DIALSTATUS") == "NOANSWER"


def test_reference_answered_call_ends_when_dial_returns_hangup() -> None:
    interp = start(REFERENCE_TEXT, "102", "from-internal")
    actions = run(interp, {"Dial": Hangup(16, {"DIALSTATUS": "ANSWER"})})
    assert executes(actions) == [("Dial", "PJSIP/bob,10", 1)]
    assert actions[-1] == Terminate(16)


def test_reference_199_runs_voicemailmain() -> None:
    actions = run(start(REFERENCE_TEXT, "199", "from-internal"))
    assert executes(actions) == [("VoiceMailMain", "", 1)]


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("BUSY", Terminate(17, "busy")),
        ("busy", Terminate(17, "busy")),
        ("CONGESTION", Terminate(34, "congestion")),
        ("CHANUNAVAIL", Terminate(34, "congestion")),
        ("NOANSWER", Terminate(16)),
        ("CANCEL", Terminate(16)),
    ],
)
def test_autofallthrough_indicates_from_dialstatus(status: str, final: Terminate) -> None:
    interp = start("[c]\nexten => 1,1,Dial(PJSIP/x)\n", "1", "c")
    actions = run(interp, {"Dial": Continue({"DIALSTATUS": status})})
    assert actions[-1] == final


def test_autofallthrough_without_dialstatus_says_unknown() -> None:
    interp = start("[c]\nexten => 1,1,NoOp()\n", "1", "c")
    assert run(interp) == [Terminate(16)]
    assert "status is 'UNKNOWN'" in messages(interp, VerboseLogged)[0]


# -- substitution of arguments, patterns and includes --


def test_arguments_are_substituted_with_the_current_position() -> None:
    text = (
        "[globals]\nTRUNK=PJSIP/trunk\n"
        "[c]\ninclude => other\n"
        "[other]\nexten => _9X.,1,Dial(${TRUNK}/${EXTEN:1},${PRIORITY}0)\n"
        " same => n,Playback(${CONTEXT}-${CALLERID(num)})\n"
    )
    interp = start(text, "9555", "c", caller_number="102")
    actions = run(interp)
    assert executes(actions) == [
        ("Dial", "PJSIP/trunk/555,10", 1),
        ("Playback", "c-102", 2),  # CONTEXT stays the channel's, not the included one
    ]
    assert interp.state.globals == {"TRUNK": "PJSIP/trunk"}


def test_channel_variables_shadow_globals_only_for_that_channel() -> None:
    text = "[globals]\nG=global\n[c]\nexten => 1,1,Set(G=mine)\n same => n,Playback(${G})\n"
    plan = dialplan(text)
    first = Interpreter(plan, ChannelState(context="c", exten="1"), applications=_apps())
    assert executes(run(first)) == [("Playback", "mine", 2)]
    second = ChannelState(context="c", exten="1", variables={})
    assert second.get("G") is None
    Interpreter(plan, second, applications=_apps())
    assert second.get("G") == "global"


def test_explicit_globals_are_kept() -> None:
    state = ChannelState(context="c", exten="1", globals={"OWN": "1"})
    Interpreter(dialplan("[globals]\nG=1\n[c]\nexten => 1,1,NoOp()\n"), state)
    assert state.globals == {"OWN": "1"}


def _apps() -> ApplicationRegistry:
    return ApplicationRegistry([Application("Playback"), Application("Dial")])


# -- Set, MSet, NoOp, Verbose --


def test_set_takes_everything_after_the_first_equals_sign() -> None:
    text = (
        "[c]\nexten => 1,1,Set(A=1,B=2)\n same => n,Set(C=x=y)\n same => n,Set(_INH=1)\n"
        " same => n,Set(__INH2=2)\n same => n,Set(E=)\n same => n,Set(CALLERID(num)=555)\n"
        " same => n,NoOp(${A})\n"
    )
    interp = start(text, "1", "c")
    run(interp)
    state = interp.state
    assert state.variables["A"] == "1,B=2"
    assert "B" not in state.variables
    assert state.variables["C"] == "x=y"
    assert state.variables["INH"] == "1"
    assert state.variables["INH2"] == "2"
    assert state.variables["E"] == ""
    assert state.caller_number == "555"
    assert messages(interp, WarningLogged) == []


def test_set_problems_warn_and_continue() -> None:
    text = "[c]\nexten => 1,1,Set()\n same => n,Set(NOEQUALS)\n same => n,Set(A B=1)\n"
    interp = start(text, "1", "c")
    assert run(interp) == [Terminate(16)]
    warnings = messages(interp)
    assert warnings[0] == "Set requires one variable name/value pair."
    assert warnings[1] == "Set requires an '=' to be a valid assignment."
    assert "avoid unnecessary spaces" in warnings[2]
    assert interp.state.variables["A B"] == "1"


def test_mset_sets_several_and_strips_quotes() -> None:
    text = '[c]\nexten => 1,1,MSet(A=1,B="two, three",BAD)\n same => n,MSet()\n'
    interp = start(text, "1", "c")
    run(interp)
    assert interp.state.variables["A"] == "1"
    assert interp.state.variables["B"] == "two, three"
    assert messages(interp) == [
        "MSet: ignoring entry 'BAD' with no '='",
        "MSet requires at least one variable name/value pair.",
    ]


def test_verbose_levels_and_messages() -> None:
    text = (
        "[c]\nexten => 1,1,Verbose(hello)\n same => n,Verbose(2,to ${EXTEN}, with comma)\n"
        " same => n,Verbose(loud,text)\n same => n,Verbose(9,big)\n same => n,Verbose()\n"
        " same => n,NoOp(ignored)\n same => n,Log(notice,note, this)\n same => n,Log(LOUD,x)\n"
        " same => n,Log(error)\n same => n,Log()\n"
    )
    interp = start(text, "1", "c")
    run(interp)
    verbose = [(e.level, e.message) for e in interp.state.events if isinstance(e, VerboseLogged)]
    assert verbose[:4] == [(0, "hello"), (2, "to 1, with comma"), (0, "text"), (4, "big")]
    assert verbose[4][1].startswith("Auto fallthrough")
    assert messages(interp) == ["'loud' is not a verboser number", "Unknown log level: 'LOUD'"]
    logged = [(e.level, e.message) for e in interp.state.events if isinstance(e, MessageLogged)]
    assert logged == [("NOTICE", "note, this"), ("ERROR", "")]
    assert interp.drain_events()
    assert interp.drain_events() == []


# -- Goto and GotoIf --


GOTOS = """
[c]
exten => 1,1,GotoIf($[${X} = 1]?yes:no)
 same => n(yes),Playback(yes)
 same => n,Hangup()
 same => n(no),Playback(no)
 same => n,Goto(2,start)
exten => 2,1(start),Playback(two)
 same => n,Goto(other,3,1)
exten => 4,1,GotoIf(${X}?:skip)
 same => n,Playback(truth)
 same => n(skip),Playback(after)
exten => 5,1,Goto(+2)
 same => n,Playback(skipped)
 same => n,Playback(landed)
 same => n,Goto(-1)
exten => 6,1,GotoIf(1?c,2,1:bad)
exten => 7,1,GotoIf()
 same => n,GotoIf(noquestionmark)
 same => n,Playback(seven)
exten => 8,1,Goto(nolabel)
exten => 9,1,Goto()
exten => 10,1,Goto(,,1)
[other]
exten => 3,1,Playback(other)
"""


@pytest.mark.parametrize(
    ("exten", "x", "plays"),
    [
        ("1", "1", ["yes"]),
        ("1", "0", ["no", "two", "other"]),
        ("1", "", ["no", "two", "other"]),
        ("4", "1", ["truth", "after"]),
        ("4", "0", ["after"]),
        ("6", "", ["two", "other"]),
        ("7", "", ["seven"]),
    ],
)
def test_gotoif_and_goto_with_labels(exten: str, x: str, plays: list[str]) -> None:
    interp = start(GOTOS, exten, "c", variables={"X": x})
    actions = run(interp)
    assert [args for app, args, _ in executes(actions)] == plays


def test_relative_goto_loops_until_max_steps() -> None:
    interp = start(GOTOS, "5", "c", max_steps=50)
    actions = run(interp)
    assert executes(actions)[:2] == [("Playback", "landed", 3), ("Playback", "landed", 3)]
    assert actions[-1] == Terminate(16)
    assert "ran 50 priorities without ending" in messages(interp)[0]


@pytest.mark.parametrize(
    ("exten", "warning"),
    [
        ("8", "Priority 'nolabel' must be a number > 0, or valid label"),
        ("9", "Goto requires an argument ([[context,]extension,]priority)"),
    ],
)
def test_bad_goto_hangs_up(exten: str, warning: str) -> None:
    interp = start(GOTOS, exten, "c")
    assert run(interp) == [Terminate(16)]
    assert messages(interp) == [warning]


def test_goto_with_empty_context_and_exten_keeps_them() -> None:
    interp = start(GOTOS, "10", "c", max_steps=5)
    assert run(interp)[-1] == Terminate(16)
    assert interp.state.exten == "10"


# -- invalid extensions, unknown applications, start fallbacks --


def test_goto_to_a_missing_extension_goes_to_i() -> None:
    text = "[c]\nexten => 1,1,Goto(404,1)\nexten => i,1,Playback(invalid-${INVALID_EXTEN})\n"
    actions = run(start(text, "1", "c"))
    assert executes(actions) == [("Playback", "invalid-404", 1)]


def test_missing_extension_goes_to_e_when_there_is_no_i() -> None:
    text = "[c]\nexten => 1,1,Goto(404,1)\nexten => e,1,Playback(${EXCEPTION})\n"
    assert executes(run(start(text, "1", "c"))) == [("Playback", "INVALID", 1)]


def test_missing_extension_without_handler_hangs_up_and_runs_h() -> None:
    text = "[c]\nexten => 1,1,Goto(404,1)\nexten => h,1,Playback(bye-${EXTEN})\n"
    interp = start(text, "1", "c")
    actions = run(interp)
    assert executes(actions) == [("Playback", "bye-h", 1)]
    assert actions[-2].in_hangup_handler
    assert "sent to invalid extension but no invalid handler" in messages(interp)[0]


def test_unknown_application_hangs_up_as_asterisk_does() -> None:
    text = "[c]\nexten => 1,1,Frobnicate(x)\n same => n,Playback(never)\n"
    interp = start(text, "1", "c")
    assert run(interp) == [Terminate(16)]
    assert messages(interp) == ["No application 'Frobnicate' for extension (c, 1, 1)"]


def test_unknown_application_can_be_skipped_instead() -> None:
    text = "[c]\nexten => 1,1,Frobnicate(x)\n same => n,Playback(next)\n"
    state = ChannelState(context="c", exten="1")
    interp = Interpreter(dialplan(text), state, applications=_apps(), unknown_apps_hang_up=False)
    assert executes(run(interp)) == [("Playback", "next", 2)]
    assert messages(interp) == ["No application 'Frobnicate' for extension (c, 1, 1)"]


def test_application_names_are_case_insensitive() -> None:
    text = "[c]\nexten => 1,1,PLAYBACK(x)\n same => n,noop()\n same => n,SET(A=1)\n"
    interp = start(text, "1", "c")
    assert executes(run(interp)) == [("Playback", "x", 1)]
    assert interp.state.variables["A"] == "1"


def test_start_falls_back_to_s_then_to_default() -> None:
    text = "[c]\nexten => s,1,Playback(s-${EXTEN})\n[default]\nexten => s,1,Playback(dflt)\n"
    assert executes(run(start(text, "999", "c"))) == [("Playback", "s-s", 1)]
    assert executes(run(start(text, "999", "nocontext"))) == [("Playback", "dflt", 1)]
    interp = start("[c]\nexten => 1,1,NoOp()\n", "999", "c")
    assert run(interp) == [Terminate(16)]
    assert "falling back to context 'default'" in messages(interp, VerboseLogged)[1]


# -- Hangup and the h extension --


HANGUPS = """
[c]
exten => 1,1,Hangup(USER_BUSY)
exten => 2,1,Hangup(21)
exten => 3,1,Hangup(bogus)
exten => 4,1,Hangup()
exten => 5,1,Hangup(0)
exten => h,1,Set(SEEN=${EXTEN}:${HANGUPCAUSE}:${DIALSTATUS})
 same => n,Playback(h-${SEEN})
"""


@pytest.mark.parametrize(
    ("exten", "cause", "warning"),
    [
        ("1", 17, None),
        ("2", 21, None),
        ("3", 16, 'Invalid cause given to Hangup(): "bogus"'),
        ("4", 16, None),
        ("5", 16, 'Invalid cause given to Hangup(): "0"'),
    ],
)
def test_hangup_causes_and_h(exten: str, cause: int, warning: str | None) -> None:
    interp = start(HANGUPS, exten, "c", variables={"DIALSTATUS": "BUSY"})
    actions = run(interp)
    assert executes(actions) == [("Playback", f"h-h:{cause}:BUSY", 2)]
    assert actions[-1] == Terminate(cause)
    assert messages(interp) == ([warning] if warning else [])


def test_hangup_without_cause_keeps_the_channel_cause() -> None:
    interp = start(HANGUPS, "4", "c", hangupcause=19)
    assert run(interp)[-1] == Terminate(19)


def test_caller_hangup_while_dialing_runs_h_with_the_cause() -> None:
    text = (
        "[c]\nexten => 1,1,Dial(PJSIP/alice)\n same => n,Playback(never)\n"
        "exten => h,1,Playback(${HANGUPCAUSE})\n same => n,Goto(h,9)\n"
        " same => n,Playback(never)\n"
    )
    interp = start(text, "1", "c")
    dial = interp.next_action()
    assert isinstance(dial, Execute)
    interp.hangup(16)
    assert not interp.complete(Hangup(16))  # Dial's own late outcome: stale, ignored
    h = interp.next_action()
    assert isinstance(h, Execute) and (h.args, h.in_hangup_handler) == ("16", True)
    assert not interp.complete(Continue(), dial)  # stale again, h keeps running
    assert interp.next_action() is None
    interp.hangup(17)  # the app in h fails on a hung-up channel: h stops
    assert interp.next_action() == Terminate(17)
    interp.hangup(18)
    assert interp.next_action() == Terminate(17)


def test_h_ends_at_a_missing_priority_after_goto() -> None:
    text = "[c]\nexten => 1,1,Hangup()\nexten => h,1,Goto(h,9)\n same => n,Playback(never)\n"
    assert run(start(text, "1", "c")) == [Terminate(16)]


def test_h_has_its_own_step_budget() -> None:
    text = "[c]\nexten => 1,1,Goto(1,1)\nexten => h,1,Goto(h,1)\n"
    interp = start(text, "1", "c", max_steps=20)
    assert run(interp) == [Terminate(16)]
    assert len(messages(interp)) == 2


def test_unknown_application_in_h_stops_h() -> None:
    text = "[c]\nexten => 1,1,Hangup()\nexten => h,1,Nope()\n same => n,Playback(x)\n"
    interp = start(text, "1", "c")
    assert run(interp) == [Terminate(16)]
    assert messages(interp) == ["No application 'Nope' for extension (c, h, 1)"]


def test_dialplan_without_h_terminates_straight_away() -> None:
    assert run(start("[c]\nexten => 1,1,Hangup(17)\n", "1", "c")) == [Terminate(17)]


# -- outcomes reported by the caller --


def test_goto_outcome_moves_the_channel() -> None:
    text = (
        "[c]\nexten => 1,1,Dial(x)\n same => n,Playback(no)\n"
        " same => n(moved),Playback(yes-${DIALSTATUS})\n"
    )
    interp = start(text, "1", "c")
    interp.next_action()
    interp.complete(Goto("moved", {"DIALSTATUS": "ANSWER"}))
    action = interp.next_action()
    assert isinstance(action, Execute) and action.args == "yes-ANSWER"


def test_bad_goto_outcome_ends_the_dialplan() -> None:
    interp = start("[c]\nexten => 1,1,Dial(x)\n", "1", "c")
    interp.next_action()
    interp.complete(Goto("nowhere"))
    assert interp.next_action() == Terminate(16)


def test_outcome_without_a_running_application_is_refused() -> None:
    interp = start("[c]\nexten => 1,1,Dial(x)\n", "1", "c")
    with pytest.raises(InterpreterError, match="no application runs"):
        interp.complete(Continue())
    dial = interp.next_action()
    assert isinstance(dial, Execute)
    assert interp.complete(Wait(), dial)
    assert interp.complete(Continue(), dial)
    assert interp.next_action() == Terminate(16)


# -- Gosub and Return --


GOSUBS = """
[c]
exten => 1,1,Set(ARG1=outer)
 same => n,Gosub(sub,s,1(a,b))
 same => n,Playback(ret-${GOSUB_RETVAL}-${ARG1}-${ARGC})
 same => n,Gosub(label)
 same => n,Playback(after-label-${GOSUB_RETVAL})
 same => n,Hangup()
 same => n(label),Return(fromlabel)
exten => 2,1,Return()
exten => 3,1,Gosub(nowhere,1)
exten => 4,1,Gosub(nolabel)
exten => 5,1,Gosub(sub,s,1(x)
[sub]
exten => s,1,Playback(in-${ARG1}-${ARG2}-${ARGC})
 same => n,Gosub(nested,1(only))
 same => n,Playback(back-${ARG1}-${ARG2})
 same => n,Return(${ARG1}${ARG2})
exten => nested,1,Playback(nested-${ARG1}-[${ARG2}]-${ARGC})
 same => n,Return
"""


def test_gosub_return_with_frame_local_arguments() -> None:
    interp = start(GOSUBS, "1", "c")
    actions = run(interp)
    assert [args for _, args, _ in executes(actions)] == [
        "in-a-b-2",
        "nested-only-[]-1",
        "back-a-b",
        "ret-ab-outer-",
        "after-label-fromlabel",
    ]
    assert interp.stack_depth == 0
    assert "ARGC" not in interp.state.variables


@pytest.mark.parametrize(
    ("exten", "warning"),
    [
        ("2", "Return without Gosub: stack is empty"),
        ("3", "Attempt to reach a non-existent destination for Gosub"),
        ("4", "Gosub address is invalid"),
    ],
)
def test_gosub_errors_hang_up(exten: str, warning: str) -> None:
    interp = start(GOSUBS, exten, "c")
    assert run(interp) == [Terminate(16)]
    assert any(warning in m for m in messages(interp)), messages(interp)
    assert interp.state.exten == exten


LOCALS = """
[c]
exten => 1,1,Set(X=outer)
 same => n,GosubIf($[1 = 1]?sub,s,1(a):sub,s,1(b))
 same => n,Playback(after-${X}-${GOSUB_RETVAL})
 same => n,GosubIf(0?sub,s,1(a):sub,s,1(b))
 same => n,Playback(after-${GOSUB_RETVAL})
 same => n,GosubIf(0?sub,s,1)
 same => n,GosubIf()
 same => n,Set(LOCAL(Y)=outside)
 same => n,Playback(local-${LOCAL(Y)}-${Y})
[sub]
exten => s,1,Set(LOCAL(X)=inner-${ARG1})
 same => n,Set(LOCAL(X)=again-${ARG1})
 same => n,Set(LOCAL(ARG1)=changed)
 same => n,Playback(${X}-${LOCAL(X)}-${LOCAL(NOTLOCAL)}-${ARG1})
 same => n,Return(${X})
"""


def test_gosubif_and_local_variables() -> None:
    interp = start(LOCALS, "1", "c", variables={"NOTLOCAL": "n"})
    actions = run(interp)
    assert [args for _, args, _ in executes(actions)] == [
        "again-a-again-a--changed",
        "after-outer-again-a",
        "again-b-again-b--changed",
        "after-again-b",
        "local--",
    ]
    assert "ARG1" not in interp.state.variables
    assert interp.state.local_frames == []
    assert messages(interp) == [
        "GosubIf requires an argument: GosubIf(cond?label1(args):label2(args))",
        "Tried to set LOCAL(Y), but we aren't within a Gosub routine",
        "Tried to read LOCAL(Y), but we aren't within a Gosub routine",
    ]


def test_gosub_without_closing_paren_warns_and_goes_on() -> None:
    interp = start(GOSUBS, "5", "c")
    action = interp.next_action()
    assert isinstance(action, Execute) and action.args == "in-x--1"
    assert "No closing paren" in messages(interp)[0]


TUESDAY_10H = 1_699_956_000  # 2023-11-14 10:00 UTC, a Tuesday (the helper's clock: 22:13)

GOTOIFTIMES = """
[c]
exten => 1,1,GotoIfTime(09:00-17:00,mon-fri,*,*?open:closed)
 same => n(open),Playback(open)
 same => n,Hangup()
 same => n(closed),Playback(closed)
exten => 2,1,GotoIfTime(00:00-01:00,wed,*,*,PLUS2?1,open)
 same => n,Playback(fell-through)
exten => 3,1,GotoIfTime()
exten => 4,1,GotoIfTime(?1,open:1,closed)
exten => 5,1,GotoIfTime(*,*,*,*?:nothing)
 same => n,Playback(next)
"""


@pytest.mark.parametrize(
    ("exten", "variables", "plays"),
    [
        ("1", {}, ["closed"]),
        ("1", {"TESTTIME": str(TUESDAY_10H)}, ["open"]),
        ("2", {}, ["fell-through"]),
        ("4", {}, ["closed"]),
        ("5", {}, ["next"]),
    ],
)
def test_gotoiftime(exten: str, variables: dict[str, str], plays: list[str]) -> None:
    interp = start(GOTOIFTIMES, exten, "c", variables=variables)
    assert [args for _, args, _ in executes(run(interp))] == plays
    assert messages(interp) == []


def test_gotoiftime_reads_the_condition_in_its_timezone() -> None:
    def zones(name: str) -> tzinfo | None:
        return timezone(timedelta(hours=2)) if name == "PLUS2" else None

    interp = start(GOTOIFTIMES, "2", "c", zones=zones)
    assert [args for _, args, _ in executes(run(interp))] == ["open"]


def test_gotoiftime_problems() -> None:
    interp = start(GOTOIFTIMES, "3", "c")
    assert run(interp) == [Terminate(16)]
    assert "GotoIfTime requires an argument" in messages(interp)[0]
    interp = start(GOTOIFTIMES, "1", "c", variables={"TESTTIME": "soon"})
    assert [args for _, args, _ in executes(run(interp))] == ["closed"]
    assert "TESTTIME 'soon'" in messages(interp)[0]


def test_timed_includes_follow_the_clock() -> None:
    text = (
        "[c]\ninclude => day,09:00-17:00,mon-fri,*,*\ninclude => night\n"
        "[day]\nexten => 1,1,Playback(day)\n[night]\nexten => 1,1,Playback(night)\n"
    )
    late = start(text, "1", "c")
    assert executes(run(late)) == [("Playback", "night", 1)]
    plan = dialplan(text)
    state = ChannelState(context="c", exten="1", clock=lambda: float(TUESDAY_10H))
    early = Interpreter(plan, state, applications=_apps())
    assert executes(run(early)) == [("Playback", "day", 1)]
    assert plan.find("c", "1") is not None


EXECIFS = """
[c]
exten => 1,1,ExecIf($[${X} = 1]?Set(Y=yes):Set(Y=no))
 same => n,ExecIf(${X}?Playback(x-${Y}, now ):Playback(not-${Y}))
 same => n,ExecIf(0?Playback(never))
 same => n,ExecIf(1?Goto(l))
 same => n,Playback(skipped)
 same => n(l),ExecIf(1?Hangup(17))
exten => 2,1,ExecIf(1)
exten => 3,1,ExecIf(1?Nope(x))
exten => 4,1,ExecIf(1?Playback)
"""


@pytest.mark.parametrize(
    ("exten", "x", "plays", "final"),
    [
        ("1", "1", ["x-yes, now "], Terminate(17)),
        ("1", "0", ["not-no"], Terminate(17)),
        ("2", "", [], Terminate(16)),
        ("3", "", [], Terminate(16)),
        ("4", "", [""], Terminate(16)),
    ],
)
def test_execif(exten: str, x: str, plays: list[str], final: Terminate) -> None:
    interp = start(EXECIFS, exten, "c", variables={"X": x})
    actions = run(interp)
    assert [args for _, args, _ in executes(actions)] == plays
    assert actions[-1] == final


def test_execif_problems_warn() -> None:
    interp = start(EXECIFS, "2", "c")
    run(interp)
    assert "Usage: ExecIf" in messages(interp)[0]
    interp = start(EXECIFS, "3", "c")
    run(interp)
    assert messages(interp) == ["No application 'Nope' for extension (c, 3, 1)"]


def test_each_priority_is_looked_up_at_its_own_time() -> None:
    text = (
        "[c]\ninclude => day,09:00-16:59,*,*,*\ninclude => night\n"
        "[day]\nexten => 1,1,Playback(day)\n same => n,Playback(day2)\n"
        "[night]\nexten => 1,1,Playback(night)\n same => n,Playback(night2)\n"
    )
    now = [datetime(2026, 11, 27, 16, 59, 30, tzinfo=UTC).timestamp()]
    state = ChannelState(context="c", exten="1", clock=lambda: now[0])
    interp = Interpreter(dialplan(text), state, applications=_apps())
    first = interp.next_action()
    assert isinstance(first, Execute) and first.args == "day"
    now[0] += 60
    interp.complete(Continue(), first)
    second = interp.next_action()
    assert isinstance(second, Execute) and second.args == "night2"


# -- the application registry --


def test_registry() -> None:
    registry = ApplicationRegistry([Application("Dial", "Ring", handler="h")])
    assert registry.get("dIAL") == Application("Dial", "Ring", "h")
    assert "dial" in registry
    assert 5 not in registry
    assert registry.names() == ["Dial"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Application("DIAL"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Application("Set"))
