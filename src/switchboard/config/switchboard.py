"""switchboard.conf: settings Asterisk has no file for (it leaves them to fail2ban and
log regexes). Optional; every option has a safe default.

::

    [security]
    ban_threshold = 10      ; offences (failed authentications, unknown users, malformed
    ban_window = 60         ;  messages) from one address within this many seconds ...
    ban_time = 300          ; ... ban it for this long, doubled for each repeat ...
    ban_max = 86400         ; ... up to this
    trusted = 10.0.0.0/8    ; never banned (repeatable; local_net of transports too)
    unauth_rate = 50        ; requests per second one address may send before it has
                            ;  authenticated once; beyond that they are dropped
    max_connections = 32    ; open TCP/TLS connections from one address
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from switchboard.config.ini import ConfigFile
from switchboard.config.objects import ConfigObject, ObjectSpec, load_single_section
from switchboard.config.values import to_int, to_list, to_network
from switchboard.diagnostics import Diagnostics, Location

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(current: object, _option: str, text: str) -> tuple[Network, ...]:
    """trusted= may be repeated; each line may list several networks."""
    assert isinstance(current, tuple)
    return (*current, *(to_network(part) for part in to_list(text)))


@dataclass(slots=True)
class SecurityConfig(ConfigObject):
    ban_threshold: int = 10
    ban_window: int = 60
    ban_time: int = 300
    ban_max: int = 86400
    trusted: tuple[Network, ...] = ()
    unauth_rate: int = 50
    max_connections: int = 32


SECURITY = ObjectSpec(
    "security",
    SecurityConfig,
    {
        "ban_threshold": to_int(1, 100000),
        "ban_window": to_int(1, 86400),
        "ban_time": to_int(0, 31536000),
        "ban_max": to_int(0, 31536000),
        "unauth_rate": to_int(1, 1000000),
        "max_connections": to_int(1, 100000),
    },
    {"trusted": ("trusted", _trusted)},
)


def default_security() -> SecurityConfig:
    return SecurityConfig("security", Location("switchboard.conf", 0))


def load_switchboard(conf: ConfigFile | None, diags: Diagnostics) -> SecurityConfig:
    """switchboard.conf is optional: without it every setting has its default."""
    if conf is None:
        return default_security()
    return load_single_section(conf, "security", SECURITY, default_security(), diags)
