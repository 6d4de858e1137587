"""Generate Switchboard's built-in prompt set: src/switchboard/sounds/<lang>/*.wav.

    apt-get install espeak-ng          # build-time only; the generated files are committed
    .venv/bin/python scripts/make_prompts.py [--check]

Each prompt is spoken by espeak-ng (voice ``en-us`` or ``fr-fr``, fixed speed and pitch),
resampled from espeak-ng's 22 050 Hz to 8 kHz with a windowed-sinc low-pass (3.6 kHz),
trimmed to 40 ms of silence at each end, pauses cut to 0.2 s, scaled to a fixed peak and
written as 16-bit mono WAV by the ``wave`` module. There is no ``beep`` file: without
Asterisk's ``beep.gsm`` the server's tone generator plays it. Nothing depends on the clock
or on randomness: the same espeak-ng version gives the same bytes (``PROMPTS.txt`` records
the version and every text). ``--check`` regenerates into a temporary folder and fails when
a committed file differs.

The names are Asterisk's (``switchboard.sounds.VOICEMAIL_PROMPTS`` and ``NUMBER_PROMPTS``);
the wording follows what the Asterisk core sound files say, so sequences such as
"the person at extension" + digits + "is unavailable" still make sentences.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from switchboard.sounds import NUMBER_PROMPTS, VOICEMAIL_PROMPTS  # noqa: E402

OUT = ROOT / "src" / "switchboard" / "sounds"
RATE = 8000
ESPEAK_RATE = 22050
VOICES = {"en": "en-us", "fr": "fr-fr"}
SPEED = 185  # words per minute
PITCH = 45
PEAK = 0.7  # of full scale
MARGIN = 0.04  # seconds of silence kept at each end

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "vm-theperson": "The person at extension",
        "vm-isunavail": "is unavailable.",
        "vm-isonphone": "is on the phone.",
        "vm-intro": "Please leave your message after the tone. "
        "When done, hang up, or press the pound key.",
        "vm-review": "Press 1 to accept this recording. Press 2 to listen to it. "
        "Press 3 to re-record your message.",
        "vm-msgsaved": "Your message has been saved.",
        "vm-mailboxfull": "Sorry, this mailbox cannot accept more messages.",
        "vm-goodbye": "Goodbye.",
        "vm-login": "Mailbox?",
        "vm-password": "Password?",
        "vm-incorrect": "Login incorrect.",
        "vm-incorrect-mailbox": "Login incorrect. Mailbox?",
        "vm-youhave": "You have",
        "vm-INBOX": "new",
        "vm-Old": "old",
        "vm-Urgent": "urgent",
        "vm-message": "message",
        "vm-messages": "messages",
        "vm-and": "and",
        "vm-no": "no",
        "vm-first": "First",
        "vm-last": "Last",
        "vm-nomore": "No more messages.",
        "vm-received": "received",
        "vm-from": "from",
        "vm-from-extension": "message from extension",
        "vm-from-phonenumber": "message from phone number",
        "vm-unknown-caller": "from an unknown caller",
        "vm-onefor": "Press 1 for",
        "vm-opts": "Press 2 to change folders. Press 3 for advanced options. "
        "Press 0 for mailbox options.",
        "vm-instructions": "To listen to your messages, press 1. "
        "You may quit at any time by pressing the pound key.",
        "vm-starmain": "Press star to return to the main menu.",
        "vm-repeat": "Press 5 to repeat the current message.",
        "vm-prev": "Press 4 for the previous message.",
        "vm-next": "Press 6 for the next message.",
        "vm-delete": "Press 7 to delete this message.",
        "vm-deleted": "Message deleted.",
        "vm-undelete": "Press 7 to undelete this message.",
        "vm-undeleted": "Message undeleted.",
        "vm-toreply": "Press 1 to send a reply.",
        "vm-tohearenv": "Press 3 to hear the message envelope.",
        "vm-sorry": "Sorry, I did not understand your response.",
        "vm-helpexit": "Press star for help, or pound to exit.",
        "vm-changeto": "Change to which folder?",
        "vm-savefolder": "Which folder should I save the message to?",
        "vm-savedto": "saved to",
        "vm-Family": "family",
        "vm-Friends": "friends",
        "vm-Work": "work",
        "vm-options": "Press 1 to record your unavailable message. "
        "Press 2 to record your busy message. Press 3 to record your name. "
        "Press 5 to change your password. Press star to return to the main menu.",
        "vm-rec-unv": "After the tone, say your unavailable message, then press pound.",
        "vm-rec-busy": "After the tone, say your busy message, then press pound.",
        "vm-rec-name": "After the tone, say your name, then press pound.",
        "vm-newpassword": "Please enter your new password, followed by the pound key.",
        "vm-reenterpassword": "Please enter your password again, followed by the pound key.",
        "vm-passchanged": "Your password has been changed.",
        "vm-mismatch": "The passwords you entered do not match.",
        "vm-advopts": "Press 3 for advanced options.",
        "vm-savemessage": "Press 9 to save this message.",
        "vm-toforward": "Press 8 to forward this message.",
        "vm-duration": "duration",
        "vm-minutes": "minutes",
        "vm-for": "for",
        "vm-tocancel": "or press pound to cancel.",
        "vm-extension": "Please enter the extension, then press pound.",
        "pbx-invalid": "I'm sorry, that is not a valid extension. Please try again.",
        "vm-forwardoptions": "Press 1 to record an introduction before the message. "
        "Press 2 to send it as it is.",
        "vm-msgforwarded": "Your message has been forwarded.",
        "vm-tocallback": "To call the person who left this message, press 2.",
        "vm-tomakecall": "To place a call, press 4.",
        "vm-leavemsg": "To leave a message, press 5.",
        "vm-num-i-have": "The number I have is",
        "vm-tocallnum": "To call this number, press 1.",
        "vm-calldiffnum": "To call a different number, press 2.",
        "vm-star-cancel": "Press star to cancel.",
        "vm-nonumber": "I'm sorry, I have no number for this caller.",
        "vm-toenternumber": "To enter a number, press 2.",
        "vm-enter-num-to-call": "Please enter the number you wish to call,",
        "vm-then-pound": "then press pound.",
        "vm-nobox": "You cannot reply to this message: the caller has no mailbox.",
        "vm-rec-temp": "After the tone, say your temporary greeting, then press pound.",
        "vm-tmpexists": "You have a temporary greeting.",
        "vm-tempgreeting2": "Press 1 to record your temporary greeting again. "
        "Press 2 to remove it.",
        "vm-tempremoved": "Your temporary greeting has been removed.",
        "vm-torerecord": "Press 3 to record again.",
        "vm-invalid-password": "That password is not valid.",
        "vm-pls-try-again": "Please try again.",
        **dict(
            zip(
                [f"digits/{n}" for n in range(20)],
                [
                    "zero",
                    "one",
                    "two",
                    "three",
                    "four",
                    "five",
                    "six",
                    "seven",
                    "eight",
                    "nine",
                    "ten",
                    "eleven",
                    "twelve",
                    "thirteen",
                    "fourteen",
                    "fifteen",
                    "sixteen",
                    "seventeen",
                    "eighteen",
                    "nineteen",
                ],
                strict=True,
            )
        ),
        **dict(
            zip(
                [f"digits/{n}" for n in range(20, 100, 10)],
                ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"],
                strict=True,
            )
        ),
        "digits/hundred": "hundred",
        "digits/thousand": "thousand",
        "digits/million": "million",
    },
    "fr": {
        "vm-theperson": "La personne au poste",
        "vm-isunavail": "n'est pas disponible.",
        "vm-isonphone": "est en ligne.",
        "vm-intro": "Veuillez laisser votre message après le bip sonore. "
        "Lorsque vous aurez terminé, raccrochez ou appuyez sur dièse.",
        "vm-review": "Pour accepter l'enregistrement, appuyez sur 1. Pour l'écouter, 2. "
        "Pour ré-enregistrer, appuyez sur 3.",
        "vm-msgsaved": "Votre message a été enregistré.",
        "vm-mailboxfull": "Désolé, cette boîte vocale ne peut plus accepter de messages.",
        "vm-goodbye": "Au revoir.",
        "vm-login": "Boîte vocale?",
        "vm-password": "Mot de passe?",
        "vm-incorrect": "Connexion incorrecte.",
        "vm-incorrect-mailbox": "Connexion incorrecte. Boîte vocale?",
        "vm-youhave": "Vous avez",
        "vm-INBOX": "nouveau",
        "vm-Old": "ancien",
        "vm-Urgent": "urgent",
        "vm-message": "message",
        "vm-messages": "messages",
        "vm-and": "et",
        "vm-no": "aucun",
        "vm-first": "Premier",
        "vm-last": "Dernier",
        "vm-nomore": "Il n'y a plus de messages.",
        "vm-received": "reçu",
        "vm-from": "de",
        "vm-from-extension": "message du poste",
        "vm-from-phonenumber": "message du numéro",
        "vm-unknown-caller": "d'un appelant inconnu",
        "vm-onefor": "Appuyez sur 1 pour",
        "vm-opts": "Pour changer de dossier, appuyez sur 2. "
        "Pour les options avancées, appuyez sur 3. "
        "Pour les options de la boîte vocale, appuyez sur 0.",
        "vm-instructions": "Pour écouter vos messages, appuyez sur 1. "
        "Vous pouvez quitter à tout moment en appuyant sur dièse.",
        "vm-starmain": "Pour revenir au menu principal, appuyez sur étoile.",
        "vm-repeat": "Pour réécouter ce message, appuyez sur 5.",
        "vm-prev": "Pour le message précédent, appuyez sur 4.",
        "vm-next": "Pour le message suivant, appuyez sur 6.",
        "vm-delete": "Pour effacer ce message, appuyez sur 7.",
        "vm-deleted": "Message effacé.",
        "vm-undelete": "Pour récupérer ce message, appuyez sur 7.",
        "vm-undeleted": "Message récupéré.",
        "vm-toreply": "Pour répondre, appuyez sur 1.",
        "vm-tohearenv": "Pour entendre l'enveloppe du message, appuyez sur 3.",
        "vm-sorry": "Désolé, je n'ai pas compris votre réponse.",
        "vm-helpexit": "Pour l'aide, appuyez sur étoile. Pour quitter, appuyez sur dièse.",
        "vm-changeto": "Vers quel dossier?",
        "vm-savefolder": "Dans quel dossier dois-je enregistrer le message?",
        "vm-savedto": "enregistré dans",
        "vm-Family": "famille",
        "vm-Friends": "amis",
        "vm-Work": "travail",
        "vm-options": "Pour enregistrer votre message d'absence, appuyez sur 1. "
        "Pour votre message d'occupation, appuyez sur 2. "
        "Pour enregistrer votre nom, appuyez sur 3. "
        "Pour changer votre mot de passe, appuyez sur 5. "
        "Pour revenir au menu principal, appuyez sur étoile.",
        "vm-rec-unv": "Après le bip, dites votre message d'absence, puis appuyez sur dièse.",
        "vm-rec-busy": "Après le bip, dites votre message d'occupation, puis appuyez sur dièse.",
        "vm-rec-name": "Après le bip, dites votre nom, puis appuyez sur dièse.",
        "vm-newpassword": "Entrez votre nouveau mot de passe, suivi de dièse.",
        "vm-reenterpassword": "Entrez de nouveau votre mot de passe, suivi de dièse.",
        "vm-passchanged": "Votre mot de passe a été changé.",
        "vm-mismatch": "Les mots de passe ne correspondent pas.",
        "vm-advopts": "Pour les options avancées, appuyez sur 3.",
        "vm-savemessage": "Pour classer ce message, appuyez sur 9.",
        "vm-toforward": "Pour transférer ce message, appuyez sur 8.",
        "vm-duration": "durée",
        "vm-minutes": "minutes",
        "vm-for": "pour",
        "vm-tocancel": "ou appuyez sur dièse pour annuler.",
        "vm-extension": "Veuillez composer le numéro de poste, puis appuyez sur dièse.",
        "pbx-invalid": "Désolé, ce poste n'est pas valide. Veuillez réessayer.",
        "vm-forwardoptions": "Pour enregistrer une introduction avant le message, appuyez sur 1. "
        "Pour l'envoyer tel quel, appuyez sur 2.",
        "vm-msgforwarded": "Votre message a été transféré.",
        "vm-tocallback": "Pour rappeler la personne qui a laissé ce message, appuyez sur 2.",
        "vm-tomakecall": "Pour passer un appel, appuyez sur 4.",
        "vm-leavemsg": "Pour laisser un message, appuyez sur 5.",
        "vm-num-i-have": "Le numéro dont je dispose est le",
        "vm-tocallnum": "Pour appeler ce numéro, appuyez sur 1.",
        "vm-calldiffnum": "Pour appeler un autre numéro, appuyez sur 2.",
        "vm-star-cancel": "Pour annuler, appuyez sur étoile.",
        "vm-nonumber": "Désolé, je n'ai pas de numéro pour cet appelant.",
        "vm-toenternumber": "Pour composer un numéro, appuyez sur 2.",
        "vm-enter-num-to-call": "Veuillez composer le numéro à appeler,",
        "vm-then-pound": "puis appuyez sur dièse.",
        "vm-nobox": "Vous ne pouvez pas répondre à ce message : "
        "l'appelant n'a pas de boîte vocale.",
        "vm-rec-temp": "Après le bip, dites votre annonce temporaire, puis appuyez sur dièse.",
        "vm-tmpexists": "Vous avez une annonce temporaire.",
        "vm-tempgreeting2": "Pour ré-enregistrer votre annonce temporaire, appuyez sur 1. "
        "Pour la supprimer, appuyez sur 2.",
        "vm-tempremoved": "Votre annonce temporaire a été supprimée.",
        "vm-torerecord": "Pour ré-enregistrer, appuyez sur 3.",
        "vm-invalid-password": "Ce mot de passe n'est pas valide.",
        "vm-pls-try-again": "Veuillez réessayer.",
        **dict(
            zip(
                [f"digits/{n}" for n in range(21)],
                [
                    "zéro",
                    "un",
                    "deux",
                    "trois",
                    "quatre",
                    "cinq",
                    "six",
                    "sept",
                    "huit",
                    "neuf",
                    "dix",
                    "onze",
                    "douze",
                    "treize",
                    "quatorze",
                    "quinze",
                    "seize",
                    "dix-sept",
                    "dix-huit",
                    "dix-neuf",
                    "vingt",
                ],
                strict=True,
            )
        ),
        **dict(
            zip(
                [f"digits/{n}" for n in (30, 40, 50, 60, 80)],
                ["trente", "quarante", "cinquante", "soixante", "quatre-vingt"],
                strict=True,
            )
        ),
        "digits/hundred": "cent",
        "digits/thousand": "mille",
        "digits/million": "million",
        "digits/et": "et",
        "digits/1F": "une",
    },
}

Samples = npt.NDArray[np.int16]


def espeak_version() -> str:
    return (
        subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True)
        .stdout.split(" Data at:")[0]
        .strip()
    )


def speak(text: str, voice: str) -> Samples:
    """espeak-ng's 22 050 Hz 16-bit mono WAV of ``text`` as samples."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(SPEED), "-p", str(PITCH), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    # espeak-ng streams its WAV with unknown sizes: take everything after the data header.
    start = wav.index(b"data") + 8
    body = wav[start : len(wav) - (len(wav) - start) % 2]
    return np.frombuffer(body, dtype="<i2").astype(np.int16)


