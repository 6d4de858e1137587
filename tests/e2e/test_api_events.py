"""Live events over the /api/events WebSocket: a CRM learns of a ringing call, with the
caller's number, as the phone starts ringing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e import calls
from tests.e2e.api_client import Api, api_server
from tests.e2e.server import free_port
from tests.e2e.test_calls import ANCHORED

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(tmp_path: Path):
    with api_server(tmp_path, extra_pjsip=ANCHORED) as api:
        yield api


def frames(socket, count: int, timeout: float = 20) -> list[tuple[float, dict[str, object]]]:
    """``count`` events with the wall-clock time each arrived."""
    deadline = time.monotonic() + timeout
    found = []
    while len(found) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {found} arrived"
        text = socket.recv(timeout=left)
        found.append((time.time(), json.loads(text)))
    return found


def test_the_websocket_needs_a_token_and_known_types(api: Api) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{api.ws_base}/api/events", open_timeout=5)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body) == {
        "error": "a valid API token is required (?token= or Bearer)"
    }
    with pytest.raises(InvalidStatus) as unknown:
        connect(f"{api.ws_base}/api/events?token={api.token}&types=CallRung", open_timeout=5)
    assert unknown.value.response.status_code == 400
    headers = {"Authorization": f"Bearer {api.token}"}
    with connect(f"{api.ws_base}/api/events", additional_headers=headers, open_timeout=5):
        pass


def test_call_ringing_arrives_with_the_callers_number_as_the_phone_rings(
    tmp_path: Path, api: Api
) -> None:
    ports = api.ports
    alice = calls.Phone(tmp_path / "alice", ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", ports.udp, "bob", "bob102", free_port())
    url = f"{api.ws_base}/api/events?token={api.token}&types=CallRinging,CallEnded"
    try:
        alice.register()
        with (
            connect(url, open_timeout=5) as socket,
            connect(f"{api.ws_base}/api/events?token={api.token}", open_timeout=5) as everything,
        ):
            metrics = api.client.get("/metrics").text
            assert 'switchboard_event_listeners{role="websocket"} 2.0' in metrics
            alice.start(calls.callee(answer_after_ms=1000))
            bob.start(calls.caller(talk_ms=300), extra=("-s", "101"), name="bob")
            (rang_at, ringing), (_, ended) = frames(socket, 2)
            assert bob.wait()[0] == 0 and alice.wait()[0] == 0
            kinds = [event["type"] for _, event in frames(everything, 5)]
        assert api.token not in api.server.log  # the ?token= is not logged
        assert ringing["type"] == "CallRinging" and ended["type"] == "CallEnded"
        assert ringing["caller"] == "bob" and ringing["caller_name"] == "Bob"
        assert str(ringing["channel"]).startswith("PJSIP/alice-")
        assert kinds[:2] == ["CallStarted", "CallRinging"]
        seen = alice.messages()
        invite = next(m for m in seen if m.first_line.startswith("INVITE"))
        answer = next(m for m in seen if m.first_line.startswith("SIP/2.0 200"))
        latency_ms = (rang_at - invite.at.timestamp()) * 1000
        print(f"CallRinging over the WebSocket {latency_ms:.1f} ms after alice got the INVITE")
        # Order, not speed (no timing asserts): the CRM knew while the phone still rang.
        assert rang_at < answer.at.timestamp()
    finally:
        alice.stop()
        bob.stop()
