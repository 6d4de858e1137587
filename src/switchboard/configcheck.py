"""A config folder read from disk and checked whole: what ``check-config`` prints and what
``serve`` (and a reload) refuses to run on.

Apart from the composition root so that ``check-config`` imports the config package and
the prompt list, not the server (SQL, media, codecs, services).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path

from switchboard.config.checks import check_config
from switchboard.config.loader import Config, load_config
from switchboard.configdir import DirectorySource
from switchboard.diagnostics import Diagnostics
from switchboard.sounds import default_sounds_dirs, missing_prompts, required_prompts


@dataclass(slots=True)
class LoadedConfig:
    config: Config
    diagnostics: Diagnostics


def load_and_check(config_dir: Path) -> LoadedConfig:
    """Read and check a config folder; the caller decides what errors mean.

    The cyclic garbage collector is paused meanwhile: a large site allocates hundreds of
    thousands of objects and no cycles, and collections cost a quarter of the load time.
    """
    source = DirectorySource(config_dir)
    diags = Diagnostics()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        config = load_config(source, diags)
        check_config(config, source, diags, time.time())
        check_prompts(config, config_dir, diags)
    finally:
        if was_enabled:
            gc.enable()
    return LoadedConfig(config, diags)


VOICEMAIL_APPS = frozenset({"voicemail", "voicemailmain"})


def check_prompts(config: Config, config_dir: Path, diags: Diagnostics) -> None:
    """Warn, per language the phones use, about voicemail prompts no sounds folder has
    (only when the dialplan uses voicemail): callers would hear silence there."""
    steps = [
        step
        for context in config.extensions.dialplan.contexts.values()
        for extension in context.extensions.values()
        for step in extension.steps.values()
        if step.app.lower() in VOICEMAIL_APPS
    ]
    if not steps:
        return
    languages = sorted({e.language or "en" for e in config.pjsip.endpoints.values()})
    folders = default_sounds_dirs(config_dir, Path(config.media.sounds_dir))
    for language in languages:
        missing = missing_prompts(folders, [language], required_prompts(language))
        names = missing.get(language, [])
        if names:
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            diags.warning(
                steps[0].location,
                f"voicemail prompts missing for language {language!r}: {shown}",
                "install asterisk-core-sounds-" + language.split("_")[0] + "-gsm (or point "
                "switchboard.conf [media] sounds_dir at Asterisk's sounds), or put the "
                f"files in {config_dir / 'sounds' / language}",
            )
