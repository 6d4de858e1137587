"""Switchboard: an IP-PBX that reads Asterisk's configuration files unchanged."""

from switchboard import native

__version__ = "0.1.0"

native.install()
