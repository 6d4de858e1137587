"""Micro-benchmark of digest verification (parse, nonce check, hash, nc tracking) on one core.

Each verification is a first authenticated REGISTER: a fresh nonce, nc=00000001, so the
HMAC nonce check and the nc tracker insert are always paid. The baseline is the bare
``hashlib.md5`` of the same three strings (A1, A2, KD) measured in the same run, so the
last line is a machine-independent ratio. Target: well under 50 us per verification
(3,000 authenticated registrations/s leave the rest of the core to SIP and the registrar).

Run: ``PYTHONPATH=src python bench/digest.py [--count N]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from switchboard.sip.digest import (
    Authenticator,
    DigestAlgorithm,
    DigestCredentials,
    DigestSecret,
    compute_ha1,
    compute_response,
    format_credentials,
    parse_credentials,
)

REALM = "switchboard"
URI = "sip:switchboard"
METHOD = "REGISTER"
NOW = 1_790_000_000.0
CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
REPEATS = 5


Run = Callable[[], int]


def best_rates(runs: dict[str, Run], repeats: int = REPEATS) -> dict[str, float]:
    """Return each run's best operations/s, interleaving runs so machine noise hits all alike."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            done = run()
            best[name] = max(best[name], done / (time.perf_counter() - start))
    return best


def make_requests(
    auth: Authenticator, algorithm: DigestAlgorithm, count: int
) -> tuple[list[str], list[DigestCredentials], list[DigestSecret]]:
    """Return ``count`` Authorization values, parsed credentials and secrets, one per user."""
    values: list[str] = []
    parsed: list[DigestCredentials] = []
    secrets: list[DigestSecret] = []
    for i in range(count):
        user, password = f"user{i:05d}", f"secret-{i:05d}-pw"
        nonce = auth.nonces.issue(NOW, os.urandom(8), REALM)
        ha1 = compute_ha1(algorithm, user, REALM, password)
        response = compute_response(
            algorithm, ha1, nonce, METHOD, URI, qop="auth", nc="00000001", cnonce=CNONCE
        )
        value = format_credentials(
            DigestCredentials(
                username=user,
                realm=REALM,
                nonce=nonce,
                uri=URI,
                response=response,
                algorithm=algorithm.value,
                cnonce=CNONCE,
                qop="auth",
                nc="00000001",
                opaque=auth.opaque(REALM),
            )
        )
        values.append(value)
        parsed.append(parse_credentials(value))
        secrets.append(DigestSecret(password=password))
    return values, parsed, secrets


def bench_verify(algorithm: DigestAlgorithm, count: int, *, parse: bool) -> Run:
    """Prepare a run of verifications for ``algorithm``, optionally including the header parse."""
    secret = os.urandom(32)
    probe = Authenticator(secret)
    values, parsed, secrets = make_requests(probe, algorithm, count)
    pairs = list(zip(values, parsed, secrets, strict=True))

    def run() -> int:
        auth = Authenticator(secret)  # a fresh nc table each round: every nc=1 is new
        verify = auth.verify
        if parse:
            for value, _, user_secret in pairs:
                result = verify(METHOD, parse_credentials(value), user_secret, REALM, NOW + 1)
                assert result.ok, result
        else:
            for _, credentials, user_secret in pairs:
                result = verify(METHOD, credentials, user_secret, REALM, NOW + 1)
                assert result.ok, result
        return count

    return run


def bench_bare_md5(count: int) -> Run:
    """Prepare a run of the bare hashlib.md5 work a verification needs (A1, A2, KD strings)."""
    md5 = hashlib.md5
    strings = []
    for i in range(count):
        a1 = f"user{i:05d}:{REALM}:secret-{i:05d}-pw".encode()
        a2 = f"{METHOD}:{URI}".encode()
        ha1, ha2 = md5(a1).hexdigest(), md5(a2).hexdigest()
        kd = f"{ha1}:{'x' * 32}:00000001:{CNONCE}:auth:{ha2}".encode()
        strings.append((a1, a2, kd))

    def run() -> int:
        for a1, a2, kd in strings:
            md5(a1).hexdigest()
            md5(a2).hexdigest()
            md5(kd).hexdigest()
        return count

    return run


def bench_challenge(count: int) -> Run:
    """Prepare a run of challenges: a fresh nonce and the SHA-256 + MD5 header values."""
    auth = Authenticator(os.urandom(32))
    salts = [os.urandom(8) for _ in range(count)]

    def run() -> int:
        challenge = auth.challenge
        for salt in salts:
            challenge(REALM, NOW, salt)
        return count

    return run


def bench_parse(count: int) -> Run:
    """Prepare a run of Authorization header parses."""
    values, _, _ = make_requests(Authenticator(os.urandom(32)), DigestAlgorithm.SHA_256, count)

    def run() -> int:
        for value in values:
            parse_credentials(value)
        return count

    return run


def main() -> None:
    """Print each figure as ``name: value unit`` and the baseline ratio last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="requests per round")
    count = parser.parse_args().count

    rates = best_rates(
        {
            "md5": bench_verify(DigestAlgorithm.MD5, count, parse=False),
            "bare": bench_bare_md5(count),
            "sha256": bench_verify(DigestAlgorithm.SHA_256, count, parse=False),
            "sha256_parsed": bench_verify(DigestAlgorithm.SHA_256, count, parse=True),
            "parses": bench_parse(count),
            "challenges": bench_challenge(count),
        }
    )
    md5, sha256, sha256_parsed = rates["md5"], rates["sha256"], rates["sha256_parsed"]
    parses, challenges, bare = rates["parses"], rates["challenges"], rates["bare"]
    print(f"verify_md5: {md5:,.0f} verifications/s")
    print(f"verify_md5_cost: {1e6 / md5:.1f} us")
    print(f"verify_sha256: {sha256:,.0f} verifications/s")
    print(f"verify_sha256_cost: {1e6 / sha256:.1f} us")
    print(f"parse_and_verify_sha256: {sha256_parsed:,.0f} verifications/s")
    print(f"parse_authorization: {parses:,.0f} parses/s")
    print(f"challenge_sha256_md5: {challenges:,.0f} challenges/s")
    print(f"bare_hashlib_md5_x3: {bare:,.0f} sets/s")
    print(f"ratio_verify_md5_to_bare_md5: {bare / md5:.1f} x slower")


if __name__ == "__main__":
    main()
