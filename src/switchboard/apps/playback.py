"""``Playback(filename[&filename2...][,options])``: play sound files to the caller.

Asterisk 21's semantics (``app_playback.c``):

- The channel is answered first, unless option ``noanswer`` (the files are then early
  media, after a 183 Session Progress) or ``skip`` (nothing at all is played when the
  channel is not up; ``PLAYBACKSTATUS`` is still SUCCESS). Options are matched anywhere
  in the option text, case-insensitively, as Asterisk's ``strcasestr`` does.
- The files play one after another. A file that cannot be found or read is logged and
  skipped; the dialplan goes on, with ``PLAYBACKSTATUS=FAILED`` instead of ``SUCCESS``.
- No file name at all is an error: the channel hangs up.
- The caller hanging up cancels the application: the player stops at once.

File look-up is ``fileexists_core`` of Asterisk's ``main/file.c``: a name is taken as given
when absolute (``/var/lib/sounds/welcome``), else relative to each sounds folder, trying the
channel's language (``fr_CA``, then ``fr``), then no language, then ``en``; the first place
holding the name in any supported format wins. Among the formats found there, the one the
channel already speaks (no transcoding) is preferred, then WAV, then the rest (raw G.711
of the other law, ``.sln``, GSM 6.10 ``.gsm`` as the Debian Asterisk sound packages ship).
The name carries no extension, as in Asterisk. Two names need no file: ``beep`` (the
media graph's tone generator) and ``silence/1`` to ``silence/10`` (silence of that many
seconds, which dialplans play so that a phone's first words are not clipped); a file of
that name, such as Asterisk's own, wins.

The sounds folders are a module setting, :func:`configure`\\ d by the composition root.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.interpreter import Continue, Hangup, Outcome
from switchboard.media.codecs import AudioCodec, codec_named
from switchboard.media.g711 import Law
from switchboard.media.player import EXTENSION_FORMAT, RtpPlayer, SoundFileError
from switchboard.media.ports import SilenceSource, Source, ToneSource
from switchboard.media.rtpport import PTIME
from switchboard.services.calls.channel import Channel
from switchboard.sounds import language_dirs

NAME = "Playback"
SYNOPSIS = "Play a file"

DEFAULT_LANGUAGE = "en"
BEEP = "beep"
BEEP_HZ = 1000.0
BEEP_SECONDS = 0.25
"""The generated beep: 1 kHz for 250 ms (Asterisk's ``beep.gsm`` wins when installed)."""
MAX_SILENCE = 10
"""``silence/1`` to ``silence/10``: the silences Asterisk's core sound packages ship."""

log = logging.getLogger(__name__)

_sounds_dirs: tuple[Path, ...] = ()


def configure(sounds_dirs: Iterable[Path]) -> None:
    """Set the folders relative names are looked up in, in order (Asterisk's
    ``astdatadir/sounds``)."""
    global _sounds_dirs  # noqa: PLW0603 - the one setting the composition root writes
    _sounds_dirs = tuple(Path(folder) for folder in sounds_dirs)


def sounds_dirs() -> tuple[Path, ...]:
    """The configured sounds folders."""
    return _sounds_dirs


def languages(language: str) -> list[str | None]:
    """The language folders to try, in Asterisk's order (None: no language folder)."""
    return language_dirs(language, fallback=True)


def _rank(path: Path, law: Law | None) -> int:
    kind = EXTENSION_FORMAT[path.suffix[1:].lower()]
    if kind == law:
        return 0
    if kind == "wav":
        return 1
    return 2


def _formats(base: Path, law: Law | None) -> Path | None:
    """The best file ``base.<ext>`` that exists, for a channel speaking ``law``."""
    found = [
        candidate
        for extension in EXTENSION_FORMAT
        if (candidate := base.with_name(f"{base.name}.{extension}")).is_file()
    ]
    if not found:
        return None
    return min(found, key=lambda path: _rank(path, law))


def candidates(name: str, language: str, folders: Sequence[Path]) -> list[Path]:
    """Every base path (no extension) ``name`` may be at, in look-up order."""
    if name.startswith("/"):
        return [Path(name)]
    order = languages(language)
    return [
        folder / lang / name if lang is not None else folder / name
        for lang in order
        for folder in folders
    ]


def find_sound(
    name: str, language: str, law: Law | None, folders: Sequence[Path] | None = None
) -> Path | None:
    """The file to play for ``name`` (no extension), or None when it exists nowhere."""
    if not name or "\0" in name:
        return None
    for base in candidates(name, language, _sounds_dirs if folders is None else folders):
        if not base.name or base.name in (".", ".."):
            continue
        found = _formats(base, law)
        if found is not None:
            return found
    return None


def generated_sound(name: str) -> Source | None:
    """What plays for ``name`` when no file has it: ``beep`` from the tone generator
    (:data:`BEEP_HZ`, :data:`BEEP_SECONDS`), ``silence/1`` to ``silence/10`` as that many
    seconds of silence (Asterisk's sound packages ship them as files); else None."""
    if name == BEEP:
        return ToneSource(BEEP_HZ, BEEP_SECONDS)
    folder, _, seconds = name.partition("/")
    if folder == "silence" and seconds.isdigit() and 1 <= int(seconds) <= MAX_SILENCE:
        return SilenceSource(int(seconds))
    return None


def _has_extension(name: str) -> bool:
    return Path(name).suffix[1:].lower() in EXTENSION_FORMAT


def _options(text: str) -> tuple[bool, bool]:
    lowered = text.lower()
    return "skip" in lowered, "noanswer" in lowered


def _codec(channel: Channel) -> tuple[int, AudioCodec] | None:
    """The payload type and codec the caller receives, when media can encode it."""
    if not channel.streams or not channel.streams[0].codecs:
        return None
    codec = channel.streams[0].codecs[0]
    audio = codec_named(codec.name)
    return None if audio is None else (codec.payload_type, audio)


async def run(channel: Channel, args: str) -> Outcome:
    """Answer (or not), play each file, and report ``PLAYBACKSTATUS``."""
    parts = separate_args(args)
    names = [name.strip() for name in (parts[0] if parts else "").split("&") if name.strip()]
    if not names:
        log.warning("%s: Playback requires an argument (filename)", channel.name)
        return Hangup()
    skip, noanswer = _options(parts[1] if len(parts) > 1 else "")
    engine = channel.engine
    if not channel.up:
        if skip:
            return Continue({"PLAYBACKSTATUS": "SUCCESS"})
        if noanswer:
            engine.ring(channel, 183)
        else:
            engine.answer(channel)
    if channel.hung_up:
        return Hangup(channel.cause)
    player = player_for(channel)
    language = channel.endpoint.language or DEFAULT_LANGUAGE
    failed = False
    leg = channel.media_leg
    if leg is not None:
        leg.mute(True)
    try:
        for name in names:
            if not await _play(channel, player, name, language):
                failed = True
    finally:
        if leg is not None:
            leg.mute(False)
    return Continue({"PLAYBACKSTATUS": "FAILED" if failed else "SUCCESS"})


def player_for(channel: Channel) -> RtpPlayer | None:
    """A player on the caller's relay leg, in the negotiated codec; None (logged) when the
    call has no media the player can send."""
    leg = channel.media_leg
    codec = _codec(channel)
    transport = leg.output if leg is not None else None
    if leg is None or transport is None:
        log.warning("%s: Playback: the call has no media relay", channel.name)
        return None
    if codec is None:
        log.warning(
            "%s: Playback: the caller's codec is not G.711, G.722 or Opus; cannot play",
            channel.name,
        )
        return None
    payload_type, audio = codec
    phone = leg
    return RtpPlayer(
        transport,
        lambda: phone.destination,
        payload_type=payload_type,
        codec=audio,
        ptime=_ptime(channel.streams[0].ptime),
    )


def _ptime(asked: float | None) -> float:
    """The packet time in seconds: the phone's ``a=ptime`` when G.711 framing allows it
    (10 to 60 ms in steps of 10 ms), else 20 ms."""
    if asked is not None and 10 <= asked <= 60 and asked % 10 == 0:
        return asked / 1000
    return PTIME


async def _play(channel: Channel, player: RtpPlayer | None, name: str, language: str) -> bool:
    """Play one file; False (logged, as Asterisk's warnings) when it could not be."""
    law = player.law if player is not None else None
    path = await asyncio.to_thread(find_sound, name, language, law)
    generated = generated_sound(name) if path is None else None
    if generated is not None and player is not None:
        log.info("%s: Playing '%s' (generated, language %r)", channel.name, name, language)
        await player.play_source(generated)
        return True
    if path is None:
        where = ", ".join(str(folder) for folder in _sounds_dirs) or "no sounds folder"
        hint = " (give the name without its extension)" if _has_extension(name) else ""
        log.warning(
            "%s: Playback: file %s does not exist in any supported format (language %r; %s)%s",
            channel.name,
            name,
            language,
            where,
            hint,
        )
        return False
    if player is None:
        return False
    try:
        samples = await asyncio.to_thread(player.load, path)
    except SoundFileError as error:
        log.warning("%s: Playback: cannot play %s: %s", channel.name, path, error)
        return False
    log.info("%s: Playing '%s' (%s, language %r)", channel.name, name, path, language)
    await player.play_samples(samples)
    return True
