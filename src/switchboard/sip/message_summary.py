"""The ``application/simple-message-summary`` body of RFC 3842 §5: build and parse.

The grammar (RFC 3842 §5.2, message classes from RFC 3458)::

    message-summary  = msg-status-line CRLF
                       [msg-account CRLF]
                       [*(msg-summary-line CRLF)]
                       [ *opt-msg-headers ]
    msg-status-line  = "Messages-Waiting" HCOLON msg-status
    msg-status       = "yes" / "no"
    msg-account      = "Message-Account" HCOLON Account-URI
    msg-summary-line = message-context-class HCOLON newmsgs SLASH oldmsgs
                       [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
    opt-msg-headers  = CRLF 1*(extension-header CRLF)
    message-context-class = "voice-message" / "fax-message" / "pager-message"
                            / "multimedia-message" / "text-message" / "none"

Tolerances when parsing: header names in any case, bare LF line ends, blank lines before
the status line, and ``name: value`` lines that are no message class among the summary
lines (kept with the extension headers). Counts are at most nine digits. Anything else
raises :class:`RemoteProtocolError` with status 400.

Serialising always writes the urgent counts, as Asterisk does (``Voice-Message: 1/0
(0/0)``), so phones that insist on them are served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.sip.errors import RemoteProtocolError

CONTENT_TYPE = "application/simple-message-summary"
EVENT_PACKAGE = "message-summary"

MESSAGE_CLASSES: dict[str, str] = {
    "voice-message": "Voice-Message",
    "fax-message": "Fax-Message",
    "pager-message": "Pager-Message",
    "multimedia-message": "Multimedia-Message",
    "text-message": "Text-Message",
    "none": "None",
}
"""Message context classes (RFC 3458 §5.1) by lower-case name, with their written form."""

_MAX_DIGITS = 9
# HCOLON = *( SP / HTAB ) ":" SWS; the value runs to the end of the line.
_LINE = re.compile(r"([!-9;-~]+)[ \t]*:[ \t]*(.*?)[ \t]*")
# newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ]
_COUNTS = re.compile(
    rf"([0-9]{{1,{_MAX_DIGITS}}})[ \t]*/[ \t]*([0-9]{{1,{_MAX_DIGITS}}})"
    rf"(?:[ \t]*\([ \t]*([0-9]{{1,{_MAX_DIGITS}}})[ \t]*/[ \t]*([0-9]{{1,{_MAX_DIGITS}}})[ \t]*\))?"
)


@dataclass(frozen=True, slots=True)
class MessageCounts:
    """New and old messages of one class, and how many of each are urgent."""

    new: int
    old: int
    urgent_new: int = 0
    urgent_old: int = 0

    def __post_init__(self) -> None:
        for count in (self.new, self.old, self.urgent_new, self.urgent_old):
            if not 0 <= count < 10**_MAX_DIGITS:
                raise ValueError(f"message count out of range: {count}")

    def __str__(self) -> str:
        return f"{self.new}/{self.old} ({self.urgent_new}/{self.urgent_old})"


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One message summary: the lamp (``waiting``), the account, counts per class."""

    waiting: bool
    account: str | None = None
    counts: tuple[tuple[str, MessageCounts], ...] = ()
    """(lower-case message class, counts), in body order."""
    extensions: tuple[tuple[str, str], ...] = ()
    """Optional message headers after the summary (RFC 3842 ``opt-msg-headers``)."""

    @classmethod
    def voice(
        cls,
        new: int,
        old: int,
        urgent_new: int = 0,
        urgent_old: int = 0,
        *,
        account: str | None = None,
    ) -> MessageSummary:
        """A voicemail summary; messages are waiting when there is a new one."""
        counts = MessageCounts(new, old, urgent_new, urgent_old)
        return cls(new > 0, account, (("voice-message", counts),))

    def get(self, message_class: str) -> MessageCounts | None:
        """The counts of ``message_class`` (any case), None when the body has none."""
        wanted = message_class.lower()
        for name, counts in self.counts:
            if name == wanted:
                return counts
        return None

    def serialize(self) -> bytes:
        """The body, CRLF line ends."""
        lines = [f"Messages-Waiting: {'yes' if self.waiting else 'no'}"]
        if self.account is not None:
            lines.append(f"Message-Account: {self.account}")
        for name, counts in self.counts:
            lines.append(f"{MESSAGE_CLASSES.get(name, name)}: {counts}")
        if self.extensions:
            lines.append("")
            lines.extend(f"{name}: {value}" for name, value in self.extensions)
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _error(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(400, f"Bad message summary: {reason}")


def _counts(name: str, value: str) -> MessageCounts:
    match = _COUNTS.fullmatch(value)
    if match is None:
        raise _error(f"expected new/old (urgent new/urgent old) counts for {name}, found {value!r}")
    new, old, urgent_new, urgent_old = match.groups()
    return MessageCounts(int(new), int(old), int(urgent_new or 0), int(urgent_old or 0))


def parse_message_summary(body: bytes) -> MessageSummary:
    """Parse a whole body; raises :class:`RemoteProtocolError` (400) when it is malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _error("not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[0] == "":
        lines.pop(0)
    if not lines:
        raise _error("empty body; expected a Messages-Waiting line")
    first = _LINE.fullmatch(lines[0])
    if first is None or first.group(1).lower() != "messages-waiting":
        raise _error(f"expected a Messages-Waiting line first, found {lines[0][:40]!r}")
    status = first.group(2).lower()
    if status not in ("yes", "no"):
        raise _error(f"expected Messages-Waiting yes or no, found {first.group(2)!r}")
    account: str | None = None
    counts: list[tuple[str, MessageCounts]] = []
    extensions: list[tuple[str, str]] = []
    in_extensions = False
    for line in lines[1:]:
        if line == "":
            in_extensions = True
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise _error(f"expected a 'name: value' line, found {line[:40]!r}")
        name, value = match.groups()
        key = name.lower()
        if in_extensions:
            extensions.append((name, value))
        elif key == "messages-waiting":
            raise _error("more than one Messages-Waiting line")
        elif key == "message-account":
            if account is not None:
                raise _error("more than one Message-Account line")
            if not value:
                raise _error("empty Message-Account")
            account = value
        elif key in MESSAGE_CLASSES:
            if any(existing == key for existing, _ in counts):
                raise _error(f"more than one {MESSAGE_CLASSES[key]} line")
            counts.append((key, _counts(name, value)))
        else:
            extensions.append((name, value))
    return MessageSummary(status == "yes", account, tuple(counts), tuple(extensions))
