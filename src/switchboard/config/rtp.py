"""rtp.conf [general]: the RTP port range and media-path options, with Asterisk 21's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.config.catalog import RTP_OPTIONS
from switchboard.config.ini import ConfigFile
from switchboard.config.objects import ConfigObject, ObjectSpec, load_single_section
from switchboard.config.values import one_of, to_bool, to_int, to_text
from switchboard.diagnostics import Diagnostics, Location


@dataclass(slots=True)
class RtpConfig(ConfigObject):
    rtpstart: int = 5000
    rtpend: int = 31000
    strictrtp: str = "yes"
    probation: int = 4
    icesupport: bool = True
    rtpchecksums: bool = False
    dtmftimeout: int = 3000
    stunaddr: str = ""

    @property
    def port_count(self) -> int:
        """Usable even RTP ports (RTCP takes the odd one above each)."""
        return max(0, (self.rtpend - self.rtpstart) // 2)


RTP = ObjectSpec(
    "rtp",
    RtpConfig,
    {
        "rtpstart": to_int(1024, 65535),
        "rtpend": to_int(1024, 65535),
        "strictrtp": one_of("yes", "no", "seqno", aliases={"true": "yes", "false": "no"}),
        "probation": to_int(0),
        "icesupport": to_bool,
        "rtpchecksums": to_bool,
        "dtmftimeout": to_int(0),
        "stunaddr": to_text,
    },
    {},
    RTP_OPTIONS,
)


def default_rtp() -> RtpConfig:
    return RtpConfig("general", Location("rtp.conf", 0))


def load_rtp(conf: ConfigFile | None, diags: Diagnostics) -> RtpConfig:
    """rtp.conf is optional: without it Asterisk's defaults apply."""
    if conf is None:
        return default_rtp()
    result = load_single_section(
        conf, "general", RTP, default_rtp(), diags, ignored=("ice_host_candidates",)
    )
    if result.rtpstart % 2:
        result.rtpstart += 1
    if result.rtpend <= result.rtpstart:
        diags.error(
            result.where("rtpend"),
            f"rtpend={result.rtpend} is not above rtpstart={result.rtpstart}: no port for media",
        )
    return result
