"""asyncio transports: UDP, TCP and TLS adapters around the pure SIP layer."""
