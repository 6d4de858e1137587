"""What a reload changes, object by object: config/diff.py."""

from __future__ import annotations

from switchboard.config.diff import (
    ADDED,
    CHANGED,
    REMOVED,
    Change,
    ReloadReport,
    diff_configs,
    needs_restart,
)
from tests.unit.config.helpers import load

PJSIP = """[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0:5060
[endpoint_internal](!)
type=endpoint
context=from-internal
allow=ulaw
[alice](endpoint_internal)
auth=alice
aors=alice
[alice]
type=auth
auth_type=userpass
username=alice
password=alice-secret-1
[alice]
type=aor
max_contacts=1
"""
EXTENSIONS = """[from-internal]
exten => 101,1,Dial(PJSIP/alice,10)
exten => 101,2,VoiceMail(101)
"""
VOICEMAIL = "[general]\nformat=wav\n[default]\n101 => 1234,Alice\n"


def diff(**changed: str) -> list[str]:
    files = {"pjsip.conf": PJSIP, "extensions.conf": EXTENSIONS, "voicemail.conf": VOICEMAIL}
    old, _ = load(files)
    new, _ = load({**files, **changed})
    return [str(change) for change in diff_configs(old, new)]


def test_the_same_files_change_nothing() -> None:
    assert diff() == []


def test_moving_sections_and_adding_comments_changes_nothing() -> None:
    sections = PJSIP.split("[alice]\ntype=auth")
    moved = "; a comment\n\n" + sections[0] + "\n\n[alice]\ntype=auth" + sections[1]
    assert diff(**{"pjsip.conf": moved}) == []


def test_added_removed_and_changed_objects_are_named() -> None:
    pjsip = PJSIP.replace("password=alice-secret-1", "password=other-secret-2")
    pjsip += "[bob](endpoint_internal)\naors=bob\n[bob]\ntype=aor\nmax_contacts=2\n"
    assert diff(**{"pjsip.conf": pjsip}) == [
        "endpoint bob added",
        "aor bob added",
        "auth alice changed: password",
    ]
    removed = PJSIP.replace("[alice]\ntype=aor\nmax_contacts=1\n", "")
    assert diff(**{"pjsip.conf": removed}) == ["aor alice removed"]


def test_a_template_change_shows_in_every_endpoint_that_inherits_it() -> None:
    pjsip = PJSIP.replace("allow=ulaw", "allow=ulaw,alaw")
    assert diff(**{"pjsip.conf": pjsip}) == ["endpoint alice changed: codecs"]


def test_dialplan_changes_are_reported_by_extension() -> None:
    extensions = EXTENSIONS.replace("VoiceMail(101)", "VoiceMail(101,u)")
    extensions += "exten => 103,1,Answer()\n[other]\nexten => s,1,Hangup()\n"
    assert diff(**{"extensions.conf": extensions}) == [
        "context from-internal changed: extension 101 changed, extension 103 added",
        "context other added",
    ]
    assert diff(**{"extensions.conf": "[from-internal]\n"}) == [
        "context from-internal changed: extension 101 removed"
    ]
    included = EXTENSIONS + "include => other\n[other]\n"
    assert "context from-internal changed: includes changed" in diff(
        **{"extensions.conf": included}
    )


def test_mailboxes_and_settings_sections() -> None:
    voicemail = VOICEMAIL.replace("1234,Alice", "4321,Alice") + "102 => 5678,Bob\n"
    assert diff(**{"voicemail.conf": voicemail}) == [
        "mailbox 101@default changed: pin",
        "mailbox 102@default added",
    ]
    formats = VOICEMAIL.replace("format=wav", "format=wav|gsm")
    assert diff(**{"voicemail.conf": formats}) == ["voicemail general changed: format"]
    assert diff(**{"rtp.conf": "[general]\nrtpstart=20000\n"}) == ["rtp changed: rtpstart"]
    assert diff(**{"switchboard.conf": "[voicemail]\nrecording_cap=60\n"}) == [
        "voicemail limits changed: recording_cap"
    ]
    assert diff(**{"switchboard.conf": "[media]\nsounds_dir=/srv/sounds\n"}) == [
        "media changed: sounds_dir"
    ]
    zones = VOICEMAIL.replace(
        "[default]", "[zonemessages]\nparis=Europe/Paris|'vm-received' q\n[default]"
    )
    assert diff(**{"voicemail.conf": zones}) == ["voicemail zone paris added"]


def test_secret_values_never_appear_in_a_change() -> None:
    pjsip = PJSIP.replace("password=alice-secret-1", "password=other-secret-2")
    voicemail = VOICEMAIL.replace("1234", "9876")
    lines = diff(**{"pjsip.conf": pjsip, "voicemail.conf": voicemail})
    text = "\n".join(lines)
    assert "secret" not in text and "9876" not in text and "1234" not in text


