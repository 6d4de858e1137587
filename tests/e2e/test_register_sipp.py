"""Registration against the real server with SIPp: digest, Asterisk's rules, persistence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Ports, ServerProcess, free_port, reference_config
from tests.e2e.sipp import OPTIONS_SCENARIO, SippResult, register_scenario, run_sipp

pytestmark = pytest.mark.e2e


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ServerProcess, Ports, Path]]:
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    with ServerProcess(config, tmp_path / "state") as server:
        yield server, ports, tmp_path


@pytest.fixture(params=["udp", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def register(
    site: tuple[ServerProcess, Ports, Path],
    name: str,
    *,
    transport: str = "udp",
    user: str = "alice",
    password: str = "alice101",
    local_port: int | None = None,
    **scenario: object,
) -> SippResult:
    _, ports, folder = site
    port = ports.tcp if transport == "tcp" else ports.udp
    return run_sipp(
        register_scenario(user, **scenario),  # type: ignore[arg-type]
        folder / name,
        port,
        transport=transport,
        user=user,
        password=password,
        local_port=local_port or free_port(),
    )


def header(response: str, name: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in response.splitlines()
        if line.lower().startswith(name.lower() + ":")
    ]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_both_reference_users_register(site, transport: str):
    for user, password in (("alice", "alice101"), ("bob", "bob102")):
        result = register(
            site, f"{user}-{transport}", transport=transport, user=user, password=password
        )
        assert result.returncode == 0, result.messages + result.stderr
        ok = result.last_response()
        assert ok.startswith("SIP/2.0 200 OK")
        (contact,) = header(ok, "Contact")
        assert re.fullmatch(
            rf"<sip:{user}@127\.0\.0\.1:\d+;transport={transport.upper()}>"
            r";expires=3600",
            contact,
        )
        assert header(ok, "Date") and header(ok, "Expires") == ["3600"]
        assert "tag=" in header(ok, "To")[0]


def test_wrong_password_and_unknown_user_get_the_same_challenge(site, transport: str):
    wrong = register(site, "wrong", transport=transport, password="not-it", final=401)
    unknown = register(
        site, "unknown", transport=transport, user="mallory", password="x", final=401
    )
    missing = register(site, "missing", transport=transport, authenticate=False, final=401)
    for result in (wrong, unknown, missing):
        assert result.returncode == 0, result.messages + result.stderr
    shapes = []
    for result in (wrong, unknown, missing):
        challenge = result.last_response()
        values = header(challenge, "WWW-Authenticate")
        shapes.append([re.sub(r'(nonce|opaque)="[^"]*"', r'\1=""', v) for v in values])
        assert [re.search(r"algorithm=([\w-]+)", v).group(1) for v in values] == ["MD5"]
    assert shapes[0] == shapes[1] == shapes[2]


@pytest.mark.parametrize(("asked", "granted"), [(10, 60), (100_000, 7200), (300, 300)])
def test_expiry_is_clamped_to_the_aor_limits(site, transport: str, asked: int, granted: int):
    result = register(site, f"exp{asked}", transport=transport, expires=asked)
    assert result.returncode == 0, result.messages
    ok = result.last_response()
    assert header(ok, "Contact")[0].endswith(f";expires={granted}")
    assert header(ok, "Expires") == [str(granted)]


def test_second_device_is_refused_with_403_then_unregister_frees_the_slot(site, transport: str):
    first_port = free_port()
    assert register(site, "first", transport=transport, local_port=first_port).returncode == 0
    second = register(site, "second", transport=transport, final=403)
    assert second.returncode == 0, second.messages
    assert second.last_response().startswith("SIP/2.0 403")
    gone = register(site, "unregister", transport=transport, local_port=first_port, expires=0)
    assert gone.returncode == 0, gone.messages
    assert header(gone.last_response(), "Contact") == []
    again = register(site, "second-again", transport=transport)
    assert again.returncode == 0, again.messages


def test_star_contact_removes_all_and_needs_expires_zero(site, transport: str):
    assert register(site, "reg", transport=transport).returncode == 0
    bad = register(site, "star-bad", transport=transport, contact="*", expires=3600, final=400)
    assert bad.returncode == 0, bad.messages
    star = register(site, "star", transport=transport, contact="*", expires=0)
    assert star.returncode == 0, star.messages
    assert header(star.last_response(), "Contact") == []


def test_bindings_survive_a_restart(tmp_path: Path):
    ports = Ports()
    config = reference_config(tmp_path / "config", ports)
    state = tmp_path / "state"
    with ServerProcess(config, state) as server:
        site = (server, ports, tmp_path)
        assert register(site, "reg", user="bob", password="bob102").returncode == 0
    with ServerProcess(config, state) as server:
        assert "restored 1 registered contacts" in server.log
        site = (server, ports, tmp_path)
        query = register(site, "query", user="bob", password="bob102", contact=None, expires=None)
        assert query.returncode == 0, query.messages
        (contact,) = header(query.last_response(), "Contact")
        remaining = int(contact.rsplit("=", 1)[1])
        assert contact.startswith("<sip:bob@127.0.0.1:") and 3500 < remaining <= 3600


def test_options_to_the_server_is_answered(site, transport: str):
    _, ports, folder = site
    port = ports.tcp if transport == "tcp" else ports.udp
    result = run_sipp(
        OPTIONS_SCENARIO, folder / "options", port, transport=transport, local_port=free_port()
    )
    assert result.returncode == 0, result.messages
    ok = result.last_response()
    assert "REGISTER" in header(ok, "Allow")[0]
    assert header(ok, "Accept") == ["application/sdp"]
    assert header(ok, "Supported")


def free_port_v6() -> int:
    import socket

    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        udp.bind(("::1", 0))
        return int(udp.getsockname()[1])


def test_register_over_ipv6(tmp_path: Path):
    import subprocess

    from tests.e2e.sipp import SIPP

    ports = Ports()
    port6 = free_port_v6()
    extra = f"[transport-udp6]\ntype=transport\nprotocol=udp\nbind=[::1]:{port6}\n"
    config = reference_config(tmp_path / "config", ports, extra_pjsip=extra)
    with ServerProcess(config, tmp_path / "state") as server:
        assert f"listening on udp [::1]:{port6} (transport-udp6)" in server.log
        scenario = tmp_path / "v6.xml"
        scenario.write_text(register_scenario("bob"))
        messages = tmp_path / "v6.log"
        assert SIPP is not None
        completed = subprocess.run(
            [
                SIPP,
                f"[::1]:{port6}",
                "-sf",
                str(scenario),
                "-m",
                "1",
                "-i",
                "::1",
                "-p",
                str(free_port_v6()),
                "-au",
                "bob",
                "-ap",
                "bob102",
                "-timeout",
                "20",
                "-timeout_error",
                "-nostdin",
                "-trace_msg",
                "-message_file",
                str(messages),
            ],
            capture_output=True,
            text=True,
            timeout=40,
            check=False,
        )
        result = SippResult(completed.returncode, messages.read_text(), completed.stderr)
        assert result.returncode == 0, result.messages + result.stderr
        ok = result.last_response()
        assert "received=::1;rport=" in header(ok, "Via")[0]
        assert header(ok, "Contact")[0].startswith("<sip:bob@[::1]:")
