"""Services: identify, authenticate, registrar, location, (later) calls, mwi, security."""
