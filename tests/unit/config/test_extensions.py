"""extensions.conf: priorities, labels, same, hints, includes, and lookups in the dialplan."""

from __future__ import annotations

from pathlib import Path

from switchboard.config.extensions import split_application
from tests.unit.config.helpers import load

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"


def test_reference_dialplan():
    config, findings = load({"extensions.conf": (REFERENCE / "extensions.conf").read_bytes()})
    assert findings == []
    dialplan = config.extensions.dialplan
    ctx = dialplan.contexts["from-internal"]
    found = dialplan.find("from-internal", "101")
    assert found is not None
    steps = found[1].ordered_steps()
    assert [(s.priority, s.app, s.args) for s in steps] == [
        (1, "Dial", "PJSIP/alice,10"),
        (2, "VoiceMail", "101"),
    ]
    assert str(steps[1].location) == "extensions.conf:7"
    assert ctx.find("199") is not None and ctx.find("199").steps[1].app == "VoiceMailMain"
    assert dialplan.find("from-internal", "103") is None


def test_priorities_labels_same_hint_and_offsets():
    text = (
        "[c]\nexten => 100,1(start),Answer()\nsame => n,Wait(1)\nsame => n(loop),Playback(x)\n"
        "same => loop+2,Hangup\nexten => 100,hint,PJSIP/alice\nexten => s,1,NoOp\n"
        "exten => s,n+1,NoOp\nexten => s,s+5,Goto(c,100,start)\n"
    )
    config, findings = load({"extensions.conf": text})
    assert findings == []
    ext = config.extensions.dialplan.contexts["c"].find("100")
    assert ext is not None
    assert [(s.priority, s.label, s.app) for s in ext.ordered_steps()] == [
        (1, "start", "Answer"),
        (2, None, "Wait"),
        (3, "loop", "Playback"),
        (5, None, "Hangup"),
    ]
    assert ext.hint == "PJSIP/alice"
    s = config.extensions.dialplan.contexts["c"].find("s")
    assert s is not None and sorted(s.steps) == [1, 3, 8]


def test_patterns_callerid_and_includes():
    text = (
        "[globals]\nTRUNK=PJSIP/trunk\n[general]\nstatic=yes\n"
        "[inner]\nexten => _X.,1,NoOp(any)\nexten => _1XX,1,NoOp(hundred)\n"
        "[outer]\ninclude => inner\nexten => 2000/100,1,NoOp(from 100 only)\n"
        "exten => 150,1,NoOp(literal)\n"
    )
    config, findings = load({"extensions.conf": text})
    assert findings == []
    dialplan = config.extensions.dialplan
    assert dialplan.globals == {"TRUNK": "PJSIP/trunk"}
    assert dialplan.find("outer", "150")[1].steps[1].args == "literal"
    assert dialplan.find("outer", "123")[1].steps[1].args == "hundred"
    assert dialplan.find("outer", "99")[1].steps[1].args == "any"
    assert dialplan.contexts["outer"].extensions[("2000", "100")].callerid == "100"
    # The caller-ID-only extension is not a plain match: 2000 falls to inner's _X.
    assert dialplan.find("outer", "2000")[1].steps[1].args == "any"


def test_same_context_twice_merges():
    text = "[c]\nexten => 1,1,NoOp\n[d]\nexten => 1,1,NoOp\n[c]\nexten => 2,1,NoOp\n"
    config, _ = load({"extensions.conf": text})
    assert {e[0] for e in config.extensions.dialplan.contexts["c"].extensions} == {"1", "2"}


def test_errors_and_warnings_with_lines():
    text = (
        "[c]\nsame => n,NoOp\nexten => 101\nexten => 101,n,NoOp\nexten => 101,1,Dail(x)\n"
        "exten => 101,1,NoOp(dup)\nexten => 101,0,NoOp\nexten => 101,nope+1,NoOp\n"
        "exten => _1[2,1,NoOp\nexten => 102,1,\nfoo => bar\ninclude => missing\n"
        "exten => 103,1,Macro(x)\nexten => _9.1,1,NoOp\nswitch => DUNDi/e164\n"
        "exten => 104,1,Set(x=1\n"
    )
    _, findings = load({"extensions.conf": text})
    assert findings == [
        "extensions.conf:2: error: 'same =>' has no extension above it in this context "
        "(start with 'exten => NUMBER,1,App()')",
        "extensions.conf:3: error: exten needs 'extension,priority,Application(args)', found '101'",
        "extensions.conf:4: error: priority 'n' on the first line of extension 101 "
        "(the first priority of an extension is 1)",
        "extensions.conf:5: warning: unknown application 'Dail' (did you mean 'Dial'?)",
        "extensions.conf:6: warning: extension 101 in [c] already has priority 1 "
        "(at extensions.conf:5); this line is ignored, as Asterisk does "
        "(use 'n' for the next priority)",
        "extensions.conf:7: error: priority '0' is 0; priorities start at 1",
        "extensions.conf:8: error: priority 'nope+1' refers to label 'nope', which extension "
        "101 does not have above (use 1, n or n(label))",
        "extensions.conf:9: error: pattern '_1[2': '[' at position 3 is never closed",
        "extensions.conf:10: error: no application in ''",
        "extensions.conf:11: error: unknown statement 'foo' in context [c] "
        "(expected exten =>, same => or include =>)",
        "extensions.conf:12: warning: include => missing: no such context; the include is skipped",
        "extensions.conf:13: warning: application 'Macro' no longer exists in Asterisk 21",
        "extensions.conf:14: warning: pattern '_9.1': characters after the wildcard are never "
        "matched ('.' and '!' match the rest of the number; put them last)",
        "extensions.conf:15: warning: 'switch =>' is not supported by Switchboard; ignored",
        "extensions.conf:16: error: 'Set(x=1': '(' is never closed",
    ]


def test_split_application_forms():
    assert split_application("Dial(PJSIP/a&PJSIP/b,20,tr)").args == "PJSIP/a&PJSIP/b,20,tr"
    assert split_application("Wait,2") == split_application("Wait(2)")
    assert split_application("Hangup").args == ""
    assert split_application("Set(X=${IF($[1=1]?a:b)})").args == "X=${IF($[1=1]?a:b)}"


def test_include_time_conditions_are_checked():
    text = (
        "[a]\ninclude => b,25:00-17:00,mon-fri,*,*\ninclude => b,9:00-17:00,mon-fri,*,*\n"
        "[b]\nexten => 1,1,NoOp\n"
    )
    _, findings = load({"extensions.conf": text})
    assert len(findings) == 1
    assert findings[0].startswith("extensions.conf:2: warning: include => b: ")
