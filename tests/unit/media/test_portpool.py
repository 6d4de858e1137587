"""The RTP port pool: even ports with RTCP above, round-robin reuse, busy ports, exhaustion."""

from __future__ import annotations

import random
import socket

import pytest

from switchboard.config.rtp import default_rtp
from switchboard.media.portpool import PortPool, PortPoolExhaustedError


def free_range(pairs: int) -> int:
    """An even start port whose next ``2 * pairs`` ports look free right now."""
    for _ in range(200):
        start = random.randrange(20000, 60000, 2)
        probes = []
        try:
            for port in range(start, start + 2 * pairs):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return start
    raise AssertionError("no free UDP port range found")


def test_allocates_even_rtp_port_with_rtcp_above_and_both_bound() -> None:
    start = free_range(4)
    pool = PortPool(start, start + 8, "127.0.0.1")
    pair = pool.allocate()
    try:
        assert pair.port == start
        assert pair.port % 2 == 0
        assert pair.rtcp_port == start + 1
        assert pair.rtp.getsockname() == ("127.0.0.1", start)
        assert pair.rtcp.getsockname() == ("127.0.0.1", start + 1)
        assert pool.in_use == 1
    finally:
        pool.release(pair)
    assert pool.in_use == 0


def test_odd_rtpstart_is_rounded_up_and_rtpend_holds_the_last_rtcp_port() -> None:
    start = free_range(2)
    pool = PortPool(start - 1, start + 3, "127.0.0.1")
    pairs = [pool.allocate(), pool.allocate()]
    assert [pair.port for pair in pairs] == [start, start + 2]
    with pytest.raises(PortPoolExhaustedError):
        pool.allocate()
    for pair in pairs:
        pool.release(pair)


def test_released_port_is_not_reused_at_once() -> None:
    start = free_range(3)
    pool = PortPool(start, start + 6, "127.0.0.1")
    first = pool.allocate()
    pool.release(first)
    second = pool.allocate()
    third = pool.allocate()
    assert first.port not in (second.port, third.port)
    pool.release(second)
    pool.release(third)
    assert sorted(pool.allocate().port for _ in range(3)) == [start, start + 2, start + 4]


def test_a_pair_taken_by_another_program_is_skipped() -> None:
    start = free_range(2)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind(("127.0.0.1", start + 1))  # only the RTCP port of the first pair
    try:
        pool = PortPool(start, start + 4, "127.0.0.1")
        pair = pool.allocate()
        assert pair.port == start + 2
        with pytest.raises(PortPoolExhaustedError, match="1 taken by other programs"):
            pool.allocate()
        pool.release(pair)
    finally:
        squatter.close()


def test_exhaustion_names_the_range_and_release_makes_room() -> None:
    start = free_range(1)
    pool = PortPool(start, start + 2, "127.0.0.1")
    pair = pool.allocate()
    with pytest.raises(PortPoolExhaustedError, match=f"rtpstart={start} rtpend={start + 2}"):
        pool.allocate()
    pool.release(pair)
    again = pool.allocate()
    assert again.port == start
    pool.release(again)


def test_ipv6_pairs_bind_on_ipv6() -> None:
    start = free_range(1)
    pool = PortPool(start, start + 2, "::1")
    try:
        pair = pool.allocate()
    except PortPoolExhaustedError:
        pytest.skip("no IPv6 loopback on this machine")
    assert pair.rtp.family == socket.AF_INET6
    assert pair.rtp.getsockname()[:2] == ("::1", start)
    pool.release(pair)


def test_from_config_uses_rtp_conf_range() -> None:
    config = default_rtp()
    pool = PortPool.from_config(config)
    assert (pool.rtpstart, pool.rtpend) == (5000, 31000)
    assert pool.available == config.port_count


def test_a_range_without_a_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="room for one port pair"):
        PortPool(10000, 10000)
