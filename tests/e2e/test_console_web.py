"""The web console in a real browser (Debian's Chromium driven by Playwright) against the
real server: an admin logs in with a token and watches a call appear and go on the live
dashboard without reloading; a mailbox user logs in with the PIN, loads a message into the
page's audio player and deletes it. Screenshots go to ``test-artifacts/console/``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e import calls
from tests.e2e.api_client import Api, api_server
from tests.e2e.conftest import ROOT
from tests.e2e.rtp_phone import RtpPhone
from tests.e2e.server import free_port
from tests.e2e.test_calls import ANCHORED
from tests.e2e.voicemail_calls import beep_frequency, inbox, leave_message

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "console"
WAIT_MS = 20_000
"""The longest any single browser wait may take."""
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="Debian's chromium is not installed (scripts/install.sh test)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; never Playwright's own download."""
    assert CHROMIUM.exists(), "chromium is required: apt-get install chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_server(tmp_path, extra_pjsip=ANCHORED) as api:
        yield api


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(browser: Browser, **options: object) -> Page:
    context = browser.new_context(**options)
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def admin_dashboard(browser: Browser, api: Api) -> Page:
    """A desktop-sized page logged in with the API token, on the live dashboard."""
    page = open_page(browser, viewport={"width": 1280, "height": 900})
    page.goto(f"{api.base}/")
    expect(page).to_have_url(f"{api.base}/login")
    page.get_by_label("API token").fill(api.token)
    page.locator("#token-login button[type=submit]").click()
    expect(page).to_have_url(f"{api.base}/dashboard")
    expect(page.locator("#live-text")).to_contain_text("Live")
    return page


