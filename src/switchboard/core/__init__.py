"""Core runtime objects shared by the services: the domain event bus (channels and bridges
arrive with the calls issue)."""
