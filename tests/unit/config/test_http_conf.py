"""http.conf [general] (where the API listens) and switchboard.conf's [webhook NAME]
sections, with file:line findings."""

from __future__ import annotations

from tests.unit.config.helpers import load


def test_without_http_conf_the_server_is_off() -> None:
    config, findings = load({})
    assert findings == []
    assert (config.http.enabled, config.http.bindaddr, config.http.bindport) == (
        False,
        "127.0.0.1",
        8088,
    )
    assert config.webhooks == []


def test_general_section() -> None:
    config, findings = load(
        {"http.conf": "[general]\nenabled=yes\nbindaddr=::1\nbindport=8089\nprefix=x\n"}
    )
    assert (config.http.enabled, config.http.bindaddr, config.http.bindport) == (True, "::1", 8089)
    assert findings == [
        "http.conf:5: warning: http option 'prefix' is not supported by Switchboard yet; ignored"
    ]
    assert "http.conf" in config.files


def test_http_findings_carry_file_and_line() -> None:
    _config, findings = load(
        {
            "http.conf": "[general]\nenabled=maybe\nbindaddr=pbx.example\nbindport=0\n"
            "bindprot=1\n[other]\n"
        }
    )
    assert findings[0].startswith("http.conf:2: error: http 'general': enabled:")
    assert findings[1].startswith("http.conf:3: error: http 'general': bindaddr: expected an IP")
    assert findings[2].startswith("http.conf:4: error: http 'general': bindport:")
    assert findings[3].startswith("http.conf:5: warning: unknown http option 'bindprot'")
    assert "did you mean 'bindport'" in findings[3]
    assert findings[4].startswith("http.conf:6: warning: http.conf section [other]")


def test_a_public_bind_address_is_a_warning() -> None:
    _config, findings = load({"http.conf": "[general]\nenabled=yes\nbindaddr=0.0.0.0\n"})
    assert len(findings) == 1
    assert findings[0].startswith("http.conf:3: warning: http: bindaddr=0.0.0.0 serves the API")


def test_webhook_sections() -> None:
    config, findings = load(
        {
            "switchboard.conf": "[webhook crm]\nurl=https://crm.example/hook\n"
            "events=CallRinging, CallEnded\nsecret=k3y\nattempts=3\nretry_delay=0.5\n"
            "[webhook log]\nurl=http://127.0.0.1:9000/\n"
        }
    )
    crm, other = config.webhooks
    assert (crm.name, crm.url, crm.events, crm.secret, crm.attempts, crm.retry_delay) == (
        "crm",
        "https://crm.example/hook",
        ("CallRinging", "CallEnded"),
        "k3y",
        3,
        0.5,
    )
    assert "k3y" not in repr(crm)
    assert (other.name, other.events) == ("log", ())
    assert findings == [
        "switchboard.conf:7: warning: webhook 'log': no secret=; its requests are not signed "
        "(set secret= so the receiver can check X-Switchboard-Signature)"
    ]


def test_webhook_errors() -> None:
    config, findings = load(
        {
            "switchboard.conf": "[webhook a]\nsecret=x\n[webhook b]\nurl=ftp://x\nsecret=x\n"
            "[webhook c]\nurl=http://h/\nsecret=x\n[webhook c]\nurl=http://h/\nsecret=x\n"
        }
    )
    assert [hook.name for hook in config.webhooks] == ["c"]
    assert findings[0] == "switchboard.conf:1: error: webhook 'a': url= is required"
    assert findings[1].startswith("switchboard.conf:4: error: webhook 'webhook b': url: expected")
    assert findings[2] == "switchboard.conf:9: error: webhook 'c' is defined twice"
