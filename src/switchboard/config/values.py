"""Converters from Asterisk option text to typed values; each raises ValueError with a reason."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

TRUE_WORDS = frozenset({"yes", "true", "y", "t", "1", "on"})
FALSE_WORDS = frozenset({"no", "false", "n", "f", "0", "off"})


def to_bool(text: str) -> bool:
    """Asterisk's ast_true/ast_false words."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected yes or no, found {text!r}")


def to_int(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A converter for a whole number, optionally within [low, high]."""

    def convert(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, found {text!r}") from None
        if low is not None and number < low:
            raise ValueError(f"{number} is below the minimum {low}")
        if high is not None and number > high:
            raise ValueError(f"{number} is above the maximum {high}")
        return number

    return convert


def to_float(low: float = 0.0) -> Callable[[str], float]:
    """A converter for a decimal number not below ``low``."""

    def convert(text: str) -> float:
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError(f"expected a number, found {text!r}") from None
        if number < low:
            raise ValueError(f"{number} is below the minimum {low}")
        return number

    return convert


def one_of(*choices: str, aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    """A converter accepting one word of a fixed set (case-insensitive), with old aliases."""
    known = {c.lower(): c for c in choices}
    for alias, target in (aliases or {}).items():
        known[alias.lower()] = target

    def convert(text: str) -> str:
        word = text.strip().lower()
        if word not in known:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return known[word]

    return convert


def to_text(text: str) -> str:
    return text.strip()


def to_list(text: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def to_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or network as Asterisk writes it: ``10.0.0.0/8``, ``192.168.0.0/255.255.0.0``."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None


@dataclass(frozen=True, slots=True)
class HostPort:
    """An address to bind or advertise: host (no brackets) and port (None: protocol default)."""

    host: str
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host


def to_host_port(text: str) -> HostPort:
    """``0.0.0.0``, ``0.0.0.0:5061``, ``[::]:5060``, ``[::1]``, ``pbx.example.com:5060``."""
    text = text.strip()
    if not text:
        raise ValueError("expected an address, found nothing")
    port_text: str | None = None
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise ValueError(f"{text!r}: '[' of an IPv6 address is never closed")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"unexpected {rest!r} after the address in {text!r}")
            port_text = rest[1:]
        ipaddress.IPv6Address(host)
    elif text.count(":") > 1:
        host = text
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r} is not an address") from None
    else:
        host, _, port_text = text.partition(":")
        if not port_text:
            port_text = None
    port = None
    if port_text is not None:
        port = to_int(1, 65535)(port_text)
    return HostPort(host, port)


@dataclass(frozen=True, slots=True)
class CallerId:
    """``"Name" <number>``, ``Name <number>`` or a bare number."""

    name: str
    number: str

    def __str__(self) -> str:
        return f'"{self.name}" <{self.number}>' if self.name else f"<{self.number}>"


def to_callerid(text: str) -> CallerId:
    text = text.strip()
    if "<" in text:
        name, _, rest = text.partition("<")
        if not rest.endswith(">"):
            raise ValueError(f"{text!r}: '<' is never closed by '>'")
        return CallerId(name.strip().strip('"').strip(), rest[:-1].strip())
    return CallerId("", text.strip('"'))


def split_codecs(text: str) -> Iterable[str]:
    """Codec names of an allow=/disallow= value: commas, optional ``:ptime`` dropped."""
    for part in to_list(text):
        yield part.partition(":")[0].strip().lower()