def resample(samples: Samples, rate_in: int, rate_out: int, taps: int = 32) -> Samples:
    """``samples`` at ``rate_out``: band-limited interpolation (Blackman-windowed sinc,
    cut-off 3.6 kHz) evaluated at each output instant."""
    x = samples.astype(np.float64)
    count = len(x) * rate_out // rate_in
    position = np.arange(count, dtype=np.float64) * rate_in / rate_out
    base = np.floor(position).astype(np.int64)
    cutoff = 3600.0 / rate_in
    out = np.zeros(count)
    for k in range(-taps + 1, taps + 1):
        index = base + k
        distance = position - index
        window = (
            0.42
            + 0.5 * np.cos(np.pi * distance / taps)
            + 0.08 * np.cos(2 * np.pi * distance / taps)
        )
        weight = 2 * cutoff * np.sinc(2 * cutoff * distance) * window
        valid = (index >= 0) & (index < len(x))
        out[valid] += weight[valid] * x[index[valid]]
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def shape(samples: Samples) -> Samples:
    """Trimmed to :data:`MARGIN` of silence at each end and scaled to :data:`PEAK`."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    if loud.size:
        margin = round(MARGIN * RATE)
        samples = samples[max(0, loud[0] - margin) : loud[-1] + margin + 1]
    samples = _shorten_pauses(samples)
    peak = int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0
    if peak:
        samples = np.round(samples.astype(np.float64) * (PEAK * 32767 / peak)).astype(np.int16)
    return samples


def _shorten_pauses(samples: Samples, frame: int = 80, keep: int = 20) -> Samples:
    """Pauses between sentences cut to ``keep`` frames of 10 ms (espeak-ng's are longer)."""
    frames = len(samples) // frame
    quiet = np.abs(samples[: frames * frame].astype(np.int32)).reshape(frames, frame).max(1) <= 300
    run = 0
    kept: list[Samples] = []
    for index in range(frames):
        run = run + 1 if quiet[index] else 0
        if run <= keep:
            kept.append(samples[index * frame : (index + 1) * frame])
    kept.append(samples[frames * frame :])
    return np.concatenate(kept)


def write_wav(path: Path, samples: Samples) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def generate(out: Path) -> list[str]:
    """Write the whole set under ``out``; the lines of ``PROMPTS.txt``."""
    lines = [
        "Switchboard built-in prompts: generated by scripts/make_prompts.py, do not edit.",
        f"{espeak_version()}; voices {VOICES}; speed {SPEED}; pitch {PITCH}; "
        "8000 Hz 16-bit mono WAV.",
        "",
    ]
    for language, voice in VOICES.items():
        texts = TEXTS[language]
        names = [*VOICEMAIL_PROMPTS, *NUMBER_PROMPTS[language]]
        lacking = [name for name in names if name not in texts]
        if lacking:
            raise SystemExit(f"make_prompts: no {language} text for {', '.join(lacking)}")
        for name in names:
            text = texts[name]
            samples = shape(resample(speak(text, voice), ESPEAK_RATE, RATE))
            write_wav(out / language / f"{name}.wav", samples)
            lines.append(f"{language}/{name}: {text}")
    (out / "PROMPTS.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed set differs")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("make_prompts: espeak-ng is missing (apt-get install espeak-ng)", file=sys.stderr)
        return 1
    if not args.check:
        for language in VOICES:
            shutil.rmtree(OUT / language, ignore_errors=True)
        generate(OUT)
        total = sum(path.stat().st_size for path in OUT.rglob("*.wav"))
        print(f"wrote {len(list(OUT.rglob('*.wav')))} files, {total / 1e6:.2f} MB, under {OUT}")
        return 0
    with tempfile.TemporaryDirectory() as temporary:
        fresh = Path(temporary)
        generate(fresh)
        differ = [
            str(path.relative_to(fresh))
            for path in sorted(fresh.rglob("*"))
            if path.is_file()
            and not (
                (OUT / path.relative_to(fresh)).is_file()
                and filecmp.cmp(path, OUT / path.relative_to(fresh), shallow=False)
            )
        ]
    if differ:
        print(
            f"make_prompts: {len(differ)} files differ: {', '.join(differ[:10])}", file=sys.stderr
        )
        return 1
    print("make_prompts: the committed set is what the script makes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
