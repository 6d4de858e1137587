"""Call detail records: Asterisk 21's dispositions, whole-second durations, as_dict."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace

import pytest

from switchboard.core.cdr import (
    ANSWERED,
    BUSY,
    CONGESTION,
    DISPOSITIONS,
    FAILED,
    NO_ANSWER,
    CallRecord,
    LegQuality,
    disposition_for,
    whole_seconds,
)
from switchboard.media.stats import StreamQuality

QUALITY = LegQuality(
    packets_received=1500, packets_lost=3, loss=0.002, jitter_ms=4.5, rtt_ms=38.0, mos=4.3
)


def record(**changes: object) -> CallRecord:
    base = CallRecord(
        uniqueid="1700000000.1",
        linkedid="1700000000.1",
        src="101",
        dst="102",
        dcontext="from-internal",
        clid='"alice" <101>',
        channel="PJSIP/alice-00000001",
        dstchannel="PJSIP/bob-00000002",
        lastapp="Dial",
        lastdata="PJSIP/bob,30",
        start=1_700_000_000.25,
        answer=1_700_000_004.5,
        end=1_700_000_064.75,
        duration=64,
        billsec=60,
        disposition=ANSWERED,
        hangupcause=16,
        caller_quality=QUALITY,
        callee_quality=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class TestDispositionFromDialStatus:
    """main/cdr.c dial_status_to_disposition: the Dial() outcome decides."""

    @pytest.mark.parametrize(
        ("dialstatus", "expected"),
        [
            ("ANSWER", ANSWERED),
            ("BUSY", BUSY),
            ("NOANSWER", NO_ANSWER),
            ("CANCEL", NO_ANSWER),
            ("CONGESTION", FAILED),
            ("CHANUNAVAIL", FAILED),
            ("FAILED", FAILED),
            ("DONTCALL", FAILED),
            ("TORTURE", FAILED),
            ("INVALIDARGS", FAILED),
            ("SOMETHING-NEW", FAILED),
        ],
    )
    def test_each_dialstatus(self, dialstatus: str, expected: str) -> None:
        assert disposition_for(dialstatus, answered=False) == expected

    def test_dialstatus_wins_over_an_answered_caller(self) -> None:
        # Answer() then Dial() to a phone that never picks up: Asterisk says NO ANSWER.
        assert disposition_for("NOANSWER", answered=True) == NO_ANSWER
        assert disposition_for("BUSY", answered=True, hangupcause=16) == BUSY

    def test_congestion_is_only_spelled_out_when_cdr_conf_asks(self) -> None:
        assert disposition_for("CONGESTION", answered=False, congestion=True) == CONGESTION
        assert disposition_for("CHANUNAVAIL", answered=False, congestion=True) == FAILED

    def test_case_of_the_status_does_not_matter(self) -> None:
        assert disposition_for("answer", answered=False) == ANSWERED


class TestDispositionWithoutDial:
    """main/cdr.c cdr_object_finalize: answered, else the hangup cause."""

    def test_answered(self) -> None:
        assert disposition_for(None, answered=True) == ANSWERED
        assert disposition_for(None, answered=True, hangupcause=17) == ANSWERED

    @pytest.mark.parametrize(
        ("cause", "expected"),
        [
            (17, BUSY),  # user busy
            (34, FAILED),  # circuit congestion, cdr.conf congestion=no
            (3, FAILED),  # no route to destination
            (20, FAILED),  # subscriber absent (unregistered)
            (16, NO_ANSWER),  # normal clearing
            (19, NO_ANSWER),  # no answer
            (21, NO_ANSWER),  # call rejected: Asterisk's null disposition, printed NO ANSWER
            (None, FAILED),
            (0, FAILED),
        ],
    )
    def test_unanswered_by_cause(self, cause: int | None, expected: str) -> None:
        assert disposition_for(None, answered=False, hangupcause=cause) == expected

    def test_congestion_cause_with_cdr_conf_congestion(self) -> None:
        assert disposition_for(None, answered=False, hangupcause=34, congestion=True) == (
            CONGESTION
        )

    def test_every_result_is_a_known_disposition(self) -> None:
        statuses = [None, "ANSWER", "BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL"]
        for status in statuses:
            for answered in (False, True):
                for cause in (None, 0, 3, 16, 17, 19, 20, 21, 34, 127):
                    for congestion in (False, True):
                        result = disposition_for(status, answered, cause, congestion=congestion)
                        assert result in DISPOSITIONS


class TestWholeSeconds:
    def test_cut_down_like_asterisk(self) -> None:
        assert whole_seconds(100.0, 164.999) == 64
        assert whole_seconds(100.25, 164.75) == 64
        assert whole_seconds(100.0, 100.999) == 0

    def test_float_noise_does_not_lose_a_second(self) -> None:
        # 0.1 + 2.9 is 2.9999999999999996 in binary floating point.
        assert whole_seconds(0.1, 0.1 + 2.9) == 2
        assert whole_seconds(0.0, 0.1 * 30) == 3

    def test_never_answered_and_clock_steps_back(self) -> None:
        assert whole_seconds(None, 200.0) == 0
        assert whole_seconds(200.0, 199.0) == 0


class TestCallRecord:
    def test_is_frozen(self) -> None:
        with pytest.raises(FrozenInstanceError):
            record().src = "999"  # type: ignore[misc]

    def test_rejects_a_disposition_asterisk_does_not_spell(self) -> None:
        with pytest.raises(ValueError, match="'NOANSWER'"):
            record(disposition="NOANSWER")

    def test_as_dict_is_json_ready_with_nested_quality(self) -> None:
        data = record().as_dict()
        assert data["clid"] == '"alice" <101>'
        assert data["answer"] == 1_700_000_004.5
        assert data["caller_quality"] == {
            "packets_received": 1500,
            "packets_lost": 3,
            "loss": 0.002,
            "jitter_ms": 4.5,
            "rtt_ms": 38.0,
            "mos": 4.3,
        }
        assert data["callee_quality"] is None
        assert json.loads(json.dumps(data)) == data
        assert list(data)[:3] == ["uniqueid", "linkedid", "src"]

    def test_unanswered_record(self) -> None:
        data = record(answer=None, billsec=0, disposition=NO_ANSWER, caller_quality=None)
        assert data.as_dict()["answer"] is None


def test_leg_quality_of_a_media_stream_summary() -> None:
    summary = StreamQuality(
        packets_received=990,
        packets_expected=1000,
        packets_lost=10,
        loss=0.01,
        jitter_ms=2.0,
        rtt_ms=None,
        mos=4.2,
    )
    assert LegQuality.of(summary) == LegQuality(
        packets_received=990, packets_lost=10, loss=0.01, jitter_ms=2.0, rtt_ms=None, mos=4.2
    )
