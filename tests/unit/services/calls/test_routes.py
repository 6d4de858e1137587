"""The engine's cache of our source address towards each phone (``bind=0.0.0.0``)."""

from __future__ import annotations

from switchboard.services.calls.engine import ROUTE_CACHE_SIZE, RouteCache


class Routes:
    """A kernel route table that counts the look-ups, and a clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.source = "192.0.2.1"
        self.asked: list[str] = []

    def lookup(self, host: str) -> str:
        self.asked.append(host)
        return self.source


def test_a_host_is_looked_up_once_per_ttl() -> None:
    routes = Routes()
    cache = RouteCache(routes.lookup, lambda: routes.now, ttl=10.0)
    assert cache.source_for("198.51.100.7") == "192.0.2.1"
    routes.source = "192.0.2.99"  # the route changed
    routes.now += 9.9
    assert cache.source_for("198.51.100.7") == "192.0.2.1"
    assert cache.source_for("203.0.113.5") == "192.0.2.99"
    assert routes.asked == ["198.51.100.7", "203.0.113.5"]
    routes.now += 0.1
    assert cache.source_for("198.51.100.7") == "192.0.2.99"
    assert routes.asked == ["198.51.100.7", "203.0.113.5", "198.51.100.7"]


def test_the_cache_is_bounded() -> None:
    routes = Routes()
    cache = RouteCache(routes.lookup, lambda: routes.now)
    for index in range(ROUTE_CACHE_SIZE + 1):
        cache.source_for(f"10.0.{index // 256}.{index % 256}")
    assert cache.source_for("10.0.0.0") == "192.0.2.1"
    assert len(routes.asked) == ROUTE_CACHE_SIZE + 2