def test_admin_sees_a_call_appear_and_go_on_the_live_dashboard(
    tmp_path: Path, api: Api, browser: Browser
) -> None:
    alice = calls.Phone(tmp_path / "alice", api.ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", api.ports.udp, "bob", "bob102", free_port())
    page = admin_dashboard(browser, api)
    try:
        page.evaluate("window.stillTheSamePage = true")

        alice.register()
        bob.register()
        expect(page.locator("#phones tbody tr")).to_have_count(2)
        expect(page.locator("#count-phones")).to_have_text("2")

        alice.start(calls.callee(answer_after_ms=100), timeout=60)
        bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
        bob.start(
            calls.caller(during_call=bye, ends_call=True),
            extra=("-s", "101", "-recv_timeout", "60000"),
            timeout=60,
            name="bob",
        )
        call = page.locator("#calls tbody tr")
        expect(call).to_have_count(1)
        expect(call.locator("td").nth(2)).to_have_text("Up")
        expect(call.locator("td").nth(1)).to_have_text("101")
        expect(page.locator("#count-calls")).to_have_text("1")
        expect(page.locator("#calls-empty")).to_be_hidden()
        shot(page, "dashboard-call-up")

        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Hang up the call from bob").click()
        assert bob.wait()[0] == 0
        assert alice.wait()[0] == 0
        expect(call).to_have_count(0)
        expect(page.locator("#calls-empty")).to_be_visible()
        expect(page.locator("#recent tbody tr")).to_have_count(1)
        expect(page.locator("#recent tbody tr td").nth(3)).to_have_text("ANSWERED")
        assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
        shot(page, "dashboard-after-hangup")

        page.get_by_role("link", name="Endpoints").click()
        expect(page.locator("#endpoints tbody tr[data-endpoint=alice] td").nth(1)).to_have_text(
            "Available"
        )
        page.get_by_role("link", name="Call records").click()
        expect(page.locator("#records tbody tr")).to_have_count(1)
        expect(page.locator("#chart svg rect.bar-rect[data-count='1']")).to_have_count(1)
        shot(page, "cdr-search")
        page.get_by_role("link", name="Voicemail").click()
        expect(page.get_by_label("Mailbox")).to_contain_text("101@default alice")
        expect(page.locator("#messages-empty")).to_be_visible()
        page.set_viewport_size(PHONE)
        page.get_by_role("link", name="Dashboard").click()
        expect(page.locator("#live-text")).to_contain_text("Live")
        expect(page.locator("#phones tbody tr")).to_have_count(2)
        shot(page, "dashboard-phone")
    finally:
        page.context.close()
        alice.stop()
        bob.stop()


def test_the_dashboard_shows_a_call_s_audio_quality_while_it_lasts(
    tmp_path: Path, api: Api, browser: Browser
) -> None:
    alice = calls.Phone(tmp_path / "alice", api.ports.udp, "alice", "alice101", free_port())
    bob = calls.Phone(tmp_path / "bob", api.ports.udp, "bob", "bob102", free_port())
    speaker = RtpPhone()
    page = admin_dashboard(browser, api)
    try:
        alice.register()
        alice.start(calls.callee(answer_after_ms=100), timeout=60)
        bye = '<recv request="BYE"/>\n' + calls.response("200 OK", tag=False)
        bob.start(
            calls.caller(body=speaker.sdp(), during_call=bye, ends_call=True),
            extra=("-s", "101", "-recv_timeout", "60000"),
            timeout=60,
            name="bob",
        )
        call = page.locator("#calls tbody tr")
        expect(call.locator("td").nth(2)).to_have_text("Up")
        quality = call.locator("td.quality")
        expect(quality).to_have_text("\u2013")  # no audio yet (an en dash)
        answer = next(m.text for m in bob.messages() if m.first_line.startswith("SIP/2.0 200"))
        port = re.search(r"m=audio (\d+)", answer)
        assert port is not None
        speaker.remote = ("127.0.0.1", int(port.group(1)))
        speaker.say(1000, 6.0)  # bob talks; the relay reports every 5 s, alice is silent
        # Only a CallQuality event over the WebSocket changes the cell now (no call event
        # comes to make the page fetch the channels again).
        expect(quality).to_have_text(re.compile(r"^4\.\d \(0\.0 %, \d+ ms\) / \u2013$"))
        expect(quality).to_have_class(re.compile("quality-good"))
        caller = next(c for c in api.client.get("/api/channels").json() if c["quality"])
        assert caller["quality"]["caller_mos"] >= 4.0 and caller["quality"]["callee_mos"] == -1
        shot(page, "dashboard-call-quality")
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Hang up the call from bob").click()
        assert bob.wait()[0] == 0
        assert alice.wait()[0] == 0
    finally:
        page.context.close()
        alice.stop()
        bob.stop()
        speaker.close()


def test_a_mailbox_user_plays_and_deletes_a_message_on_a_phone_screen(
    tmp_path: Path, api: Api, browser: Browser
) -> None:
    leave_message(tmp_path, api.ports, "deposit", 2.0, beep_frequency(tmp_path / "config"))
    assert len(list(inbox(tmp_path).glob("msg*.txt"))) == 1
    page = open_page(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page.goto(f"{api.base}/login")
        shot(page, "login-phone")
        page.get_by_label("Mailbox number").fill("101")
        page.get_by_label("PIN").fill("0000")
        page.locator("#pin-login button[type=submit]").click()
        expect(page.locator("#notice")).to_have_text("wrong mailbox or PIN")
        page.get_by_label("PIN").fill("1234")
        page.locator("#pin-login button[type=submit]").click()
        expect(page).to_have_url(f"{api.base}/voicemail")

        message = page.locator("li.message")
        expect(message).to_have_count(1)
        audio = message.locator("audio")
        audio.evaluate(
            "a => new Promise((done, fail) => {"
            " if (a.readyState >= 1) return done();"
            " a.addEventListener('loadedmetadata', done, {once: true});"
            " a.addEventListener('error', () => fail(new Error('audio error')), {once: true}); })"
        )
        seconds = audio.evaluate("a => a.duration")
        assert isinstance(seconds, int | float) and 0 < seconds < 60, seconds
        shot(page, "voicemail-phone")

        href = message.get_by_role("link", name="Download").get_attribute("href")
        wav = page.request.get(f"{api.base}{href}")
        assert wav.status == 200 and wav.headers["content-type"] == "audio/wav"
        assert wav.body()[:4] == b"RIFF"
        assert page.request.get(f"{api.base}/api/voicemail/102/messages").status == 403
        assert page.request.get(f"{api.base}/api/endpoints").status == 403
        assert page.request.get(f"{api.base}/api/voicemail").status == 403
        page.goto(f"{api.base}/dashboard")
        expect(page).to_have_url(f"{api.base}/voicemail")

        page.on("dialog", lambda dialog: dialog.accept())
        page.locator("li.message").get_by_role("button", name="Delete the message").click()
        expect(page.locator("li.message")).to_have_count(0)
        expect(page.locator("#messages-empty")).to_be_visible()
        assert list(inbox(tmp_path).glob("msg*")) == []
        shot(page, "voicemail-phone-empty")
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{api.base}/login")
        assert page.request.get(f"{api.base}/api/voicemail/101/messages").status == 401
    finally:
        page.context.close()


def test_session_rules_guessing_and_the_event_socket(tmp_path: Path) -> None:
    """Without a browser: changes by cookie need the console header, wrong PINs count
    toward a ban like failed SIP authentications, and /api/events takes an admin's
    cookie only from the server's own origin."""
    with api_server(tmp_path, switchboard_conf="[security]\nban_threshold = 3\n") as api:
        console = {"X-Switchboard-Console": "1"}
        admin = httpx.Client(base_url=api.base, timeout=10)
        assert admin.post("/console/login", json={"token": api.token}).status_code == 403
        assert admin.post("/console/login", json={"token": "sbt_nope"}, headers=console).json() == {
            "error": "unknown or revoked API token"
        }
        answer = admin.post("/console/login", json={"token": api.token}, headers=console)
        assert answer.status_code == 200 and answer.json()["next"] == "/dashboard"
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert admin.get("/api/endpoints").status_code == 200
        assert admin.post("/api/reload").status_code == 403
        assert admin.delete("/api/bans/192.0.2.1", headers=console).status_code == 404

        session = admin.cookies["switchboard_session"]
        socket_url = f"{api.ws_base}/api/events"
        own = {"Cookie": f"switchboard_session={session}", "Origin": api.base}
        with connect(socket_url, additional_headers=own, open_timeout=10) as websocket:
            websocket.ping().wait(10)
        foreign = {**own, "Origin": "http://evil.example"}
        with pytest.raises(InvalidStatus) as refused:
            connect(socket_url, additional_headers=foreign, open_timeout=10)
        assert refused.value.response.status_code == 401

        user = httpx.Client(base_url=api.base, timeout=10, headers=console)
        for _ in range(2):
            wrong = user.post("/console/login", json={"mailbox": "101", "pin": "9999"})
            assert wrong.status_code == 401
        assert (
            user.post("/console/login", json={"mailbox": "101", "pin": "1234"}).status_code == 403
        )
        banned = api.client.get("/api/bans").json()
        assert [ban["source"] for ban in banned] == ["127.0.0.1"]
        log = api.server.log
        assert "1234" not in log and "9999" not in log and api.token not in log
