"""switchboard.conf: [security], [smtp] and [voicemail], each optional, with file:line
findings."""

from __future__ import annotations

from tests.unit.config.helpers import load


def test_without_the_file_everything_has_its_default() -> None:
    config, findings = load({})
    assert findings == []
    smtp = config.smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username, smtp.password) == (
        "localhost", 25, False, "", "",
    )  # fmt: skip
    assert (smtp.timeout, smtp.retry_delay, smtp.retry_max, smtp.attempts) == (30, 30, 3600, 24)
    assert config.security.ban_threshold == 10


def test_smtp_section() -> None:
    config, findings = load(
        {
            "switchboard.conf": "[security]\nban_threshold=5\n[smtp]\nhost=relay.example\n"
            "port=587\nstarttls=yes\nusername=pbx\npassword=s3cret\ntimeout=5\n"
            "retry_delay=0.5\nretry_max=60\nattempts=3\n"
        }
    )
    assert findings == []
    smtp = config.smtp
    assert (smtp.host, smtp.port, smtp.starttls, smtp.username) == (
        "relay.example",
        587,
        True,
        "pbx",
    )
    assert (smtp.timeout, smtp.retry_delay, smtp.retry_max, smtp.attempts) == (5, 0.5, 60, 3)
    assert config.security.ban_threshold == 5
    assert "s3cret" not in repr(smtp)


def test_smtp_findings() -> None:
    _, findings = load(
        {
            "switchboard.conf": "[smtp]\nport=0\nusername=pbx\nretry_delay=60\nretry_max=10\n"
            "hots=x\n[smpt]\n"
        }
    )
    assert findings == [
        "switchboard.conf:2: error: smtp 'smtp': port: 0 is below the minimum 1",
        "switchboard.conf:3: warning: smtp: username and password go together; without both,"
        " no login is attempted",
        "switchboard.conf:5: warning: smtp: retry_max=10 is below retry_delay=60; every retry"
        " waits retry_delay",
        "switchboard.conf:6: warning: unknown smtp option 'hots'; ignored (did you mean 'host'?)",
        "switchboard.conf:7: warning: switchboard.conf section [smpt] is not supported; ignored"
        " (did you mean 'smtp'?)",
    ]


def test_sdes_over_plain_transport_is_off_unless_said() -> None:
    config, _ = load({})
    assert config.security.sdes_over_plain_transport is False
    config, findings = load({"switchboard.conf": "[security]\nsdes_over_plain_transport = yes\n"})
    assert findings == [] and config.security.sdes_over_plain_transport is True
    _, findings = load({"switchboard.conf": "[security]\nsdes_over_plain_transport = maybe\n"})
    assert len(findings) == 1 and "sdes_over_plain_transport" in findings[0]


def test_the_voicemail_recording_cap() -> None:
    config, findings = load({})
    assert findings == [] and config.voicemail_limits.recording_cap == 600
    config, findings = load({"switchboard.conf": "[voicemail]\nrecording_cap=120\n"})
    assert findings == [] and config.voicemail_limits.recording_cap == 120
    _, findings = load({"switchboard.conf": "[voicemail]\nrecording_cap=5\nrecording_cpa=9\n"})
    assert findings == [
        "switchboard.conf:2: error: voicemail 'voicemail': recording_cap: 5 is below the"
        " minimum 10",
        "switchboard.conf:3: warning: unknown voicemail option 'recording_cpa'; ignored"
        " (did you mean 'recording_cap'?)",
    ]


def test_the_sounds_folder_is_debian_s_unless_said_and_must_be_absolute() -> None:
    config, findings = load({})
    assert findings == [] and config.media.sounds_dir == "/usr/share/asterisk/sounds"
    config, findings = load({"switchboard.conf": "[media]\nsounds_dir = /srv/sounds\n"})
    assert findings == [] and config.media.sounds_dir == "/srv/sounds"
    _, findings = load({"switchboard.conf": "[media]\nsounds_dir = sounds\n"})
    assert len(findings) == 1 and "switchboard.conf:2: error" in findings[0]
    assert "expected an absolute path" in findings[0]
