"""The dialplan model's lookups that the interpreter relies on."""

from __future__ import annotations

from tests.unit.dialplan.helpers import dialplan


def test_ordered_steps_and_callerid_extensions_stay_out_of_plain_lookup() -> None:
    plan = dialplan("[c]\nexten => 1,2,NoOp(b)\nexten => 1,1,NoOp(a)\nexten => 2/100,1,NoOp()\n")
    context = plan.contexts["c"]
    found = plan.find("c", "1")
    assert found is not None
    assert [s.args for s in found[1].ordered_steps()] == ["a", "b"]
    assert ("2", "100") in context.extensions
    assert plan.find("c", "2") is None
