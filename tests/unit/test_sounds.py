"""The built-in prompt set, the sounds folder order, missing prompts and GSM 6.10 files."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from switchboard.apps.playback import find_sound
from switchboard.media import g711
from switchboard.media.player import SoundFileError, decode_gsm, read_sound
from switchboard.media.saynumber import say_number, you_have_messages
from switchboard.media.tones import sine, tone_fraction
from switchboard.sounds import (
    BUILTIN_LANGUAGES,
    DEBIAN_SOUNDS_DIR,
    NUMBER_PROMPTS,
    VOICEMAIL_PROMPTS,
    builtin_sounds_dir,
    default_sounds_dirs,
    missing_prompts,
    required_prompts,
)

BUILTIN = builtin_sounds_dir()


def gsm_bytes(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, 8000, format="RAW", subtype="GSM610")
    return out.getvalue()


# The built-in set ---------------------------------------------------------------------


def test_the_builtin_set_is_inside_the_package_with_both_languages() -> None:
    assert BUILTIN.is_dir()
    assert BUILTIN.name == "sounds"
    assert {path.name for path in BUILTIN.iterdir() if path.is_dir()} >= set(BUILTIN_LANGUAGES)


@pytest.mark.parametrize("language", BUILTIN_LANGUAGES)
def test_the_builtin_set_holds_every_prompt_voicemail_needs(language: str) -> None:
    assert missing_prompts([BUILTIN], [language], required_prompts(language)) == {}


@pytest.mark.parametrize("language", BUILTIN_LANGUAGES)
def test_every_number_and_intro_can_be_said_from_the_builtin_set(language: str) -> None:
    names = {name for n in range(1001) for name in say_number(n, language)}
    for new in range(3):
        for old in range(3):
            names.update(you_have_messages(new, old, language))
    assert missing_prompts([BUILTIN], [language], sorted(names)) == {}


def test_builtin_files_are_8khz_16bit_mono_wav_with_sound_in_them() -> None:
    files = sorted(BUILTIN.rglob("*.wav"))
    expected = sum(len(VOICEMAIL_PROMPTS) + len(NUMBER_PROMPTS[lang]) for lang in BUILTIN_LANGUAGES)
    assert len(files) == expected
    for path in files:
        with wave.open(str(path)) as audio:
            assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (
                8000,
                2,
                1,
            ), path
            samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
        assert 0.1 < len(samples) / 8000 < 15, path
        assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 500, path
        assert len(read_sound(path, "ulaw")) == len(samples)


def test_the_builtin_set_stays_small() -> None:
    total = sum(path.stat().st_size for path in BUILTIN.rglob("*") if path.is_file())
    assert total < 6_500_000  # every prompt VoiceMail and VoiceMailMain play, 8 kHz WAV


@pytest.mark.parametrize("language", BUILTIN_LANGUAGES)
def test_the_built_in_set_has_no_beep_file_the_tone_generator_plays_it(language: str) -> None:
    assert find_sound("beep", language, "ulaw", [BUILTIN]) is None
    assert "beep" not in required_prompts(language)


def test_the_transcript_lists_every_file() -> None:
    lines = (BUILTIN / "PROMPTS.txt").read_text(encoding="utf-8").splitlines()
    listed = {line.split(":", 1)[0] for line in lines if line.startswith(("en/", "fr/"))}
    on_disk = {str(path.relative_to(BUILTIN).with_suffix("")) for path in BUILTIN.rglob("*.wav")}
    assert listed == on_disk


# Where sounds are looked for ----------------------------------------------------------


def test_default_folders_are_the_deployment_then_debian_then_builtin(tmp_path: Path) -> None:
    assert default_sounds_dirs(tmp_path) == [tmp_path / "sounds", DEBIAN_SOUNDS_DIR, BUILTIN]
    assert Path("/usr/share/asterisk/sounds") == DEBIAN_SOUNDS_DIR


def test_the_deployment_and_debian_win_over_the_builtin_set(tmp_path: Path) -> None:
    own = tmp_path / "sounds" / "fr"
    debian = tmp_path / "debian" / "fr"
    own.mkdir(parents=True)
    debian.mkdir(parents=True)
    (own / "vm-intro.ulaw").write_bytes(b"\xff" * 160)
    (debian / "vm-goodbye.gsm").write_bytes(gsm_bytes(sine(1000, 0.2)))
    folders = [tmp_path / "sounds", tmp_path / "debian", BUILTIN]
    assert find_sound("vm-intro", "fr", "ulaw", folders) == own / "vm-intro.ulaw"
    assert find_sound("vm-goodbye", "fr", "ulaw", folders) == debian / "vm-goodbye.gsm"
    assert find_sound("vm-youhave", "fr", "ulaw", folders) == BUILTIN / "fr" / "vm-youhave.wav"
    # A French caller hears French from the built-in set before English from Debian.
    (tmp_path / "debian" / "en").mkdir()
    (tmp_path / "debian" / "en" / "vm-login.gsm").write_bytes(gsm_bytes(sine(1000, 0.2)))
    assert find_sound("vm-login", "fr_CA", "alaw", folders) == BUILTIN / "fr" / "vm-login.wav"


def test_wav_is_preferred_to_gsm_in_one_folder(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "beep.gsm").write_bytes(gsm_bytes(sine(1000, 0.2)))
    assert find_sound("beep", "en", "ulaw", [tmp_path]) == tmp_path / "en" / "beep.gsm"
    (tmp_path / "en" / "beep.wav").write_bytes((BUILTIN / "en" / "vm-intro.wav").read_bytes())
    assert find_sound("beep", "en", "ulaw", [tmp_path]) == tmp_path / "en" / "beep.wav"


# Missing prompts ----------------------------------------------------------------------


def test_missing_prompts_per_language(tmp_path: Path) -> None:
    for place in ("fr", "en", "fr_CA", ""):
        (tmp_path / place / "digits").mkdir(parents=True, exist_ok=True)
    (tmp_path / "fr" / "vm-intro.gsm").touch()
    (tmp_path / "fr_CA" / "vm-login.wav").touch()
    (tmp_path / "vm-goodbye.sln").touch()  # no language folder: every language has it
    (tmp_path / "en" / "vm-intro.wav").touch()
    (tmp_path / "en" / "digits" / "1.ulaw").touch()
    (tmp_path / "fr" / "vm-intro.txt").touch()  # not a sound format
    names = ["vm-intro", "vm-login", "vm-goodbye", "digits/1"]
    assert missing_prompts([tmp_path], ["fr", "fr_CA", "en", "de"], names) == {
        "fr": ["vm-login", "digits/1"],
        "fr_CA": ["digits/1"],
        "en": ["vm-login"],
        "de": ["vm-intro", "vm-login", "digits/1"],
    }
    # With Asterisk's fallback to English, only what English lacks is missing.
    assert missing_prompts([tmp_path], ["fr", "de"], names, fallback=True) == {
        "fr": ["vm-login"],
        "de": ["vm-login"],
    }


def test_missing_prompts_searches_every_folder(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "en").mkdir(parents=True)
    (second / "en").mkdir(parents=True)
    (first / "en" / "vm-intro.wav").touch()
    (second / "en" / "vm-login.gsm").touch()
    assert missing_prompts([first, second], ["en"], ["vm-intro", "vm-login"]) == {}
    assert missing_prompts([], ["en"], ["vm-intro"]) == {"en": ["vm-intro"]}


# GSM 6.10 ------------------------------------------------------------------------------


def test_raw_gsm_is_decoded_to_the_tone_it_holds(tmp_path: Path) -> None:
    data = gsm_bytes(sine(1000, 1.0))
    assert len(data) == 50 * 33  # 33-octet frames, 20 ms each, as Asterisk's format_gsm
    path = tmp_path / "tone.gsm"
    path.write_bytes(data)
    payload = read_sound(path, "ulaw")
    assert len(payload) == 8000
    assert tone_fraction(g711.decode_payload(payload, "ulaw")[800:], 1000.0) == 1.0
    assert len(read_sound(path, "alaw")) == 8000


def test_a_partial_last_gsm_frame_is_dropped() -> None:
    data = gsm_bytes(sine(1000, 0.1))
    assert len(decode_gsm(data + data[:10])) == 800
    assert len(decode_gsm(b"")) == 0


def test_data_that_is_not_gsm_is_refused_with_where(tmp_path: Path) -> None:
    data = bytearray(gsm_bytes(sine(1000, 0.1)))
    data[66] = 0x12
    path = tmp_path / "bad.gsm"
    path.write_bytes(bytes(data))
    with pytest.raises(SoundFileError, match=r"bad.gsm: not raw GSM 6.10: frame 2 \(octet 66\)"):
        read_sound(path, "ulaw")


def test_debian_prompts_decode() -> None:
    """The real Asterisk prompts, when the Debian packages are installed (scripts/run.sh and
    scripts/test.sh install them)."""
    path = DEBIAN_SOUNDS_DIR / "fr" / "vm-youhave.gsm"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} missing: asterisk-core-sounds-fr-gsm is not installed")
        pytest.skip("asterisk-core-sounds-fr-gsm is not installed")
    samples = g711.decode_payload(read_sound(path, "ulaw"), "ulaw")
    assert len(samples) == path.stat().st_size // 33 * 160
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 500
    missing = {
        language: missing_prompts([DEBIAN_SOUNDS_DIR], [language], required_prompts(language))
        for language in ("en", "fr")
    }
    # Debian's French set has no feminine "une"; the built-in one does (see below).
    assert missing == {"en": {}, "fr": {"fr": ["digits/1F"]}}
    assert missing_prompts([DEBIAN_SOUNDS_DIR, builtin_sounds_dir()], ["fr"], ["digits/1F"]) == {}
