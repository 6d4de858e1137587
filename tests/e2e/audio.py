"""Audio checked by content: tone WAVs for baresip, G.711 RTP pcaps for SIPp, and an FFT
detector that says how many seconds of a given tone a recording or an RTP capture holds."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from switchboard.media.g711 import decode_payload, encode_payload

Codec = Literal["ulaw", "alaw"]
Samples = npt.NDArray[np.int16]

WINDOW_SECONDS = 0.1
TONE_SHARE = 0.6
TONE_TOLERANCE = 0.05
FRAME_SECONDS = 0.02

_PCAP_HEADER = struct.Struct("<IHHiIII")
_PCAP_RECORD = struct.Struct("<IIII")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_RTP = struct.Struct("!BBHII")
_ETHERNET_IPV4 = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"


def tone(freq_hz: float, seconds: float, rate: int = 8000, amplitude: float = 0.5) -> Samples:
    """A sine of ``freq_hz`` as int16 samples, ``amplitude`` of full scale."""
    t = np.arange(round(seconds * rate)) / rate
    return np.round(np.sin(2 * np.pi * freq_hz * t) * amplitude * 32767).astype(np.int16)


def write_wav(path: Path, samples: Samples, rate: int = 8000) -> Path:
    """Write mono 16-bit PCM samples as a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def write_tone_wav(path: Path, freq_hz: float, seconds: float, rate: int = 8000) -> Path:
    """A mono 16-bit WAV of one tone: what baresip's ``aufile`` source plays at
    ``ausrc_srate 8000`` / ``ausrc_channels 1``."""
    return write_wav(path, tone(freq_hz, seconds, rate), rate)


def read_wav(path: Path) -> tuple[Samples, int]:
    """The first channel of a 16-bit PCM WAV and its sample rate."""
    with wave.open(str(path), "rb") as source:
        if source.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit samples, found {source.getsampwidth() * 8}")
        channels = source.getnchannels()
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
        return data[::channels].astype(np.int16), source.getframerate()


def tone_seconds(
    samples_or_wav_path: Samples | Path | str,
    freq_hz: float,
    rate: int | None = None,
    *,
    min_rms: float = 50.0,
) -> float:
    """Seconds of ``freq_hz`` found: 100 ms windows louder than ``min_rms`` whose spectral
    energy lies at least 60 % within ±5 % of ``freq_hz`` (``rate`` defaults to the WAV's,
    or 8000 for raw samples)."""
    if isinstance(samples_or_wav_path, str | Path):
        samples, file_rate = read_wav(Path(samples_or_wav_path))
        rate = rate or file_rate
    else:
        samples = samples_or_wav_path
    rate = rate or 8000
    size = round(rate * WINDOW_SECONDS)
    count = len(samples) // size
    if count == 0:
        return 0.0
    windows = np.asarray(samples[: count * size], dtype=np.float64).reshape(count, size)
    windows -= windows.mean(axis=1, keepdims=True)
    loud = np.sqrt((windows**2).mean(axis=1)) >= min_rms
    energy = np.abs(np.fft.rfft(windows * np.hanning(size), axis=1)) ** 2
    freqs = np.fft.rfftfreq(size, 1 / rate)
    band = np.abs(freqs - freq_hz) <= freq_hz * TONE_TOLERANCE
    total = energy.sum(axis=1)
    share = np.divide(energy[:, band].sum(axis=1), total, out=np.zeros(count), where=total > 0)
    return float(np.count_nonzero(loud & (share >= TONE_SHARE)) * WINDOW_SECONDS)


def encode_g711(samples: Samples, codec: Codec) -> bytes:
    """Encode int16 samples as a PCMU (``"ulaw"``) or PCMA (``"alaw"``) payload."""
    return encode_payload(samples, codec)


def decode_g711(payload_bytes: bytes, codec: Codec) -> Samples:
    """Decode a PCMU (``"ulaw"``) or PCMA (``"alaw"``) payload to int16 samples."""
    return decode_payload(payload_bytes, codec)


