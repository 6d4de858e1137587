"""Session descriptions (RFC 8866) and the offer/answer model (RFC 3264), pure.

``parse_sdp`` reads a body (raising :class:`SdpParseError`, answer 400), an
:class:`OfferAnswer` per dialog runs the offer/answer exchanges and builds our offers and
answers from an endpoint's codec order, and :func:`shared_codec` / :func:`hold_state` tell
the call engine whether two legs need transcoding and who holds whom.
"""

from switchboard.sdp.codecs import CODECS, Codec, asterisk_name, codec_for, codec_named
from switchboard.sdp.crypto import SUITES, SrtpParameters
from switchboard.sdp.errors import (
    GlareError,
    LocalOfferAnswerError,
    NotAcceptableError,
    OfferAnswerError,
    SdpError,
    SdpParseError,
)
from switchboard.sdp.model import Direction, Media, SessionDescription
from switchboard.sdp.negotiate import (
    HoldState,
    LocalMedia,
    NegotiatedCodec,
    NegotiatedStream,
    OfferAnswer,
    hold_state,
    offer_holds,
    shared_codec,
)
from switchboard.sdp.parse import parse_sdp

__all__ = [
    "CODECS",
    "SUITES",
    "Codec",
    "Direction",
    "GlareError",
    "HoldState",
    "LocalMedia",
    "LocalOfferAnswerError",
    "Media",
    "NegotiatedCodec",
    "NegotiatedStream",
    "NotAcceptableError",
    "OfferAnswer",
    "OfferAnswerError",
    "SdpError",
    "SdpParseError",
    "SessionDescription",
    "SrtpParameters",
    "asterisk_name",
    "codec_for",
    "codec_named",
    "hold_state",
    "offer_holds",
    "parse_sdp",
    "shared_codec",
]
