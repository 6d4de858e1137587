"""Webhooks from switchboard.conf: a real aiohttp receiver gets signed events, a delivery
it refuses with 500 is tried again, and a reload moves, adds and removes hooks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tests.e2e import calls
from tests.e2e.api_client import api_server
from tests.e2e.server import free_port
from tests.e2e.test_calls import ANCHORED

pytestmark = pytest.mark.e2e

SECRET = "crm-shared-secret"


@dataclass
class Receiver:
    """An aiohttp server on its own loop and thread that answers 500 to the first
    ``fail_first`` requests and 200 after, keeping every request."""

    port: int
    fail_first: int = 1
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if len(self.requests) <= self.fail_first:
            return web.Response(status=500, text="not now")
        return web.Response(status=204)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"only {len(self.requests)} requests arrived"
            time.sleep(0.02)


@contextlib.contextmanager
def running_receiver(fail_first: int) -> Iterator[Receiver]:
    """A :class:`Receiver` listening on a free port until the block ends."""
    found = Receiver(free_port(), fail_first)
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", found.port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver(fail_first=1) as found:
        yield found


def test_a_crm_receives_signed_events_and_a_refused_delivery_is_retried(
    tmp_path: Path, receiver: Receiver
) -> None:
    conf = (
        f"[webhook crm]\nurl=http://127.0.0.1:{receiver.port}/hook\n"
        f"events=ContactAdded,CallRinging\nsecret={SECRET}\nretry_delay=0.2\nattempts=4\n"
    )
    with api_server(tmp_path, extra_pjsip=ANCHORED, switchboard_conf=conf) as api:
        alice = calls.Phone(tmp_path / "alice", api.ports.udp, "alice", "alice101", free_port())
        bob = calls.Phone(tmp_path / "bob", api.ports.udp, "bob", "bob102", free_port())
        try:
            alice.register()
            receiver.wait_for(2)  # the 500, then the retry
            alice.start(calls.callee(answer_after_ms=200))
            bob.start(calls.caller(talk_ms=200), extra=("-s", "101"), name="bob")
            receiver.wait_for(3)
            assert bob.wait()[0] == 0 and alice.wait()[0] == 0
            metrics = api.client.get("/metrics").text
        finally:
            alice.stop()
            bob.stop()
    (first_headers, first), (retry_headers, retry), (ring_headers, ring) = receiver.requests[:3]
    for headers, body in receiver.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Switchboard-Signature"] == expected
        assert headers["Content-Type"] == "application/json"
    assert first == retry
    assert first_headers["X-Switchboard-Delivery"] == retry_headers["X-Switchboard-Delivery"]
    added = json.loads(first)
    assert added["type"] == "ContactAdded" and added["aor"] == "alice"
    ringing = json.loads(ring)
    assert ring_headers["X-Switchboard-Event"] == "CallRinging"
    assert (ringing["caller"], ringing["caller_name"]) == ("bob", "Bob")
    assert len(receiver.requests) == 3  # CallStarted, CallEnded, ... were not asked for
    assert 'switchboard_webhook_deliveries_total{outcome="retried",webhook="crm"} 1.0' in metrics
    assert 'switchboard_webhook_deliveries_total{outcome="delivered",webhook="crm"} 2.0' in metrics


def test_a_reload_moves_a_hook_adds_one_and_removes_one(tmp_path: Path) -> None:
    with (
        running_receiver(0) as before,
        running_receiver(0) as moved,
        running_receiver(0) as added,
        running_receiver(0) as removed,
    ):

        def hook(name: str, target: Receiver) -> str:
            return f"[webhook {name}]\nurl=http://127.0.0.1:{target.port}/hook\n"

        conf = hook("crm", before) + "events=ContactAdded\n" + hook("old", removed)
        with api_server(tmp_path, switchboard_conf=conf) as api:
            alice = calls.Phone(tmp_path / "alice", api.ports.udp, "alice", "alice101", free_port())
            alice.register()
            before.wait_for(1)
            removed.wait_for(1)
            new_conf = hook("crm", moved) + "events=ContactAdded\n" + hook("audit", added)
            (api.server.config_dir / "switchboard.conf").write_text(new_conf)
            answer = api.client.post("/api/reload")
            assert answer.status_code == 200, answer.text
            changes = set(answer.json()["changes"])
            expected = {"webhook crm changed: url", "webhook audit added", "webhook old removed"}
            assert expected <= changes, changes
            bob = calls.Phone(tmp_path / "bob", api.ports.udp, "bob", "bob102", free_port())
            bob.register()
            moved.wait_for(1)
            added.wait_for(1)
        assert json.loads(moved.requests[0][1])["aor"] == "bob"
        assert any(json.loads(body)["aor"] == "bob" for _, body in added.requests)
        assert len(before.requests) == 1 and json.loads(before.requests[0][1])["aor"] == "alice"
        assert all(json.loads(body).get("aor") != "bob" for _, body in removed.requests)
