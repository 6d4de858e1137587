"""Visual voicemail through the API: a message left in the spool (Asterisk's layout, G.711
only) is listed with its metadata, downloaded as a WAV that holds its tone, marked heard,
deleted; a greeting is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.api_client import api_server
from tests.e2e.audio import encode_g711, read_wav, tone, tone_seconds, write_tone_wav

pytestmark = pytest.mark.e2e

MESSAGE_TXT = """;
; Message Information file
;
[message]
origmailbox=101
context=from-internal
macrocontext=
exten=101
rdnis=unknown
priority=2
callerchan=PJSIP/bob-00000001
callerid="Bob" <bob>
origdate=Fri Nov 27 09:15:00 AM UTC 2026
origtime=1795770900
category=
msg_id=1795770900-00000000
flag=
duration=2
"""


def test_a_message_is_listed_downloaded_as_wav_heard_and_deleted(tmp_path: Path) -> None:
    with api_server(tmp_path) as api:
        inbox = tmp_path / "state" / "voicemail" / "default" / "101" / "INBOX"
        inbox.mkdir(parents=True)
        (inbox / "msg0000.ulaw").write_bytes(encode_g711(tone(1000, 2.0), "ulaw"))
        (inbox / "msg0000.txt").write_text(MESSAGE_TXT)
        boxes = {b["mailbox"]: b for b in api.client.get("/api/voicemail").json()}
        assert (boxes["101@default"]["new"], boxes["101@default"]["old"]) == (1, 0)
        assert "1234" not in str(boxes)  # PINs never leave the server
        [message] = api.client.get("/api/voicemail/101@default/messages").json()
        assert message["callerid"] == '"Bob" <bob>' and message["duration"] == 2
        msg_id = message["msg_id"]
        wav = api.client.get(f"/api/voicemail/101@default/messages/INBOX/{msg_id}.wav")
        assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
        path = tmp_path / "downloaded.wav"
        path.write_bytes(wav.content)
        samples, rate = read_wav(path)
        assert rate == 8000 and len(samples) == 16000
        assert tone_seconds(path, 1000) >= 1.8
        heard = api.client.post(f"/api/voicemail/101@default/messages/INBOX/{msg_id}/heard")
        assert heard.status_code == 200, heard.text
        assert api.client.get("/api/voicemail/101@default/messages").json() == []
        [old] = api.client.get("/api/voicemail/101@default/messages?folder=Old").json()
        assert old["msg_id"] == msg_id
        gone = api.client.delete(f"/api/voicemail/101@default/messages/Old/{msg_id}")
        assert gone.status_code == 200
        assert api.client.get("/api/voicemail/101@default/messages?folder=Old").json() == []
        again = api.client.delete(f"/api/voicemail/101@default/messages/Old/{msg_id}")
        assert again.status_code == 404 and "error" in again.json()
        assert api.client.get("/api/voicemail/999@default/messages").status_code == 404
        assert api.client.get("/api/voicemail/101@default/messages?folder=Junk").status_code == 404


def test_a_greeting_is_uploaded_in_every_spool_format(tmp_path: Path) -> None:
    with api_server(tmp_path) as api:
        greeting = write_tone_wav(tmp_path / "greeting.wav", 440, 1.5)
        url = "/api/voicemail/102@default/greetings/unavail"
        put = api.client.put(url, content=greeting.read_bytes())
        assert put.status_code == 200, put.text
        box = tmp_path / "state" / "voicemail" / "default" / "102"
        assert sorted(p.name for p in box.glob("unavail.*")) == [
            "unavail.WAV",
            "unavail.gsm",
            "unavail.ulaw",
            "unavail.wav",
        ]
        assert tone_seconds(box / "unavail.wav", 440) >= 1.3
        bad = api.client.put(url, content=b"not a wav")
        assert bad.status_code == 400 and bad.json()["error"].startswith("expected an 8 kHz")
        wrong = api.client.put("/api/voicemail/102@default/greetings/funny", content=b"")
        assert wrong.status_code == 404