@dataclass(frozen=True)
class RtpPacket:
    """The fields of an RTP packet that audio checks need."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def rtp_packet(packet: RtpPacket) -> bytes:
    """Serialise a plain RTP packet (no CSRC, no extension, no padding)."""
    head = _RTP.pack(
        0x80,
        (0x80 if packet.marker else 0) | packet.payload_type,
        packet.sequence & 0xFFFF,
        packet.timestamp & 0xFFFFFFFF,
        packet.ssrc,
    )
    return head + packet.payload


def parse_rtp(datagram: bytes) -> RtpPacket:
    """Parse an RTP packet (CSRCs, extension and padding skipped); ValueError if not RTP."""
    if len(datagram) < _RTP.size or datagram[0] >> 6 != 2:
        raise ValueError(f"not RTP: {datagram[:12].hex()}")
    b0, b1, sequence, timestamp, ssrc = _RTP.unpack_from(datagram)
    start = _RTP.size + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        start += 4 + 4 * struct.unpack_from("!H", datagram, start + 2)[0]
    end = len(datagram) - (datagram[-1] if b0 & 0x20 else 0)
    return RtpPacket(b1 & 0x7F, sequence, timestamp, ssrc, bool(b1 & 0x80), datagram[start:end])


def _checksum(data: bytes) -> int:
    words = np.frombuffer(data + b"\x00" * (len(data) % 2), dtype=">u2")
    total = int(words.sum(dtype=np.uint64))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _udp_frame(payload: bytes, source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """Ethernet + IPv4 + UDP around ``payload`` (UDP checksum 0: optional over IPv4)."""
    src, dst = bytes(map(int, source[0].split("."))), bytes(map(int, destination[0].split(".")))
    length = _IPV4.size + _UDP.size + len(payload)
    header = _IPV4.pack(0x45, 0, length, 0, 0x4000, 64, 17, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    udp = _UDP.pack(source[1], destination[1], _UDP.size + len(payload), 0)
    return _ETHERNET_IPV4 + header + udp + payload


def g711_rtp_pcap(
    path: Path,
    freq_hz: float,
    seconds: float,
    *,
    codec: Codec = "ulaw",
    payload_type: int | None = None,
    ssrc: int = 0x5B0A4D10,
    source: tuple[str, int] = ("127.0.0.1", 6000),
    destination: tuple[str, int] = ("127.0.0.1", 6002),
) -> Path:
    """A pcap of a tone as G.711 RTP in 20 ms packets (Ethernet/IPv4/UDP), for SIPp's
    ``play_pcap_audio``; SIPp rewrites the addresses, ``payload_type`` defaults to 0/8."""
    if payload_type is None:
        payload_type = 0 if codec == "ulaw" else 8
    frame = round(8000 * FRAME_SECONDS)
    samples = tone(freq_hz, seconds)
    records = [_PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for index in range(len(samples) // frame):
        payload = encode_g711(samples[index * frame : (index + 1) * frame], codec)
        packet = RtpPacket(payload_type, index, index * frame, ssrc, index == 0, payload)
        data = _udp_frame(rtp_packet(packet), source, destination)
        micros = index * round(FRAME_SECONDS * 1_000_000)
        records.append(
            _PCAP_RECORD.pack(micros // 1_000_000, micros % 1_000_000, len(data), len(data))
        )
        records.append(data)
    path.write_bytes(b"".join(records))
    return path


def read_pcap_rtp(path: Path) -> list[RtpPacket]:
    """The RTP packets of a classic little-endian pcap of Ethernet/IPv4/UDP frames."""
    data = path.read_bytes()
    magic, _, _, _, _, _, linktype = _PCAP_HEADER.unpack_from(data)
    if magic != 0xA1B2C3D4 or linktype != 1:
        raise ValueError(
            f"{path}: expected a microsecond Ethernet pcap, found {magic:#x}/{linktype}"
        )
    packets = []
    offset = _PCAP_HEADER.size
    while offset + _PCAP_RECORD.size <= len(data):
        _, _, captured, _ = _PCAP_RECORD.unpack_from(data, offset)
        offset += _PCAP_RECORD.size
        frame = data[offset : offset + captured]
        offset += captured
        if frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ip_size = 4 * (frame[14] & 0x0F)
        packets.append(parse_rtp(frame[14 + ip_size + _UDP.size :]))
    return packets


def rtp_samples(packets: list[RtpPacket], codec: Codec, payload_type: int | None = None) -> Samples:
    """Decode the G.711 packets of one payload type (default: the codec's static one), in
    the order given (arrival order), to one stream of samples."""
    if payload_type is None:
        payload_type = 0 if codec == "ulaw" else 8
    payload = b"".join(p.payload for p in packets if p.payload_type == payload_type)
    return decode_g711(payload, codec)
