"""Q.850 causes, SIP statuses and DIALSTATUS, as Asterisk maps them."""

from __future__ import annotations

from switchboard.services.calls.causes import cause_for, dial_status, sip_status_for


def test_a_cause_without_sip_equivalent_declines() -> None:
    assert sip_status_for(17) == 486
    assert sip_status_for(34) == 503
    assert sip_status_for(1) == 404
    assert sip_status_for(16) == 603


def test_failed_legs_give_causes() -> None:
    assert cause_for(486) == 17
    assert cause_for(600) == 17
    assert cause_for(503) == 34
    assert cause_for(480) == 18
    assert cause_for(487) == 16
    assert cause_for(699) == 127


def test_dialstatus_prefers_busy_then_congestion_then_unavailable() -> None:
    assert dial_status([18, 17, 34]) == "BUSY"
    assert dial_status([18, 34]) == "CONGESTION"
    assert dial_status([18, 1]) == "CHANUNAVAIL"
    assert dial_status([18, 19, 16]) == "NOANSWER"
