"""The Reason header field (RFC 3326)."""

from __future__ import annotations

import pytest

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.reason import Reason, parse_reason, q850_reason


def test_q850_reason_builder() -> None:
    assert str(q850_reason(16)) == 'Q.850;cause=16;text="Normal Clearing"'
    assert str(q850_reason(19)) == 'Q.850;cause=19;text="No answer from user (user alerted)"'
    assert str(q850_reason(99)) == "Q.850;cause=99"
    assert str(q850_reason(17, 'Busy "here"')) == 'Q.850;cause=17;text="Busy \\"here\\""'
    assert str(Reason("SIP", 200, "Call completed elsewhere")) == (
        'SIP;cause=200;text="Call completed elsewhere"'
    )
    assert str(Reason("preemption", None)) == "preemption"


def test_parse_reason() -> None:
    assert parse_reason('Q.850;cause=16;text="Normal Clearing", SIP ;cause=200') == [
        Reason("Q.850", 16, "Normal Clearing"),
        Reason("SIP", 200, None),
    ]
    assert parse_reason("SIP;cause=abc") == [Reason("SIP", None, None)]
    assert parse_reason("preemption") == [Reason("preemption", None, None)]
    with pytest.raises(RemoteProtocolError):
        parse_reason("Q.850;;")
