"""rtp.conf [general]: the RTP port range and media-path options, with Asterisk 21's defaults."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.config.catalog import RTP_OPTIONS
from switchboard.config.ini import ConfigFile
from switchboard.config.objects import ConfigObject, ObjectBuilder, ObjectSpec
from switchboard.config.values import one_of, to_bool, to_int, to_text
from switchboard.diagnostics import Diagnostics, Location, did_you_mean


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
    result = default_rtp()
    if conf is None:
        return result
    builder = ObjectBuilder(diags)
    for section in conf.sections:
        if section.name == "general":
            built = builder.build(section, RTP, frozenset())
            assert isinstance(built, RtpConfig)
            result = built
        elif section.name != "ice_host_candidates":
            diags.warning(
                section.location,
                f"rtp.conf section [{section.name}] is not supported; ignored",
                did_you_mean(section.name, ["general", "ice_host_candidates"]),
            )
    if result.rtpstart % 2:
        result.rtpstart += 1
    if result.rtpend <= result.rtpstart:
        diags.error(
            result.where("rtpend"),
            f"rtpend={result.rtpend} is not above rtpstart={result.rtpstart}: no port for media",
        )
    return result
