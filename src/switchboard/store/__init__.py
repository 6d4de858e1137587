"""SQL persistence (SQLite by default): contacts, and later CDRs and the voicemail index."""
