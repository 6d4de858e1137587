"""Load a whole config from in-memory files, as check-config does."""

from __future__ import annotations

from switchboard.config.checks import check_config
from switchboard.config.loader import Config, load_config
from switchboard.diagnostics import Diagnostics
from tests.unit.config.conftest import DictSource

BASE_EXTENSIONS = "[from-internal]\nexten => 101,1,Dial(PJSIP/alice,10)\n"
STRONG = "Zq8-vT3#rW9!pL"


def load(files: dict[str, str | bytes], *, checks: bool = False, modes=None):
    files = dict(files)
    files.setdefault("pjsip.conf", "")
    files.setdefault("extensions.conf", "")
    source = DictSource(files, modes)
    diags = Diagnostics()
    config: Config = load_config(source, diags)
    if checks:
        check_config(config, source, diags)
    return config, [d.format() for d in diags.sorted()]
