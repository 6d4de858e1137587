"""The reordering jitter buffer: order, depth, loss as None, late, duplicates, resync, wrap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from switchboard.media.jitter import JitterBuffer


def frame(index: int) -> bytes:
    return bytes((index & 0xFF,)) * 4


def feed(buffer: JitterBuffer, indexes: list[int], base: int = 1000) -> list[bytes | None]:
    out: list[bytes | None] = []
    for index in indexes:
        out += buffer.put((base + 160 * index) & 0xFFFFFFFF, frame(index))
    return out


def test_in_order_frames_come_out_depth_frames_behind() -> None:
    buffer = JitterBuffer(depth=3)
    assert feed(buffer, [0, 1, 2]) == []
    assert feed(buffer, [3]) == [frame(0)]
    assert feed(buffer, [4, 5]) == [frame(1), frame(2)]
    assert buffer.flush() == [frame(3), frame(4), frame(5)]
    assert buffer.flush() == []


def test_reordering_within_the_depth_is_undone() -> None:
    buffer = JitterBuffer(depth=3)
    out = feed(buffer, [0, 2, 1, 3, 5, 4, 6, 7, 8])
    assert out + buffer.flush() == [frame(i) for i in range(9)]


def test_loss_comes_out_as_none() -> None:
    buffer = JitterBuffer(depth=2)
    out = feed(buffer, [0, 1, 3, 4, 8])
    assert out + buffer.flush() == [
        frame(0),
        frame(1),
        None,
        frame(3),
        frame(4),
        None,
        None,
        None,
        frame(8),
    ]


def test_late_and_duplicate_frames_are_dropped() -> None:
    buffer = JitterBuffer(depth=1)
    assert feed(buffer, [0, 1, 2]) == [frame(0), frame(1)]
    assert feed(buffer, [0]) == []
    assert buffer.late == 1
    assert feed(buffer, [2]) == []
    assert buffer.duplicates == 1


def test_before_the_first_release_an_earlier_frame_moves_the_start() -> None:
    buffer = JitterBuffer(depth=3, max_gap=5)
    assert feed(buffer, [10, 9]) == []
    assert buffer.put(1000 + 160 * 9 - 80, b"off-grid") == []
    assert feed(buffer, [2]) == []  # more than max_gap earlier
    assert buffer.late == 2
    assert feed(buffer, [11, 12, 13]) == [frame(9), frame(10)]


def test_a_big_jump_releases_everything_and_restarts() -> None:
    buffer = JitterBuffer(depth=3, max_gap=10)
    assert feed(buffer, [0, 1]) == []
    assert feed(buffer, [100]) == [frame(0), frame(1)]
    assert buffer.resyncs == 1
    assert feed(buffer, [101, 102, 103]) == [frame(100)]


def test_timestamps_off_the_frame_grid_realign() -> None:
    buffer = JitterBuffer(depth=2)
    feed(buffer, [0, 1])
    assert buffer.put(1000 + 160 * 2 + 80, b"x") == [frame(0), frame(1)]
    assert buffer.resyncs == 1
    assert buffer.put(1000 + 160 * 3 + 80, b"y") == []
    assert buffer.put(1000 + 160 * 4 + 80, b"z") == [b"x"]


def test_timestamp_wrap() -> None:
    buffer = JitterBuffer(depth=2)
    out = feed(buffer, list(range(6)), base=0xFFFFFFFF - 160 * 2)
    assert out + buffer.flush() == [frame(i) for i in range(6)]


@given(st.lists(st.booleans(), min_size=1, max_size=60), st.sets(st.integers(0, 59)))
def test_adjacent_swaps_and_losses_come_out_in_order(swaps: list[bool], lost: set[int]) -> None:
    order = list(range(len(swaps)))
    for index, swap in enumerate(swaps[:-1]):
        if swap and order[index] == index:
            order[index], order[index + 1] = order[index + 1], order[index]
    sent = [index for index in order if index not in lost]
    buffer = JitterBuffer(depth=3)
    out = feed(buffer, sent) + buffer.flush()
    expected = [
        frame(i) if i not in lost else None
        for i in range(min(sent, default=0), max(sent, default=-1) + 1)
    ]
    assert out == expected
    assert buffer.late == 0
