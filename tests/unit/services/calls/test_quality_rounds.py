"""The quality reporter's rounds: every call once per interval, spread over its ticks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switchboard.services.calls.quality import Rounds


@given(st.integers(0, 2000), st.integers(1, 60))
def test_a_round_visits_every_key_once_in_even_shares(count: int, slices: int) -> None:
    keys = [f"PJSIP/c-{n}" for n in range(count)]
    rounds = Rounds(slices)
    shares = [rounds.due(lambda: list(keys)) for _ in range(slices)]
    assert [key for share in shares for key in share] == keys
    assert max(len(share) for share in shares) <= -(-count // slices)


def test_keys_that_come_during_a_round_wait_for_the_next() -> None:
    keys = ["a", "b", "c", "d"]
    rounds = Rounds(4)
    assert rounds.due(lambda: list(keys)) == ["a"]
    keys.append("e")
    assert [rounds.due(lambda: list(keys)) for _ in range(3)] == [["b"], ["c"], ["d"]]
    second = [rounds.due(lambda: list(keys)) for _ in range(4)]
    assert [key for share in second for key in share] == ["a", "b", "c", "d", "e"]


def test_the_channels_of_500_calls_are_reported_20_a_tick() -> None:
    """What the engine's reporter does with its defaults: 1,000 channels, 50 ticks."""
    names = [f"PJSIP/c-{n}" for n in range(1000)]
    rounds = Rounds(50)
    assert {len(rounds.due(lambda: names)) for _ in range(50)} == {20}
