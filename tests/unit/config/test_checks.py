"""Cross-file checks and risky settings, each with its exact message."""

from __future__ import annotations

from pathlib import Path

from switchboard.config.checks import password_weaknesses, pin_weaknesses
from tests.unit.config.helpers import STRONG, load

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"


def reference_files() -> dict[str, str | bytes]:
    return {p.name: p.read_bytes() for p in REFERENCE.iterdir()}


def test_reference_has_only_the_expected_warnings():
    _, findings = load(reference_files(), checks=True)
    assert findings == [
        "pjsip.conf:17: warning: endpoint 'alice' has voicemail box 101@default but no "
        "mailboxes= naming it, so its phone's message lamp never lights "
        "(add mailboxes=101@default to endpoint 'alice')",
        "pjsip.conf:21: warning: auth 'alice': weak password (only 8 characters, contains "
        "'101', contains 'alice') (use 12+ random characters; the phone stores it, nobody "
        "types it)",
        "pjsip.conf:24: warning: endpoint 'bob' has voicemail box 102@default but no "
        "mailboxes= naming it, so its phone's message lamp never lights "
        "(add mailboxes=102@default to endpoint 'bob')",
        "pjsip.conf:28: warning: auth 'bob': weak password (only 6 characters, contains "
        "'102', contains 'bob') (use 12+ random characters; the phone stores it, nobody "
        "types it)",
        "voicemail.conf:15: warning: mailbox 101@default: weak PIN (only 4 digits, a run of "
        "consecutive digits) (use 6+ digits that are not a pattern)",
        "voicemail.conf:16: warning: mailbox 102@default: weak PIN (only 4 digits, a run of "
        "consecutive digits) (use 6+ digits that are not a pattern)",
    ]


def test_endpoint_naming_a_missing_auth_aor_transport():
    files = reference_files()
    files["pjsip.conf"] = (
        files["pjsip.conf"]
        .decode()
        .replace("auth=alice", "auth=alcie")
        .replace("aors=bob", "aors=bobb")
        + "transport=tcp\n"
    )
    _, findings = load(files, checks=True)
    errors = [f for f in findings if ": error: " in f]
    assert errors == [
        "pjsip.conf:18: error: endpoint 'alice' names auth 'alcie', which is not defined "
        "(did you mean 'alice'?)",
        "pjsip.conf:26: error: endpoint 'bob' names aor 'bobb', which is not defined "
        "(did you mean 'bob'?)",
    ]
    # transport=tcp was appended to [bob](aor_dynamic): an aor has no such option.
    assert any("unknown aor option 'transport'" in f for f in findings)


def test_dialplan_references_to_missing_endpoints_and_mailboxes():
    files = reference_files()
    files["extensions.conf"] = (
        files["extensions.conf"]
        .decode()
        .replace("PJSIP/bob", "PJSIP/bbo")
        .replace("VoiceMail(101)", "VoiceMail(101@defualt)")
        + "exten => 300,1,Dial(SIP/carol&PJSIP/${X})\nexten => 301,1,VoiceMailMain(@default)\n"
    )
    _, findings = load(files, checks=True)
    assert [f for f in findings if f.startswith("extensions.conf")] == [
        "extensions.conf:3: error: Dial(PJSIP/bbo) names endpoint 'bbo', which is not defined "
        "in pjsip.conf (did you mean 'bob'?)",
        "extensions.conf:7: error: VoiceMail(101@defualt) names a mailbox that voicemail.conf "
        "does not define (did you mean '101@default'?)",
        "extensions.conf:9: warning: Dial(SIP/carol) uses chan_sip, which Asterisk 21 and "
        "Switchboard do not have (write Dial(PJSIP/carol))",
    ]


def test_mailboxes_set_silences_the_lamp_warning_and_unknown_box_warns():
    pjsip = (
        f"[t]\ntype=transport\n[alice]\ntype=endpoint\nallow=ulaw\nauth=alice\naors=alice\n"
        f"context=from-internal\nmailboxes=101@default,999\n"
        f"[alice]\ntype=auth\nusername=alice\npassword={STRONG}\n[alice]\ntype=aor\n"
        "max_contacts=1\n"
    )
    files = {
        "pjsip.conf": pjsip,
        "extensions.conf": "[from-internal]\nexten => 101,1,Dial(PJSIP/alice)\n"
        "same => n,VoiceMail(101@default)\n",
        "voicemail.conf": "[default]\n101 => 480215,alice\n",
    }
    _, findings = load(files, checks=True)
    assert findings == [
        "pjsip.conf:9: warning: endpoint 'alice': mailboxes=999 is not a mailbox of voicemail.conf"
    ]


