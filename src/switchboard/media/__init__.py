"""RTP media: packet codecs, statistics, G.711, DTMF and tones (pure); relay and ports (I/O)."""