def test_what_needs_a_restart() -> None:
    bind = PJSIP.replace("bind=0.0.0.0:5060", "bind=0.0.0.0:5070")
    old, _ = load({"pjsip.conf": PJSIP, "extensions.conf": EXTENSIONS})
    new, _ = load({"pjsip.conf": bind, "extensions.conf": EXTENSIONS})
    (change,) = diff_configs(old, new)
    assert needs_restart(change) == "transport transport-udp: bind changed: needs a restart"
    assert needs_restart(Change("transport", "t", ADDED)) == (
        "transport t added: listening sockets need a restart"
    )
    assert needs_restart(Change("transport", "t", CHANGED, ("cert_file",))) is None
    assert needs_restart(Change("transport", "t", REMOVED)) is not None
    assert needs_restart(Change("rtp", "", CHANGED, ("strictrtp",))) is None
    assert needs_restart(Change("rtp", "", CHANGED, ("rtpend",))) is not None
    assert needs_restart(Change("voicemail general", "", CHANGED, ("format",))) is not None
    assert needs_restart(Change("voicemail general", "", CHANGED, ("maxmsg",))) is None
    assert needs_restart(Change("pjsip system", "", CHANGED, ("timer_t1",))) is not None
    assert needs_restart(Change("endpoint", "alice", CHANGED, ("context",))) is None


def test_the_report_as_the_console_shows_it() -> None:
    refused = ReloadReport(False, [], ["extensions.conf:3: error: bad", "a.conf:1: warning: w"], [])
    assert refused.text().splitlines() == [
        "Not reloaded: 1 error(s); the running configuration is kept.",
        "extensions.conf:3: error: bad",
        "a.conf:1: warning: w",
    ]
    applied = ReloadReport(True, ["endpoint bob added"], ["x.conf:1: warning: w"], ["rtp"])
    assert applied.text().splitlines() == [
        "Reloaded: 1 change(s).",
        "  endpoint bob added",
        "Not applied (restart to apply):",
        "  rtp",
        "Warnings:",
        "  x.conf:1: warning: w",
    ]
    assert applied.as_dict()["changes"] == ["endpoint bob added"]


def test_voicemail_zones_by_name() -> None:
    def config(zones: str):  # type: ignore[no-untyped-def]
        text = VOICEMAIL.replace("[default]", f"[zonemessages]\n{zones}[default]")
        return load({"voicemail.conf": text})[0]

    old = config("paris=Europe/Paris|'vm-received' q\nlondon=Europe/London|q\n")
    new = config("paris=Europe/Paris|q\nnyc=America/New_York|q\n")
    assert [str(c) for c in diff_configs(old, new)] == [
        "voicemail zone london removed",
        "voicemail zone paris changed",
        "voicemail zone nyc added",
    ]


def test_single_sections_globals_and_context_extras() -> None:
    with_global = PJSIP + "[global]\ntype=global\ndefault_realm=pbx.example\n"
    assert diff(**{"pjsip.conf": with_global}) == ["pjsip global added"]
    files = {"pjsip.conf": with_global, "extensions.conf": EXTENSIONS}
    old, _ = load(files)
    new, _ = load({**files, "pjsip.conf": PJSIP})
    assert [str(c) for c in diff_configs(old, new)] == ["pjsip global removed"]
    realm = with_global.replace("pbx.example", "other.example")
    new, _ = load({**files, "pjsip.conf": realm})
    assert [str(c) for c in diff_configs(old, new)] == ["pjsip global changed: default_realm"]
    extras = "[globals]\nTRUNK=sip:x\n" + EXTENSIONS + "ignorepat => 9\nswitch => Loopback/x\n"
    assert diff(**{"extensions.conf": extras}) == [
        "context from-internal changed: ignorepat changed, switches changed",
        "dialplan globals changed: TRUNK",
    ]


def test_webhooks_by_name_and_http_conf_which_needs_a_restart() -> None:
    hook = "[webhook crm]\nurl=http://127.0.0.1:9000/hook\nevents=CallRinging\nsecret=s3cret-a\n"
    files = {"pjsip.conf": PJSIP, "extensions.conf": EXTENSIONS, "switchboard.conf": hook}
    old, _ = load(files)
    moved = hook.replace("9000", "9001").replace("s3cret-a", "s3cret-b")
    extra = "[webhook audit]\nurl=http://127.0.0.1:9002/all\n"
    http = "[general]\nenabled=yes\nbindport=8089\n"
    new, _ = load({**files, "switchboard.conf": moved + extra, "http.conf": http})
    changes = diff_configs(old, new)
    assert [str(change) for change in changes] == [
        "webhook crm changed: url, secret",
        "webhook audit added",
        "http changed: enabled, bindport",
    ]
    assert "s3cret" not in "\n".join(str(change) for change in changes)
    assert [needs_restart(change) for change in changes] == [
        None,
        None,
        "http.conf changed: the HTTP server (API, console, /metrics) needs a restart",
    ]
