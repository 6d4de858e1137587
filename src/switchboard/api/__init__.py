"""Operating the PBX from outside: the control socket and its commands (REST comes later)."""
