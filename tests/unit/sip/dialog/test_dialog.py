"""Dialogs (RFC 3261 §12): creation on both sides, states, route sets, CSeq rules, 481."""

from __future__ import annotations

import pytest
from dialog_support import PBX_CONTACT, PBX_VIA, reply, request_text, wire_request

from switchboard.sip.dialog import (
    CONFIRMED,
    EARLY,
    TERMINATED,
    TRANSITIONS,
    Dialog,
    DialogId,
    DialogInput,
    DialogState,
    DialogTable,
    is_loose_route,
    request_dialog_id,
    response_dialog_id,
    strict_request_uri,
)
from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.headers import NameAddress

RECORD_ROUTES = ("Record-Route: <sip:p1.example.com;lr>", "Record-Route: <sip:p2.example.com;lr>")


def uas_dialog(*extra: str, uri: str = "sip:101@198.51.100.1", tls: bool = False) -> Dialog:
    invite = request_text(extra=extra, uri=uri)
    return Dialog.from_uas(
        invite, local_tag="pbx-tag", local_target=PBX_CONTACT, via=PBX_VIA, over_tls=tls
    )


def uac_dialog(status: int = 180, *rr: str, uri: str = "sip:alice@192.0.2.30") -> Dialog:
    invite = request_text(uri=uri, from_tag="pbx-tag", contact=PBX_CONTACT, seq=7)
    response = reply(invite, status, extra=[("Record-Route", value) for value in rr])
    return Dialog.from_uac(invite, response, local_target=PBX_CONTACT, via=PBX_VIA)


@pytest.mark.parametrize("state", list(DialogState))
@pytest.mark.parametrize("event", list(DialogInput))
def test_every_state_and_input_pair(state: DialogState, event: DialogInput) -> None:
    dialog = uas_dialog()
    dialog.state = state
    expected = TRANSITIONS.get((state, event))
    assert dialog.process(event) is (expected is not None)
    assert dialog.state is (state if expected is None else expected)


def test_transitions_follow_rfc_3261() -> None:
    dialog = uac_dialog(180)
    assert dialog.state is EARLY
    assert dialog.process(DialogInput.PROVISIONAL) and dialog.state is EARLY
    assert dialog.process(DialogInput.SUCCESS) and dialog.state is CONFIRMED
    assert dialog.process(DialogInput.SUCCESS) and dialog.state is CONFIRMED  # retransmission
    assert dialog.process(DialogInput.BYE) and dialog.terminated
    assert not dialog.process(DialogInput.PROVISIONAL)
    early = uac_dialog(183)
    assert early.process(DialogInput.FAILURE) and early.state is TERMINATED
    assert not uac_dialog(200).process(DialogInput.FAILURE)  # a 2xx was already received


def test_uas_dialog_from_invite() -> None:
    dialog = uas_dialog(*RECORD_ROUTES)
    assert dialog.id == DialogId("call-1@phone", "pbx-tag", "phone-tag")
    assert dialog.state is EARLY
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert dialog.remote_target == "sip:bob@192.0.2.20:5060"
    assert dialog.remote_seq == 1
    assert dialog.local_seq is None
    assert not dialog.secure
    assert str(dialog.remote_address) == '"Bob" <sip:bob@example.com>'
    assert str(dialog.local_address) == "<sip:101@example.com>"
    assert repr(dialog) == "<Dialog Early DialogId(call_id='call-1@phone', " + (
        "local_tag='pbx-tag', remote_tag='phone-tag')>"
    )


def test_uas_secure_flag_needs_sips_over_tls() -> None:
    assert uas_dialog(uri="sips:101@198.51.100.1", tls=True).secure
    assert not uas_dialog(uri="sips:101@198.51.100.1", tls=False).secure
    assert not uas_dialog(tls=True).secure


def test_uas_dialog_needs_contact() -> None:
    invite = request_text(contact=None)
    with pytest.raises(RemoteProtocolError) as info:
        Dialog.from_uas(invite, local_tag="t", local_target=PBX_CONTACT, via=PBX_VIA)
    assert info.value.status == 400


