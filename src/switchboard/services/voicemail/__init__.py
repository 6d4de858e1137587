"""Voicemail storage: the spool in Asterisk's on-disk layout and its sound formats."""

from switchboard.services.voicemail.formats import SoundFormatError, SpoolError
from switchboard.services.voicemail.spool import (
    FOLDERS,
    GREETINGS,
    MailboxFullError,
    Message,
    MessageInfo,
    Spool,
    make_msg_id,
    read_sound,
)

__all__ = [
    "FOLDERS",
    "GREETINGS",
    "MailboxFullError",
    "Message",
    "MessageInfo",
    "SoundFormatError",
    "Spool",
    "SpoolError",
    "make_msg_id",
    "read_sound",
]
