"""Console session cookies: what is signed comes back, anything else is refused."""

from __future__ import annotations

from switchboard.api.sessions import Session, SessionSigner


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_issued_session_verifies_until_it_expires() -> None:
    clock = Clock()
    signer = SessionSigner(b"k" * 32, clock, lifetime=60)
    value = signer.issue("user", "101@default")
    assert signer.verify(value) == Session("user", "101@default", 0.0, 1060.0)
    clock.now = 1059.9
    assert signer.verify(value) is not None
    clock.now = 1060.0
    assert signer.verify(value) is None


def test_another_key_a_changed_payload_or_junk_is_refused() -> None:
    clock = Clock()
    signer = SessionSigner(b"k" * 32, clock)
    value = signer.issue("admin", "ops", 5.0)
    assert SessionSigner(b"j" * 32, clock).verify(value) is None
    payload, signature = value.split(".")
    forged = SessionSigner(b"j" * 32, clock).issue("admin", "root").split(".")[0]
    assert signer.verify(f"{forged}.{signature}") is None
    assert signer.verify(f"{payload}.{signature[:-2]}") is None
    for junk in ("", None, ".", "a.b.c", "x" * 5000, "!!!.???"):
        assert signer.verify(junk) is None


def test_a_signed_but_malformed_payload_is_refused() -> None:
    clock = Clock()
    signer = SessionSigner(b"k" * 32, clock)
    for payload in ("bm90IGpzb24", "WyJyb290IiwgIngiLCAwLCA5OTk5OTk5OTk5XQ", "W10"):
        assert signer.verify(f"{payload}.{signer._sign(payload)}") is None