def test_uac_dialog_reverses_record_route() -> None:
    dialog = uac_dialog(180, "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
    assert dialog.id == DialogId("call-1@phone", "pbx-tag", "callee-tag")
    assert dialog.route_set == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert dialog.remote_target == "sip:alice@192.0.2.30:5062"
    assert dialog.local_seq == 7 and dialog.remote_seq is None
    assert dialog.state is EARLY
    assert uac_dialog(200).state is CONFIRMED
    assert uac_dialog(200, uri="sips:alice@192.0.2.30").secure


def test_uac_route_set_recomputed_from_the_2xx() -> None:
    invite = request_text(uri="sip:alice@192.0.2.30", from_tag="pbx-tag", contact=PBX_CONTACT)
    early = reply(invite, 183, extra=[("Record-Route", "<sip:p1.example.com;lr>")])
    dialog = Dialog.from_uac(invite, early, local_target=PBX_CONTACT, via=PBX_VIA)
    ok = reply(invite, 200, contact="sip:alice@192.0.2.31", extra=[])
    dialog.update_from_response(ok)
    assert dialog.route_set == []
    assert dialog.remote_target == "sip:alice@192.0.2.31"


def test_uac_dialog_needs_a_to_tag() -> None:
    invite = request_text(uri="sip:alice@192.0.2.30", from_tag="pbx-tag")
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uac(invite, reply(invite, 180, to_tag=None), local_target="x", via=PBX_VIA)


def test_loose_routing_request() -> None:
    dialog = uas_dialog(*RECORD_ROUTES)
    dialog.state = CONFIRMED
    bye = wire_request(dialog.create_request("BYE"))
    assert bye.uri_text == "sip:bob@192.0.2.20:5060"
    assert bye.headers.get_all("route") == [
        "<sip:p1.example.com;lr>",
        "<sip:p2.example.com;lr>",
    ]
    assert bye.cseq == (1, "BYE")  # the UAS's first request
    assert bye.from_tag == "pbx-tag" and bye.to_tag == "phone-tag"
    assert bye.call_id == "call-1@phone"
    assert bye.headers.get("via") == PBX_VIA
    assert "contact" not in bye.headers
    assert bye.max_forwards == 70
    assert dialog.next_hop == "sip:p1.example.com;lr"


def test_no_route_set_means_no_route_header() -> None:
    dialog = uac_dialog(200)
    info = wire_request(dialog.create_request("INFO", body=b"x", content_type="text/plain"))
    assert info.uri_text == "sip:alice@192.0.2.30:5062"
    assert "route" not in info.headers
    assert info.cseq == (8, "INFO")
    assert info.content_type == "text/plain"
    assert dialog.next_hop == "sip:alice@192.0.2.30:5062"


def test_strict_route_rewrites_the_request_uri() -> None:
    """RFC 3261 §12.2.1.1: first route in the Request-URI, remote target as last Route."""
    dialog = uac_dialog(
        200, "<sip:p1.example.com;lr>", "<sip:strict.example.com;method=INVITE;maddr=10.0.0.1>"
    )
    assert dialog.route_set[0].startswith("<sip:strict")
    reinvite = wire_request(dialog.create_request("INVITE", body=b"v=0\r\n"))
    assert reinvite.uri_text == "sip:strict.example.com;maddr=10.0.0.1"
    assert reinvite.headers.get_all("route") == [
        "<sip:p1.example.com;lr>",
        "<sip:alice@192.0.2.30:5062>",
    ]
    assert reinvite.headers.get("contact") == f"<{PBX_CONTACT}>"
    assert reinvite.content_type == "application/sdp"


def test_route_helpers() -> None:
    assert is_loose_route("<sip:p.example.com;lr>")
    assert not is_loose_route("<sip:p.example.com>")
    assert is_loose_route("<tel:+15551234>")
    assert is_loose_route("<http://example.com/>")
    assert strict_request_uri("<sip:p.example.com?Subject=x>") == "sip:p.example.com"
    assert strict_request_uri("<tel:+15551234>") == "tel:+15551234"


def test_ack_and_cancel_and_terminated_are_refused_or_need_arguments() -> None:
    dialog = uac_dialog(200)
    with pytest.raises(LocalProtocolError, match="make_cancel"):
        dialog.create_request("CANCEL")
    with pytest.raises(LocalProtocolError, match="ACK"):
        dialog.create_request("ACK")
    ack = wire_request(dialog.create_request("ACK", seq=7, branch="z9hG4bKack"))
    assert ack.cseq == (7, "ACK") and ack.branch == "z9hG4bKack"
    assert dialog.local_seq == 7
    dialog.process(DialogInput.BYE)
    with pytest.raises(LocalProtocolError, match="terminated"):
        dialog.create_request("BYE")


def test_a_line_break_in_a_dialog_field_is_never_sent() -> None:
    dialog = uac_dialog(200)
    dialog.remote_target = "sip:alice@192.0.2.30:5062"
    dialog.route_set = ["<sip:p1.example.com;lr>\r\nX-Injected: 1"]
    with pytest.raises(LocalProtocolError, match="line break"):
        dialog.create_request("BYE")
    dialog.route_set = []
    dialog.call_id = "call-1@phone\nX-Injected: 1"
    with pytest.raises(LocalProtocolError, match="line break"):
        dialog.create_request("BYE")


def test_cseq_rules_for_received_requests() -> None:
    dialog = uas_dialog()
    dialog.check_request(request_text("INFO", to_tag="pbx-tag", seq=2))
    assert dialog.remote_seq == 2
    dialog.check_request(request_text("INFO", to_tag="pbx-tag", seq=2))  # equal: accepted
    with pytest.raises(RemoteProtocolError) as info:
        dialog.check_request(request_text("INFO", to_tag="pbx-tag", seq=1))
    assert info.value.status == 500
    assert dialog.remote_seq == 2
    dialog.check_request(request_text("ACK", to_tag="pbx-tag", seq=1))  # ACK keeps the INVITE's
    dialog.check_request(request_text("CANCEL", to_tag="pbx-tag", seq=1))
    uac = uac_dialog(200)
    uac.check_request(request_text("BYE", seq=1))  # empty remote CSeq: anything goes
    assert uac.remote_seq == 1


def test_target_refresh() -> None:
    dialog = uas_dialog()
    dialog.refresh_target(request_text("INVITE", contact="sip:bob@192.0.2.99"))
    assert dialog.remote_target == "sip:bob@192.0.2.99"
    dialog.refresh_target(request_text("UPDATE", contact=None))
    assert dialog.remote_target == "sip:bob@192.0.2.99"


def test_dialog_ids_of_messages() -> None:
    assert request_dialog_id(request_text("BYE")) is None
    assert request_dialog_id(request_text("BYE", to_tag="pbx-tag")) == DialogId(
        "call-1@phone", "pbx-tag", "phone-tag"
    )
    invite = request_text(from_tag="pbx-tag")
    assert response_dialog_id(reply(invite, 100, to_tag=None)) is None
    assert response_dialog_id(reply(invite, 180)) == DialogId(
        "call-1@phone", "pbx-tag", "callee-tag"
    )


def test_dialog_table_answers_481_for_unknown_dialogs() -> None:
    table = DialogTable()
    dialog = uas_dialog()
    table.add(dialog)
    assert len(table) == 1 and dialog.id in table
    assert table.get(dialog.id) is dialog
    assert table.match_request(request_text("BYE")) is None
    assert table.match_request(request_text("BYE", to_tag="pbx-tag", seq=2)) is dialog
    with pytest.raises(RemoteProtocolError) as info:
        table.match_request(request_text("BYE", to_tag="other", seq=2))
    assert info.value.status == 481
    invite = request_text(call_id="call-1@phone", from_tag="pbx-tag")
    assert table.match_response(reply(invite, 100, to_tag=None)) is None
    assert table.match_response(reply(invite, 200, to_tag="phone-tag")) is dialog
    assert table.match_response(reply(invite, 200, to_tag="elsewhere")) is None
    dialog.process(DialogInput.FAILURE)
    with pytest.raises(RemoteProtocolError):
        table.match_request(request_text("BYE", to_tag="pbx-tag", seq=2))
    table.discard(uas_dialog())  # another object with the same id: kept
    assert len(table) == 1
    table.discard(dialog)
    assert len(table) == 0


def test_local_address_drops_the_tag() -> None:
    dialog = uac_dialog(180)
    assert isinstance(dialog.local_address, NameAddress)
    assert dialog.local_address.tag is None
    assert str(dialog.remote_address) == "<sip:101@example.com>"
