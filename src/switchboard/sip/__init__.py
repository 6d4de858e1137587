"""SIP messages, transactions, dialogs and digest authentication (pure)."""
