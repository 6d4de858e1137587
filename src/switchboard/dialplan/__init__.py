"""Dialplan: extension patterns and their Asterisk ordering (pure)."""
