"""Switchboard: an IP-PBX that reads Asterisk's configuration files unchanged."""

__version__ = "0.1.0"
