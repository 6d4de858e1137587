"""Files written in the style of Asterisk's own samples load without a parser error."""

from __future__ import annotations

from pathlib import Path

from switchboard.config.checks import check_config
from switchboard.config.loader import load_config
from switchboard.configdir import DirectorySource
from switchboard.diagnostics import Diagnostics, Severity

FIXTURES = Path(__file__).parents[2] / "fixtures" / "config" / "asterisk-like"


def test_samples_style_files_give_only_warnings_except_absent_certificates():
    source = DirectorySource(FIXTURES)
    diags = Diagnostics()
    config = load_config(source, diags)
    check_config(config, source, diags)
    errors = [d.format() for d in diags.items if d.severity is Severity.ERROR]
    # The TLS transport names certificate files of another machine: that is the only error.
    assert errors and all("does not exist" in e and "transport-tls" in e for e in errors), errors
    assert len(config.pjsip.endpoints) >= 5
    assert config.extensions.dialplan.contexts
    assert config.voicemail.all_mailboxes()
    unsupported = [d for d in diags.items if "not supported" in d.message]
    assert unsupported, "options Switchboard does not act on are reported"
