"""The dialplan model's lookups that the interpreter relies on."""

from __future__ import annotations

from tests.unit.dialplan.helpers import dialplan, run, start


def test_ordered_steps_and_callerid_extensions_need_a_caller() -> None:
    plan = dialplan("[c]\nexten => 1,2,NoOp(b)\nexten => 1,1,NoOp(a)\nexten => 2/100,1,NoOp()\n")
    context = plan.contexts["c"]
    found = plan.find("c", "1")
    assert found is not None
    assert [s.args for s in found[1].ordered_steps()] == ["a", "b"]
    assert ("2", "100") in context.extensions
    assert plan.find("c", "2") is None
    assert plan.find("c", "2", caller="101") is None
    assert plan.find("c", "2", caller="100") is not None


CALLERID = """
[c]
exten => 101/200,1,Playback(vip-${CALLERID(num)})
exten => 101/_3XX,1,Playback(three-hundreds)
exten => _1XX/_3XX,1,Playback(pattern)
exten => 101/_[,1,Playback(never)
exten => 101,1,Playback(normal)
exten => 102,1,Set(CALLERID(num)=200)
 same => n,Goto(101,1)
"""


def test_callerid_extensions_win_when_the_caller_matches() -> None:
    cases = {"200": "vip-200", "301": "three-hundreds", "400": "normal", "": "normal"}
    for caller, played in cases.items():
        interp = start(CALLERID, "101", "c", caller_number=caller or None)
        assert [a.args for a in run(interp)[:-1]] == [played]  # type: ignore[attr-defined]
    interp = start(CALLERID, "105", "c", caller_number="350")
    assert [a.args for a in run(interp)[:-1]] == ["pattern"]  # type: ignore[attr-defined]
    interp = start(CALLERID, "102", "c", caller_number="400")
    assert [a.args for a in run(interp)[:-1]] == ["vip-200"]  # type: ignore[attr-defined]
