"""The REST API of a running server, used as a CRM or an admin script would: tokens, the
registrar's and the call engine's live state, actions, and JSON errors."""

from __future__ import annotations

import io
import re
import time
from csv import DictReader
from pathlib import Path

import httpx
import pytest

from tests.e2e import calls
from tests.e2e.api_client import Api, api_server
from tests.e2e.conftest import run
from tests.e2e.server import free_port
from tests.e2e.test_calls import ANCHORED, CHARLIE

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(tmp_path: Path):
    with api_server(tmp_path, extra_pjsip=ANCHORED) as api:
        yield api


def poll(api: Api, path: str, condition, timeout: float = 10):
    """GET ``path`` until ``condition(json)`` holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        body = api.client.get(path).json()
        if condition(body):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{path}: condition not met; last answer {body}")


def test_no_token_or_a_bad_one_gets_401_json(api: Api) -> None:
    bare = httpx.get(f"{api.base}/api/endpoints")
    assert bare.status_code == 401
    assert bare.json() == {"error": "a valid API token is required (Authorization: Bearer TOKEN)"}
    wrong = httpx.get(f"{api.base}/api/endpoints", headers={"Authorization": "Bearer sbt_nope"})
    assert wrong.status_code == 401 and "error" in wrong.json()
    assert httpx.get(f"{api.base}/openapi.json").status_code == 200


def test_tokens_are_listed_and_revoked_at_once(tmp_path: Path, api: Api) -> None:
    state = str(tmp_path / "state")
    listed = run("api-token", "list", "--state-dir", state)
    assert listed.stdout.split()[0] == "admin" and api.token not in listed.stdout
    assert run("api-token", "create", "admin", "--state-dir", state).returncode == 1
    assert api.client.get("/api/endpoints").status_code == 200
    assert run("api-token", "revoke", "admin", "--state-dir", state).returncode == 0
    assert api.client.get("/api/endpoints").status_code == 401
    database = (tmp_path / "state" / "switchboard.db").read_bytes()
    assert api.token.encode() not in database


def test_errors_are_json_not_tracebacks(api: Api) -> None:
    missing = api.client.get("/api/endpoints/nobody")
    assert missing.status_code == 404 and missing.json() == {"error": "no endpoint 'nobody'"}
    bad = api.client.get("/api/cdrs", params={"limit": "lots"})
    assert bad.status_code == 422 and "limit" in bad.json()["error"]
    unknown = api.client.get("/api/nothing-here")
    assert unknown.status_code == 404 and unknown.json() == {"error": "Not Found"}


def test_reload_applies_a_change_and_keeps_the_running_config_on_errors(
    tmp_path: Path, api: Api
) -> None:
    config = tmp_path / "config"
    with (config / "pjsip.conf").open("a") as file:
        file.write("\n[carol](endpoint_internal)\ncontext=interne\n")
    applied = api.client.post("/api/reload")
    assert applied.status_code == 200, applied.text
    assert applied.json()["ok"] is True
    assert any("carol" in change for change in applied.json()["changes"])
    assert "carol" in {e["name"] for e in api.client.get("/api/endpoints").json()}
    extensions = config / "extensions.conf"
    lines = extensions.read_text().splitlines()
    extensions.write_text("\n".join([*lines, "exten=>777,1,Dial(PJSIP/nobody", ""]))
    refused = api.client.post("/api/reload")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["ok"] is False
    assert any(
        d.startswith(f"extensions.conf:{len(lines) + 1}: error:") for d in body["diagnostics"]
    )
    assert "carol" in {e["name"] for e in api.client.get("/api/endpoints").json()}


def test_two_phones_and_a_call_show_in_the_api_and_the_call_is_hung_up(
    tmp_path: Path, api: Api
) -> None:
    ports = api.ports
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    try:
        alice.register()
        bob.register()
        contacts = api.client.get("/api/contacts").json()
        assert sorted(c["endpoint"] for c in contacts) == ["alice", "bob"]
        assert all(c["source_host"] == "127.0.0.1" and c["expires_in"] > 0 for c in contacts)
        endpoints = {e["name"]: e for e in api.client.get("/api/endpoints").json()}
        assert endpoints["alice"]["state"] == "Available" and endpoints["bob"]["contacts"] == 1
        alice.start(calls.callee(answer_after_ms=100))
        bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
        bob.start(calls.caller(during_call=bye, ends_call=True), extra=("-s", "101"), name="bob")
        channels = poll(
            api,
            "/api/channels",
            lambda body: sum(c["state"] == "Up" and c["peer"] != "" for c in body) == 2,
        )
        by_endpoint = {c["endpoint"]: c for c in channels}
        assert by_endpoint["bob"]["peer"] == by_endpoint["alice"]["name"]
        assert by_endpoint["bob"]["direction"] == "inbound" and by_endpoint["bob"]["exten"] == "101"
        assert by_endpoint["alice"]["linkedid"] == by_endpoint["bob"]["uniqueid"]
        metrics = api.client.get("/metrics").text
        assert "switchboard_registrations 2.0" in metrics
        assert "switchboard_active_calls 1.0" in metrics
        assert "switchboard_active_channels 2.0" in metrics
        assert "switchboard_call_setup_seconds_count 1.0" in metrics
        detail = api.client.get("/api/endpoints/alice").json()
        assert [c["aor"] for c in detail["contact_list"]] == ["alice"]
        assert detail["channel_names"] == [by_endpoint["alice"]["name"]]
        name = by_endpoint["bob"]["name"]
        assert api.client.get(f"/api/channels/{name}").json()["name"] == name
        hangup = api.client.delete(f"/api/channels/{name}")
        assert hangup.status_code == 200, hangup.text
        assert bob.wait()[0] == 0  # bob got the BYE
        assert alice.wait()[0] == 0  # and so did alice
        poll(api, "/api/channels", lambda body: body == [])
        page = poll(api, "/api/cdrs", lambda body: body["total"] >= 1)
        assert page["records"][0]["src"] == "bob" and page["records"][0]["dst"] == "101"
        assert api.client.get("/api/cdrs", params={"src": "alice"}).json()["total"] == 0
        csv = api.client.get("/api/cdrs.csv", params={"disposition": "ANSWERED"})
        assert csv.headers["content-type"].startswith("text/csv")
        rows = list(DictReader(io.StringIO(csv.text)))
        assert [(row["src"], row["dst"], row["disposition"]) for row in rows] == [
            ("bob", "101", "ANSWERED")
        ]
        assert rows[0]["uniqueid"] == page["records"][0]["uniqueid"]
        assert api.client.delete(f"/api/channels/{name}").status_code == 404
        metrics = api.client.get("/metrics").text
        assert 'switchboard_calls_total{disposition="ANSWERED"} 1.0' in metrics
        assert "switchboard_event_loop_lag_seconds_count" in metrics
        counted = {
            name: float(value)
            for name, value in re.findall(r"^switchboard_sip_(\w+\{[^}]*\}) (\S+)$", metrics, re.M)
        }
        assert counted['requests_total{direction="in",method="INVITE"}'] >= 1
        assert counted['requests_total{direction="out",method="INVITE"}'] >= 1
        assert counted['requests_total{direction="out",method="BYE"}'] >= 2
        assert counted['responses_total{code="401",direction="out"}'] >= 3
        assert counted['responses_total{code="200",direction="in"}'] >= 3
    finally:
        alice.stop()
        bob.stop()


def test_originate_rings_alice_and_connects_her_to_bob(tmp_path: Path, api: Api) -> None:
    ports = api.ports
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    try:
        bob.register()
        unregistered = api.client.post("/api/calls", json={"endpoint": "alice", "exten": "102"})
        assert unregistered.status_code == 409
        assert unregistered.json() == {"error": "alice has no registered phone"}
        alice.register()
        for body, status in (
            ({"endpoint": "nobody", "exten": "102"}, 404),
            ({"endpoint": "alice", "exten": "999"}, 404),
            ({"endpoint": "alice"}, 422),
        ):
            refused = api.client.post("/api/calls", json=body)
            assert refused.status_code == status and "error" in refused.json(), refused.text
        alice.start(calls.callee(answer_after_ms=200))
        bob.start(calls.callee(answer_after_ms=200), name="bob")
        placed = api.client.post("/api/calls", json={"endpoint": "alice", "exten": "102"})
        assert placed.status_code == 202, placed.text
        [leg] = placed.json()["channels"]
        assert leg["endpoint"] == "alice" and leg["direction"] == "outbound"
        channels = poll(
            api,
            "/api/channels",
            lambda body: sum(c["state"] == "Up" and c["peer"] != "" for c in body) == 2,
        )
        by_endpoint = {c["endpoint"]: c for c in channels}
        assert by_endpoint["alice"]["name"] == leg["name"]
        assert by_endpoint["alice"]["peer"] == by_endpoint["bob"]["name"]
        invites = [m for m in alice.messages() if m.first_line.startswith("INVITE")]
        assert "<sip:102@" in (invites[0].header("From") or "")  # alice sees what she calls
        bob_invite = next(m for m in bob.messages() if m.first_line.startswith("INVITE"))
        assert "<sip:alice@" in (bob_invite.header("From") or "")
        assert api.client.delete(f"/api/channels/{leg['name']}").status_code == 200
        assert alice.wait()[0] == 0 and bob.wait()[0] == 0  # both got the BYE
        poll(api, "/api/channels", lambda body: body == [])
    finally:
        alice.stop()
        bob.stop()


def test_blind_transfer_sends_alice_to_charlie(tmp_path: Path) -> None:
    dial_charlie = "exten=>103,1,Dial(PJSIP/charlie,10)\n"
    with api_server(tmp_path, extra_pjsip=ANCHORED + CHARLIE, extensions=dial_charlie) as api:
        ports = api.ports
        alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
        bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
        charlie = calls.Phone(tmp_path / "charlie", ports.udp, "charlie", "charlie103", free_port())
        try:
            alice.register()
            charlie.register()
            alice.start(calls.callee(answer_after_ms=100))
            charlie.start(calls.callee(answer_after_ms=200, hangs_up_after_ms=500), name="c")
            bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
            bob.start(calls.caller(during_call=bye, ends_call=True), extra=("-s", "101"), name="b")
            channels = poll(
                api, "/api/channels", lambda body: sum(c["state"] == "Up" for c in body) == 2
            )
            bobs = next(c["name"] for c in channels if c["endpoint"] == "bob")
            nowhere = api.client.post("/api/transfers", json={"channel": bobs, "exten": "555"})
            assert nowhere.status_code == 404
            moved = api.client.post("/api/transfers", json={"channel": bobs, "exten": "103"})
            assert moved.status_code == 200, moved.text
            assert bob.wait()[0] == 0  # bob's side ended with a BYE
            status, seen = charlie.wait()
            assert status == 0, seen
            invite = next(m for m in seen if m.first_line.startswith("INVITE"))
            assert "<sip:alice@" in (invite.header("From") or "")
            assert alice.wait()[0] == 0  # charlie hung up, and alice got the BYE
        finally:
            for phone in (alice, bob, charlie):
                phone.stop()


def test_check_config_reports_http_conf_errors_with_file_and_line(reference_copy: Path) -> None:
    (reference_copy / "http.conf").write_text("[general]\nenabled=yes\nbindport=http\n")
    result = run("check-config", "--config-dir", str(reference_copy))
    assert result.returncode == 1
    assert "http.conf:3: error: http 'general': bindport:" in result.stdout
