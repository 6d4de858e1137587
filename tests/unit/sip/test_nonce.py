"""Stateless nonces and nonce-count tracking: freshness, forgery, rotation, replay, bounds."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sip.nonce import (
    NONCE_LIFETIME,
    NcStatus,
    NonceCountTracker,
    NonceFactory,
    NonceStatus,
)

SECRET = b"k" * 32
OTHER_SECRET = b"o" * 32
SALT = bytes(range(8))
REALM = "switchboard"
T0 = 1_790_000_000.0


@pytest.fixture
def factory() -> NonceFactory:
    return NonceFactory(SECRET)


def test_issued_nonce_is_valid_for_the_same_realm_and_bind(factory: NonceFactory) -> None:
    nonce = factory.issue(T0, SALT, REALM, b"192.0.2.1")
    assert factory.check(nonce, T0, REALM, b"192.0.2.1") is NonceStatus.VALID


def test_nonce_is_32_url_safe_characters_that_need_no_escaping(factory: NonceFactory) -> None:
    nonce = factory.issue(T0, SALT, REALM)
    assert len(nonce) == 32
    assert set(nonce) <= set(string.ascii_letters + string.digits + "-_")


def test_another_process_with_the_same_secret_accepts_the_nonce() -> None:
    nonce = NonceFactory(SECRET).issue(T0, SALT, REALM)
    assert NonceFactory(SECRET).check(nonce, T0 + 1, REALM) is NonceStatus.VALID


def test_distinct_salts_make_distinct_nonces(factory: NonceFactory) -> None:
    assert factory.issue(T0, SALT, REALM) != factory.issue(T0, bytes(8), REALM)


def test_nonce_stays_valid_for_its_lifetime_then_turns_stale(factory: NonceFactory) -> None:
    nonce = factory.issue(T0, SALT, REALM)
    assert factory.check(nonce, T0 + NONCE_LIFETIME, REALM) is NonceStatus.VALID
    assert factory.check(nonce, T0 + NONCE_LIFETIME + 1, REALM) is NonceStatus.STALE


def test_lifetime_is_configurable() -> None:
    factory = NonceFactory(SECRET, lifetime=300)
    nonce = factory.issue(T0, SALT, REALM)
    assert factory.check(nonce, T0 + 299, REALM) is NonceStatus.VALID
    assert factory.check(nonce, T0 + 301, REALM) is NonceStatus.STALE


def test_nonce_from_the_future_is_accepted_within_skew_only(factory: NonceFactory) -> None:
    nonce = factory.issue(T0, SALT, REALM)
    assert factory.check(nonce, T0 - 5, REALM) is NonceStatus.VALID
    assert factory.check(nonce, T0 - 6, REALM) is NonceStatus.INVALID


@pytest.mark.parametrize(
    ("realm", "bind", "secret"),
    [
        ("other-realm", b"", SECRET),
        (REALM, b"198.51.100.7", SECRET),
        (REALM, b"", OTHER_SECRET),
    ],
)
def test_nonce_for_another_realm_bind_or_secret_is_invalid(
    realm: str, bind: bytes, secret: bytes
) -> None:
    nonce = NonceFactory(SECRET).issue(T0, SALT, REALM)
    assert NonceFactory(secret).check(nonce, T0, realm, bind) is NonceStatus.INVALID


def test_previous_secret_is_accepted_during_rotation() -> None:
    old = NonceFactory(OTHER_SECRET).issue(T0, SALT, REALM)
    rotated = NonceFactory(SECRET, previous_secrets=[OTHER_SECRET])
    assert rotated.check(old, T0, REALM) is NonceStatus.VALID
    new = rotated.issue(T0, SALT, REALM)
    assert NonceFactory(SECRET).check(new, T0, REALM) is NonceStatus.VALID


def test_every_single_character_change_is_detected(factory: NonceFactory) -> None:
    nonce = factory.issue(T0, SALT, REALM)
    for i, char in enumerate(nonce):
        for replacement in {"A", "B", "_", "-", "=", "!", "é"} - {char}:
            forged = nonce[:i] + replacement + nonce[i + 1 :]
            assert factory.check(forged, T0, REALM) is NonceStatus.INVALID, forged


@pytest.mark.parametrize(
    "nonce",
    [
        "",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "1700000000/0123456789abcdef0123456789abcdef",
        "!" * 32,
        "A" * 31,
        "A" * 33,
        "A" * 30 + "==",
        "é" * 32,
        "A" * 32,
    ],
)
def test_foreign_or_malformed_nonce_is_invalid(factory: NonceFactory, nonce: str) -> None:
    assert factory.check(nonce, T0, REALM) is NonceStatus.INVALID


@given(st.text(max_size=64))
def test_check_never_raises(nonce: str) -> None:
    assert NonceFactory(SECRET).check(nonce, T0, REALM) in set(NonceStatus)


def test_opaque_is_stable_per_realm_and_hides_the_secret(factory: NonceFactory) -> None:
    assert factory.make_opaque(REALM) == NonceFactory(SECRET).make_opaque(REALM)
    assert factory.make_opaque(REALM) != factory.make_opaque("other")
    assert SECRET.hex() not in factory.make_opaque(REALM)


@pytest.mark.parametrize(
    ("secret", "lifetime", "message"),
    [
        (b"short", NONCE_LIFETIME, "at least 16 bytes"),
        (SECRET, 0, "positive nonce lifetime"),
    ],
)
def test_factory_rejects_weak_configuration(secret: bytes, lifetime: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NonceFactory(secret, lifetime=lifetime)


def test_short_previous_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        NonceFactory(SECRET, previous_secrets=[b"x"])


@pytest.mark.parametrize(("now", "salt"), [(T0, b"short"), (-1.0, SALT), (2.0**32, SALT)])
def test_issue_rejects_bad_salt_or_clock(factory: NonceFactory, now: float, salt: bytes) -> None:
    with pytest.raises(ValueError, match="expected"):
        factory.issue(now, salt, REALM)


# --- nonce-count tracking -------------------------------------------------------------------


def test_increasing_nc_is_accepted_and_reuse_or_lower_is_replay() -> None:
    tracker = NonceCountTracker()
    assert tracker.advance("n", 1, T0) is NcStatus.ACCEPTED
    assert tracker.advance("n", 2, T0) is NcStatus.ACCEPTED
    assert tracker.advance("n", 2, T0) is NcStatus.REPLAYED
    assert tracker.advance("n", 1, T0) is NcStatus.REPLAYED
    assert tracker.advance("n", 7, T0) is NcStatus.ACCEPTED
    assert tracker.advance("n", 6, T0) is NcStatus.REPLAYED


def test_nonces_are_tracked_independently() -> None:
    tracker = NonceCountTracker()
    assert tracker.advance("a", 1, T0) is NcStatus.ACCEPTED
    assert tracker.advance("b", 1, T0) is NcStatus.ACCEPTED
    assert len(tracker) == 2


def test_unknown_nonce_is_accepted_only_from_nc_1() -> None:
    tracker = NonceCountTracker()
    assert tracker.advance("n", 3, T0) is NcStatus.UNTRACKED
    assert len(tracker) == 0


def test_table_is_bounded_and_evicts_least_recently_used() -> None:
    tracker = NonceCountTracker(max_entries=2)
    tracker.advance("a", 1, T0)
    tracker.advance("b", 1, T0)
    tracker.advance("a", 2, T0)  # a is now the most recently used
    tracker.advance("c", 1, T0)  # evicts b
    assert len(tracker) == 2
    assert tracker.advance("b", 2, T0) is NcStatus.UNTRACKED
    assert tracker.advance("a", 3, T0) is NcStatus.ACCEPTED


def test_entries_expire_with_the_nonce() -> None:
    tracker = NonceCountTracker(lifetime=32)
    tracker.advance("a", 1, T0)
    tracker.advance("b", 1, T0 + 10)
    tracker.advance("c", 1, T0 + 33)
    assert len(tracker) == 2
    tracker.advance("d", 1, T0 + 43)
    assert len(tracker) == 2


def test_tracker_rejects_empty_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        NonceCountTracker(max_entries=0)


@given(st.lists(st.integers(min_value=1, max_value=20), max_size=40))
def test_accepted_counts_strictly_increase(counts: list[int]) -> None:
    tracker = NonceCountTracker()
    accepted = [nc for nc in counts if tracker.advance("n", nc, T0) is NcStatus.ACCEPTED]
    assert accepted == sorted(set(accepted))
    if accepted:
        assert accepted[0] == 1
