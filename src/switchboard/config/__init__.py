"""Asterisk-format configuration: the dialect reader, typed models and checks (pure)."""