def test_missing_context_no_codecs_no_auth_no_contacts_no_transport():
    pjsip = "[e]\ntype=endpoint\ncontext=nowhere\n[e]\ntype=aor\n"
    _, findings = load({"pjsip.conf": pjsip, "extensions.conf": "[somewhere]\n"}, checks=True)
    assert findings == [
        "warning: pjsip.conf defines no transport: phones cannot reach the PBX (add a "
        "[transport-udp] section with type=transport, protocol=udp, bind=0.0.0.0)",
        "pjsip.conf:1: warning: endpoint 'e' allows no codec, so no call can be set up "
        "(add disallow=all then allow=ulaw (or the codecs the phone has))",
        "pjsip.conf:1: warning: endpoint 'e' has no auth=: anyone who knows its name can "
        "register and call as it (add auth= naming a type=auth section)",
        "pjsip.conf:3: warning: endpoint 'e': context 'nowhere' is not in extensions.conf; "
        "its calls will get 404 (did you mean 'somewhere'?)",
        "pjsip.conf:4: warning: aor 'e' has max_contacts=0 and no static contact: no phone can "
        "register to it (set max_contacts=1 (or more for several devices))",
    ]


def test_tls_key_permissions_missing_files_and_old_methods():
    pjsip = (
        "[tls]\ntype=transport\nprotocol=tls\ncert_file=keys/a.crt\npriv_key_file=keys/a.key\n"
        "method=tlsv1\n[tls2]\ntype=transport\nprotocol=tls\npriv_key_file=/nope/b.key\n"
    )
    files = {"pjsip.conf": pjsip, "keys/a.crt": "x", "keys/a.key": "y"}
    modes = {"keys/a.key": 0o100644}
    _, findings = load(files, checks=True, modes=modes)
    assert findings == [
        "pjsip.conf:5: warning: transport 'tls': private key keys/a.key is readable by other "
        "users (mode 644) (chmod 600 keys/a.key)",
        "pjsip.conf:6: warning: transport 'tls': method=tlsv1 is obsolete; Switchboard accepts "
        "only TLS 1.2 and 1.3 (remove method= for both, or set tlsv1_2 or tlsv1_3 for that "
        "version alone)",
        "pjsip.conf:7: error: transport 'tls2' is TLS but has no cert_file (make one with: "
        "switchboard tls-cert -C HOST -O ORG -d DIR)",
        "pjsip.conf:10: error: transport 'tls2': priv_key_file /nope/b.key does not exist",
    ]


def test_ciphers_outside_the_intermediate_profile_are_reported():
    pjsip = (
        "[tls]\ntype=transport\nprotocol=tls\ncert_file=a.crt\npriv_key_file=a.key\n"
        "cipher=ECDHE-RSA-AES128-GCM-SHA256,AES128-SHA,ECDHE-RSA-AES128-SHA256\n"
        "[ok]\ntype=transport\nprotocol=tls\ncert_file=a.crt\npriv_key_file=a.key\n"
        "cipher=ECDHE-RSA-CHACHA20-POLY1305\n"
    )
    files = {"pjsip.conf": pjsip, "a.crt": "x", "a.key": "y"}
    _, findings = load(files, checks=True, modes={"a.key": 0o100600})
    assert findings == [
        "pjsip.conf:6: warning: transport 'tls': cipher AES128-SHA:ECDHE-RSA-AES128-SHA256 is "
        "outside Mozilla's intermediate TLS profile (it may allow CBC, RSA key exchange or "
        "SHA-1) (remove cipher= to use the profile's ECDHE AES-GCM/ChaCha20 suites)",
    ]


def test_sdes_over_plain_transport_only():
    pjsip = (
        "[udp]\ntype=transport\nprotocol=udp\n[tls]\ntype=transport\nprotocol=tls\n"
        "cert_file=c\n[a]\ntype=endpoint\nallow=ulaw\nauth=x\nmedia_encryption=sdes\n"
        "transport=udp\n[b](a)\ntransport=tls\n[x]\ntype=auth\nusername=x\n"
        f"password={STRONG}\n"
    )
    _, findings = load({"pjsip.conf": pjsip, "c": "cert"}, checks=True)
    sdes = [f for f in findings if "sdes" in f]
    assert sdes == [
        "pjsip.conf:12: warning: endpoint 'a': media_encryption=sdes over unencrypted transport "
        "'udp' (udp) would send the SRTP keys in clear: its calls are refused with 488 (add a "
        "TLS transport and set transport= to it)"
    ]
    optimistic = pjsip.replace(
        "media_encryption=sdes\n", "media_encryption=sdes\nmedia_encryption_optimistic=yes\n"
    )
    _, findings = load({"pjsip.conf": optimistic, "c": "cert"}, checks=True)
    assert [f for f in findings if "keys in clear" in f] == [
        "pjsip.conf:12: warning: endpoint 'a': media_encryption=sdes over unencrypted transport "
        "'udp' (udp) would send the SRTP keys in clear: its calls use plain RTP instead (add a "
        "TLS transport and set transport= to it)"
    ]
    allowed = {"switchboard.conf": "[security]\nsdes_over_plain_transport=yes\n"}
    _, findings = load({"pjsip.conf": pjsip, "c": "cert", **allowed}, checks=True)
    assert [f for f in findings if "sdes" in f and "keys in clear" in f] == [
        "pjsip.conf:12: warning: endpoint 'a': media_encryption=sdes over unencrypted transport "
        "'udp' (udp) sends the SRTP keys in clear (sdes_over_plain_transport = yes) (add a TLS "
        "transport and set transport= to it)"
    ]


