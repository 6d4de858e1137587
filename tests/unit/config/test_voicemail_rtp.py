"""voicemail.conf and rtp.conf models."""

from __future__ import annotations

from pathlib import Path

from tests.unit.config.helpers import load

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"


def test_reference_voicemail():
    config, findings = load({"voicemail.conf": (REFERENCE / "voicemail.conf").read_bytes()})
    assert findings == []
    general = config.voicemail.general
    assert general.format == ("wav49", "gsm", "wav", "ulaw")
    assert (general.maxmsg, general.maxsecs, general.minsecs, general.maxlogins) == (30, 0, 1, 3)
    assert general.review is True
    box = config.voicemail.mailbox("101")
    assert box is not None
    assert (box.pin, box.fullname, box.address, str(box.location)) == (
        "1234",
        "alice",
        "101@default",
        "voicemail.conf:15",
    )
    assert config.voicemail.mailbox("102@default").fullname == "bob"
    assert config.voicemail.mailbox("103") is None


def test_mailbox_fields_options_zonemessages_and_aliases():
    text = (
        "[general]\nmaxmessage=60\naliasescontext=aliases\n"
        "[zonemessages]\neastern=America/New_York|'vm-received' Q 'digits/at' IMp\n"
        "[lab]\n2001 => -4821,Ana Lopez,ana@example.com,,Tz=eastern|attach=yes\n"
        "2002 => 9921\n[aliases]\n1234@devices => 2001@lab\n"
    )
    config, findings = load({"voicemail.conf": text})
    assert findings == []
    vm = config.voicemail
    assert vm.general.maxsecs == 60
    assert list(vm.zonemessages) == ["eastern"]
    box = vm.mailbox("2001@lab")
    assert box is not None
    assert (box.pin, box.fullname, box.email, box.pager) == (
        "-4821",
        "Ana Lopez",
        "ana@example.com",
        "",
    )
    assert box.options == {"tz": "eastern", "attach": "yes"}
    assert vm.mailbox("2002@lab").fullname == ""
    assert "aliases" not in vm.mailboxes


def test_call_back_dial_out_and_exit_contexts_with_a_mailbox_s_own_options():
    text = (
        "[general]\ncallback=fromvm\ndialout=outbound\nsendvoicemail=yes\n"
        "[default]\n101 => 1234,alice,,,callback=alice-back|sendvoicemail=no\n102 => 1234\n"
    )
    config, findings = load({"voicemail.conf": text})
    assert findings == []
    general = config.voicemail.general
    assert (general.callback, general.dialout, general.exitcontext) == ("fromvm", "outbound", "")
    alice, bob = config.voicemail.mailbox("101"), config.voicemail.mailbox("102")
    assert alice is not None and bob is not None
    assert alice.setting("callback", general.callback) == "alice-back"
    assert bob.setting("callback", general.callback) == "fromvm"
    assert alice.setting("dialout", general.dialout) == "outbound"
    assert alice.flag("sendvoicemail", general.sendvoicemail) is False
    assert bob.flag("sendvoicemail", general.sendvoicemail) is True


def test_voicemail_errors():
    text = (
        "[general]\nformat=wav49|mp3\nminsecs=10\nmaxsecs=5\n"
        "[default]\n101 => 1,a,,,novalue|colour=red\n101 => 2,b\n"
    )
    _, findings = load({"voicemail.conf": text})
    assert findings == [
        "voicemail.conf:2: error: voicemail 'general': format: unknown format 'mp3'",
        "voicemail.conf:3: error: minsecs=10 is longer than maxsecs=5: no message could ever "
        "be kept",
        "voicemail.conf:6: error: mailbox 101: option 'novalue' needs a value "
        "(mailbox options are written name=value|name=value)",
        "voicemail.conf:6: warning: mailbox 101: unknown option 'colour'; ignored",
        "voicemail.conf:7: error: mailbox 101@default is defined twice (first at voicemail.conf:6)",
    ]


def test_rtp_defaults_and_values():
    config, findings = load({})
    assert findings == []
    assert (config.rtp.rtpstart, config.rtp.rtpend, config.rtp.strictrtp) == (5000, 31000, "yes")
    config, findings = load(
        {"rtp.conf": "[general]\nrtpstart=10001\nrtpend=20000\nstrictrtp=seqno\n"}
    )
    assert findings == []
    assert (config.rtp.rtpstart, config.rtp.strictrtp, config.rtp.port_count) == (
        10002,
        "seqno",
        4999,
    )


def test_rtp_errors():
    text = "[general]\nrtpstart=20000\nrtpend=10000\nicesupport=perhaps\n[other]\n"
    _, findings = load({"rtp.conf": text})
    assert findings == [
        "rtp.conf:3: error: rtpend=10000 is not above rtpstart=20000: no port for media",
        "rtp.conf:4: error: rtp 'general': icesupport: expected yes or no, found 'perhaps'",
        "rtp.conf:5: warning: rtp.conf section [other] is not supported; ignored",
    ]
