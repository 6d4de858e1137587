"""Transcoding one direction of a call, RTP packet by RTP packet: decode the source codec,
change the rate, encode the target codec (:mod:`.codecs`), in 20 ms frames.

A :class:`RtpTranscoder` belongs to one leg direction (its coders and resampler keep their
state between packets). It keeps the packet's sequence number, SSRC and marker, sets the
target payload type, and carries the timestamp over to the target's RTP clock by
differences (so a source timestamp wrapping at 2^32 carries on smoothly at another
clock rate). Decoding is at the source's own rate and the
encoder's input is resampled only where the target cannot take that rate (libopus takes
8 and 16 kHz as they are). A packet that does not complete a frame yet (the resampler's
first few milliseconds) gives nothing; a sample-based target (G.711, G.722) puts every whole frame
available in one packet, Opus sends one frame per packet. CSRCs, header extensions and
padding are not carried over: the packet is the relay's own.
"""

from __future__ import annotations

import struct

from switchboard.media.codecs import AudioCodec, PcmDecoder, PcmEncoder
from switchboard.media.errors import RtpError
from switchboard.media.rtp import header_size

_HEADER = struct.Struct("!BBHII")


class RtpTranscoder:
    """One direction of a transcoded call: ``source`` RTP in, ``target`` RTP out."""

    __slots__ = (
        "_decoder",
        "_encoder",
        "_last_in",
        "_max_frames",
        "_out",
        "_ratio",
        "payload_type",
        "source",
        "target",
    )

    def __init__(self, source: AudioCodec, target: AudioCodec, payload_type: int) -> None:
        """Decode ``source``, send ``target`` as ``payload_type`` (the far phone's number)."""
        self.source = source
        self.target = target
        self.payload_type = payload_type
        # Decode at the source's own rate; the encoder resamples only if it must (libopus
        # takes a G.711 leg's 8 kHz or a G.722 leg's 16 kHz as it is).
        self._decoder = PcmDecoder(source, source.sample_rate)
        self._encoder = PcmEncoder(target, source.sample_rate)
        self._max_frames = None if target.sample_based else 1
        self._ratio = (target.clock_rate, source.clock_rate)
        self._last_in: int | None = None
        self._out = 0

    def __call__(self, packet: bytes) -> bytes | None:
        """The transcoded packet, or None while no whole frame is ready; a
        :class:`~switchboard.media.errors.MediaError` for a packet that cannot be read."""
        start = header_size(packet)
        end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
        if end < start:
            raise RtpError(f"RTP padding of {packet[-1]} octets: longer than the payload")
        _, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
        samples = self._decoder.decode(packet[start:end])
        payloads = self._encoder.encode(samples, max_frames=self._max_frames)
        self._advance(timestamp)
        if not payloads:
            return None
        return _HEADER.pack(
            0x80, (second & 0x80) | self.payload_type, sequence, self._out, ssrc
        ) + b"".join(payloads)

    def _advance(self, timestamp: int) -> None:
        """Move the output timestamp by the input's change, at the target's clock."""
        if self._last_in is not None:
            delta = ((timestamp - self._last_in + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            numerator, denominator = self._ratio
            self._out = (self._out + delta * numerator // denominator) & 0xFFFFFFFF
        else:
            self._out = timestamp * self._ratio[0] // self._ratio[1] & 0xFFFFFFFF
        self._last_in = timestamp