def test_sip_conf_leftover_from_the_report():
    files = reference_files()
    files["sip.conf"] = files.pop("sip.conf-tls-step")
    _, findings = load(files, checks=True)
    sip = [f for f in findings if f.startswith("sip.conf")]
    assert sip == [
        "sip.conf:1: warning: sip.conf is read by chan_sip, which Asterisk 21 and Switchboard "
        "do not have; this file is ignored (move accounts and transports to pjsip.conf)",
        "sip.conf:9: warning: 'dmtf' is not a chan_sip option either (did you mean 'dtmfmode'?)",
        "sip.conf:12: warning: [transport-tls] is a pjsip transport; it only takes effect in "
        "pjsip.conf (move this block to pjsip.conf)",
    ]


def test_md5_cred_and_empty_password():
    pjsip = (
        "[a]\ntype=auth\nauth_type=md5\nmd5_cred=abc\n[b]\ntype=auth\nusername=b\n"
        "[c]\ntype=auth\nauth_type=md5\nmd5_cred=0123456789abcdef0123456789abcdef\n"
    )
    _, findings = load({"pjsip.conf": pjsip}, checks=True)
    assert findings[1:] == [
        "pjsip.conf:4: error: auth 'a': md5_cred must be 32 hex digits (MD5 of "
        "username:realm:password)",
        "pjsip.conf:5: warning: auth 'b' has an empty password",
    ]


def test_password_and_pin_rules():
    assert password_weaknesses(STRONG, ["alice"]) == []
    assert password_weaknesses("123456789012", []) == ["digits only"]
    assert password_weaknesses("Alice-long-passphrase", ["alice"]) == ["contains 'alice'"]
    assert pin_weaknesses("480215", "101") == []
    assert pin_weaknesses("-111111", "101") == ["one digit repeated"]
    assert pin_weaknesses("987654", "101") == ["a run of consecutive digits"]
    assert pin_weaknesses("101101", "101") == ["contains the mailbox number"]


def test_certificate_expiry_is_reported(tmp_path: Path):
    import datetime

    from switchboard.certificates import LEAF_DAYS, issue
    from switchboard.config.checks import check_config
    from switchboard.config.loader import load_config
    from switchboard.configdir import DirectorySource
    from switchboard.diagnostics import Diagnostics

    now = datetime.datetime.now(datetime.UTC)
    soon = issue(
        host="pbx",
        organisation="O",
        directory=tmp_path / "soon",
        now=now - datetime.timedelta(days=LEAF_DAYS - 15),
    )
    old = issue(
        host="pbx",
        organisation="O",
        directory=tmp_path / "old",
        now=now - datetime.timedelta(days=LEAF_DAYS + 75),
    )
    (tmp_path / "pjsip.conf").write_text(
        f"[soon]\ntype=transport\nprotocol=tls\ncert_file={soon.cert}\npriv_key_file={soon.key}\n"
        f"[old]\ntype=transport\nprotocol=tls\ncert_file={old.cert}\npriv_key_file={old.key}\n"
    )
    (tmp_path / "extensions.conf").write_text("")
    source = DirectorySource(tmp_path)
    diags = Diagnostics()
    check_config(load_config(source, diags), source, diags, now.timestamp())
    found = [d.format() for d in diags.sorted() if "certificate" in d.message]
    assert len(found) == 2
    assert found[0].startswith("pjsip.conf:4: warning: transport 'soon': certificate ")
    assert "in 14 days" in found[0] or "in 15 days" in found[0]
    assert found[1].startswith("pjsip.conf:9: error: transport 'old': certificate ")
    assert "expired on" in found[1]


def test_named_acls_of_acl_conf_are_reported_as_not_applied() -> None:
    files = reference_files()
    files["pjsip.conf"] = files["pjsip.conf"].decode() + "[alice](+type=endpoint)\nacl=office\n"
    _, findings = load(files, checks=True)
    assert any(
        f.startswith("pjsip.conf:32: warning: endpoint 'alice': acl=office names an acl.conf")
        for f in findings
    ), findings
