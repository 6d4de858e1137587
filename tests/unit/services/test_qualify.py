"""Qualify: OPTIONS to registered contacts, reachable on any answer, unreachable on timeout."""

from __future__ import annotations

from switchboard.core.events import EventBus
from switchboard.services.location import LocationService
from switchboard.services.qualify import ContactStatusChanged, Qualifier
from switchboard.services.registrar import Registrar
from switchboard.sip.message import SipRequest, make_response
from switchboard.sip.peer import Peer
from tests.unit.services.test_registrar import NOW, SOURCE, Recorder, pjsip, register


def test_options_sent_when_due_and_status_follows_answers():
    bus = EventBus()
    recorder = Recorder(bus)
    config = pjsip("[alice](+type=aor)\nqualify_frequency=30\nqualify_timeout=2\n")
    location = LocationService(bus)
    Registrar(config, location, bus).register(register(), config.endpoints["alice"], SOURCE, NOW)
    sent: list[tuple[SipRequest, Peer]] = []

    def send(request: SipRequest, peer: Peer) -> tuple[object, ...]:
        sent.append((request, peer))
        return (len(sent),)

    qualifier = Qualifier(config, location, bus, send, lambda t: ("192.0.2.1", 5060))
    qualifier.tick(100.0)
    assert len(sent) == 1
    request, peer = sent[0]
    assert request.method == "OPTIONS" and str(request.uri) == "sip:alice@192.0.2.10:5062"
    assert peer == Peer("udp", "192.0.2.10", 5062, None)
    assert request.headers.get("via").startswith("SIP/2.0/UDP 192.0.2.1:5060;rport")
    assert qualifier.response((1,), make_response(request, 200), 100.004)
    assert qualifier.status[("alice", "sip:alice@192.0.2.10:5062")] == "reachable"
    qualifier.tick(110.0)
    assert len(sent) == 1, "not due again before qualify_frequency"
    qualifier.tick(130.0)
    assert len(sent) == 2
    qualifier.tick(132.5)
    assert qualifier.status[("alice", "sip:alice@192.0.2.10:5062")] == "unreachable"
    assert not qualifier.response((2,), None, 133.0), "late answers are not ours any more"
    changes = [(e.status, e.rtt_ms is not None) for e in recorder.of(ContactStatusChanged)]
    assert changes == [("reachable", True), ("unreachable", False)]
