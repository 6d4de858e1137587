"""http.conf [general]: where the REST API, live events and metrics listen (Asterisk's
built-in HTTP server file). Optional; without it, or with ``enabled=no``, no HTTP server runs.

::

    [general]
    enabled = yes
    bindaddr = 127.0.0.1
    bindport = 8088
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from switchboard.config.ini import ConfigFile
from switchboard.config.objects import ConfigObject, ObjectSpec, load_single_section
from switchboard.config.values import to_bool, to_int
from switchboard.diagnostics import Diagnostics, Location

HTTP_ASTERISK_OPTIONS: frozenset[str] = frozenset(
    {
        "enablestatic",
        "prefix",
        "redirect",
        "servername",
        "session_inactivity",
        "session_keep_alive",
        "sessionlimit",
        "tlsbindaddr",
        "tlscertfile",
        "tlscipher",
        "tlsdisablev1",
        "tlsdisablev11",
        "tlsdisablev12",
        "tlsenable",
        "tlsprivatekey",
        "tlsservercipherorder",
    }
)
"""http.conf [general] options Asterisk knows that Switchboard does not act on."""


def _address(text: str) -> str:
    """A literal IPv4 or IPv6 address (Asterisk's bindaddr takes no host name)."""
    try:
        return str(ipaddress.ip_address(text.strip().strip("[]")))
    except ValueError:
        raise ValueError(f"expected an IP address, found {text!r}") from None


@dataclass(slots=True)
class HttpConfig(ConfigObject):
    """Whether and where the HTTP server listens (Asterisk's defaults: off, port 8088)."""

    enabled: bool = False
    bindaddr: str = "127.0.0.1"
    bindport: int = 8088


HTTP = ObjectSpec(
    "http",
    HttpConfig,
    {"enabled": to_bool, "bindaddr": _address, "bindport": to_int(1, 65535)},
    {},
    HTTP_ASTERISK_OPTIONS,
)


def default_http() -> HttpConfig:
    return HttpConfig("general", Location("http.conf", 0))


def load_http(conf: ConfigFile | None, diags: Diagnostics) -> HttpConfig:
    """http.conf is optional: without it the HTTP server stays off, as in Asterisk."""
    if conf is None:
        return default_http()
    result = load_single_section(
        conf, "general", HTTP, default_http(), diags, ignored=("post_mappings",)
    )
    if result.enabled and not ipaddress.ip_address(result.bindaddr).is_loopback:
        diags.warning(
            result.where("bindaddr"),
            f"http: bindaddr={result.bindaddr} serves the API beyond this machine over "
            "plain HTTP; API tokens cross the network unencrypted",
            "bind to 127.0.0.1 and put a TLS reverse proxy in front",
        )
    return result
