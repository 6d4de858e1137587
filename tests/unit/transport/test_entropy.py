"""The batched random pool: slices never overlap, refills when used up, any size served."""

from switchboard.transport.entropy import RandomPool


def test_slices_are_consecutive_parts_of_one_os_read() -> None:
    pool = RandomPool(size=64)
    first, second = pool.take(8), pool.take(8)
    assert len(first) == len(second) == 8
    assert first + second == pool._buffer[:16]


def test_a_used_up_buffer_is_replaced_not_reused() -> None:
    pool = RandomPool(size=16)
    old = pool.take(12)
    old_buffer = pool._buffer
    new = pool.take(8)
    assert pool._buffer is not old_buffer
    assert new == pool._buffer[:8]
    assert old == old_buffer[:12]


def test_a_request_larger_than_the_batch_is_served_whole() -> None:
    pool = RandomPool(size=4)
    assert len(pool.take(10)) == 10


def test_hex_gives_two_digits_per_byte_and_values_differ() -> None:
    pool = RandomPool()
    tags = {pool.hex(4) for _ in range(1000)}
    assert len(tags) == 1000
    assert all(len(tag) == 8 and int(tag, 16) >= 0 for tag in tags)
