"""The process's open-file limit, raised when the PBX starts: a Debian login's soft limit of
1,024 descriptors holds fewer than 250 anchored calls (four sockets each)."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)

SOCKETS_PER_CALL = 4
"""An anchored call's RTP and RTCP sockets, one pair per leg."""
RESERVED = 256
"""Descriptors kept for everything else: SIP and HTTP connections, the database, logs."""
CEILING = 1 << 20
"""The highest soft limit asked for when the hard limit is unlimited (Linux's default
``fs.nr_open``, above which the kernel refuses)."""
ENOUGH_CALLS = 1000
"""Anchored calls below which a limit that also cuts the RTP range short is worth a warning."""


def raise_open_file_limit(rtp_pairs: int) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard one and return it. Warn when it holds
    fewer anchored calls than the RTP range allows (``rtp_pairs`` // 2) and fewer than
    :data:`ENOUGH_CALLS`: the calls past it would fail for want of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            log.warning("open-file limit stays at %d: %s", soft, exc)
    if soft == resource.RLIM_INFINITY:
        return soft
    calls = max(0, (soft - RESERVED) // SOCKETS_PER_CALL)
    if calls < min(rtp_pairs // 2, ENOUGH_CALLS):
        log.warning(
            "open-file limit %d holds about %d anchored calls; raise it (systemd "
            "LimitNOFILE=, or ulimit -n) to at least %d for %d calls",
            soft,
            calls,
            ENOUGH_CALLS * SOCKETS_PER_CALL + RESERVED,
            ENOUGH_CALLS,
        )
    else:
        log.info("open-file limit %d: about %d anchored calls", soft, calls)
    return soft
