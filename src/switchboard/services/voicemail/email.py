"""The notification email of a new voicemail message, as app_voicemail's ``sendmail`` writes
it (``make_email_file`` and ``add_email_attachment`` in Asterisk 21).

A pure function of the mailbox, voicemail.conf's ``[general]``, the message's ``msgNNNN.txt``
and the attachment's bytes; the host name and the time are passed in. What Asterisk does:

- ``From: "fromstring" <serveremail>``: ``fromstring`` is a template (default
  ``Asterisk PBX``); a ``serveremail`` without ``@`` gets ``@<host name>`` appended.
- ``To: "fullname" <email>``, one address per ``|``-separated email of the mailbox.
- Subject and body are the ``emailsubject``/``emailbody`` templates, whose ``\\n``, ``\\t``,
  ``\\r`` and ``\\\\`` escapes are replaced first (``substitute_escapes``), then the
  variables below as a dialplan would (``${VM_CIDNUM:0:3}`` works). Unset, Asterisk's
  texts: ``[PBX]: New message N in mailbox BOX`` (without ``[PBX]: `` when ``pbxskip=yes``)
  and the "Dear NAME: Just wanted to let you know..." body.
- Variables (``prep_email_sub_vars``): ``VM_NAME``, ``VM_DUR`` (``m:ss``, as Asterisk
  prints ``duration / 60, duration % 60``), ``VM_MSGNUM`` (1-based), ``VM_CONTEXT``,
  ``VM_MAILBOX``, ``VM_CALLERID``, ``VM_CIDNAME``, ``VM_CIDNUM`` (each "an unknown caller"
  when unknown), ``VM_DATE`` (``emaildateformat``), ``VM_CATEGORY``, ``VM_FLAG``.
- ``attach=yes``: the message in ``attachfmt`` (when it is one of ``format=``, else the
  first format), named ``msgNNNN.<ext>`` (0-based; ``wav49`` is ``WAV``) with the MIME type
  ``audio/x-<ext>``. The mailbox's own options (``attach``, ``attachfmt``, ``serveremail``,
  ``fromstring``, ``emailsubject``, ``emailbody``) win over ``[general]``.

Unlike Asterisk, the Message-ID is made from the message's ``msg_id``, so a retried email
keeps its id and a receiving server can drop a duplicate.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from switchboard.config.values import FALSE_WORDS, TRUE_WORDS
from switchboard.config.voicemail import Mailbox, VoicemailGeneral
from switchboard.dialplan.state import ChannelState
from switchboard.dialplan.variables import substitute
from switchboard.services.voicemail.formats import extension
from switchboard.services.voicemail.spool import MessageInfo

__all__ = [
    "DEFAULT_FROM",
    "UNKNOWN_CALLER",
    "Attachment",
    "EmailError",
    "attachment_format",
    "build_email",
    "duration_text",
    "recipients",
    "sender_address",
    "split_callerid",
    "substitute_escapes",
    "wants_attachment",
]

DEFAULT_FROM = "Asterisk PBX"
UNKNOWN_CALLER = "an unknown caller"
_DEFAULT_BODY = (
    "Dear {VM_NAME}:\n\n\tJust wanted to let you know you were just left a {VM_DUR} long "
    "message (number {VM_MSGNUM})\nin mailbox {VM_MAILBOX} from {caller}, on {VM_DATE} "
    "so you might\nwant to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n\n"
)
"""app_voicemail's body when ``emailbody`` is unset (``str.format`` fields)."""
_POLICY = email.policy.SMTP


class EmailError(ValueError):
    """The email cannot be built (an address that does not parse, for instance)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A stored sound file to attach: its voicemail.conf format and its bytes."""

    format: str
    data: bytes


def substitute_escapes(text: str) -> str:
    """voicemail.conf's escapes in ``emailsubject``/``emailbody``: ``\\n``, ``\\r``, ``\\t``
    and ``\\\\``. Any other backslash is kept as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "nrt\\":
            out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def duration_text(seconds: int) -> str:
    """``VM_DUR``: minutes and seconds, ``%d:%02d`` as app_voicemail prints it."""
    seconds = max(0, seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def split_callerid(callerid: str) -> tuple[str, str]:
    """(name, number) of ``"Name" <number>``, ``Name <number>``, ``<number>``, or a bare
    value: a number when it is made of dial characters, else a name (``ast_callerid_split``)."""
    text = callerid.strip()
    if "<" in text and text.endswith(">"):
        name, _, number = text[:-1].partition("<")
        return name.strip().strip('"').strip(), number.strip()
    text = text.strip('"').strip()
    if text and all(ch.isdigit() or ch in "+*#-() ." for ch in text):
        return "", text
    return text, ""


def _clean(value: str) -> str:
    """A value for a header or a template: control characters become spaces
    (``strip_control_and_high``; non-ASCII is kept and encoded as RFC 2047 asks)."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value).strip()


def _option(mailbox: Mailbox, name: str, default: str) -> str:
    value = mailbox.options.get(name, "")
    return value if value else default


def wants_attachment(general: VoicemailGeneral, mailbox: Mailbox) -> bool:
    """``attach=`` of the mailbox's options, else of ``[general]``."""
    word = mailbox.options.get("attach", "").strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return general.attach


def attachment_format(general: VoicemailGeneral, mailbox: Mailbox) -> str:
    """The format to attach: ``attachfmt`` when the message is stored in it, else the first
    of ``format=`` (Asterisk warns and falls back the same way)."""
    wanted = _option(mailbox, "attachfmt", general.attachfmt).strip()
    if wanted and wanted in general.format:
        return wanted
    return general.format[0]


def sender_address(general: VoicemailGeneral, mailbox: Mailbox, host: str) -> str:
    """``serveremail`` (the mailbox's, else ``[general]``'s), ``@host`` added when bare."""
    server = _option(mailbox, "serveremail", general.serveremail).strip() or "asterisk"
    return server if "@" in server else f"{server}@{host}"


def recipients(mailbox: Mailbox) -> list[str]:
    """The mailbox's email addresses (``|`` separates several)."""
    return [part.strip() for part in mailbox.email.split("|") if part.strip()]


def _variables(
    general: VoicemailGeneral, mailbox: Mailbox, info: MessageInfo, number: int, when: datetime
) -> dict[str, str]:
    name, num = (_clean(part) for part in split_callerid(info.callerid))
    merged = f'"{name}" <{num}>' if name and num else name or num or UNKNOWN_CALLER
    return {
        "VM_NAME": _clean(mailbox.fullname),
        "VM_DUR": duration_text(info.duration),
        "VM_MSGNUM": str(number + 1),
        "VM_CONTEXT": mailbox.context,
        "VM_MAILBOX": mailbox.box,
        "VM_CALLERID": merged,
        "VM_CIDNAME": name or UNKNOWN_CALLER,
        "VM_CIDNUM": num or UNKNOWN_CALLER,
        "VM_DATE": when.strftime(general.emaildateformat),
        "VM_CATEGORY": _clean(info.category) or "no category",
        "VM_FLAG": _clean(info.flag),
    }


def _address(display_name: str, addr_spec: str) -> Address:
    try:
        return Address(display_name=display_name, addr_spec=addr_spec)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise EmailError(f"expected an email address, found {addr_spec!r} ({exc})") from None


def build_email(
    mailbox: Mailbox,
    general: VoicemailGeneral,
    info: MessageInfo,
    number: int,
    *,
    host: str,
    when: datetime,
    attachment: Attachment | None = None,
) -> EmailMessage:
    """The notification of message ``number`` (0-based, ``msgNNNN``) of ``mailbox``.

    ``when`` is the message's time in the mailbox's zone (``Date:`` and ``VM_DATE``),
    ``host`` the server's host name (for a bare ``serveremail`` and the Message-ID).
    Raises :class:`EmailError` when the mailbox has no usable address."""
    to = recipients(mailbox)
    if not to:
        raise EmailError(f"mailbox {mailbox.address} has no email address")
    variables = _variables(general, mailbox, info, number, when)
    state = ChannelState(variables=variables)
    name, num = split_callerid(info.callerid)

    message = EmailMessage(policy=_POLICY)
    message["Date"] = format_datetime(when)
    fromstring = _option(mailbox, "fromstring", general.fromstring)
    display = _clean(substitute(state, fromstring)) if fromstring else DEFAULT_FROM
    message["From"] = _address(display, sender_address(general, mailbox, host))
    fullname = _clean(mailbox.fullname)
    message["To"] = [_address(fullname, address) for address in to]

    subject_template = substitute_escapes(_option(mailbox, "emailsubject", general.emailsubject))
    if subject_template:
        subject = substitute(state, subject_template)
    else:
        flag = f"{_clean(info.flag)} " if _clean(info.flag) else ""
        prefix = "" if general.pbxskip else "[PBX]: "
        subject = f"{prefix}New {flag}message {number + 1} in mailbox {mailbox.box}"
    message["Subject"] = _clean(subject)
    token = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in info.msg_id) or "0"
    message["Message-ID"] = f"<Switchboard-{number + 1}-{token}-{mailbox.box}@{host}>"
    if _clean(num):
        message["X-Asterisk-CallerID"] = _clean(num)
    if _clean(name):
        message["X-Asterisk-CallerIDName"] = _clean(name)

    body_template = substitute_escapes(_option(mailbox, "emailbody", general.emailbody))
    if body_template:
        body = substitute(state, body_template) + "\n"
    else:
        caller = _clean(name) or _clean(num) or UNKNOWN_CALLER
        body = _DEFAULT_BODY.format(caller=caller, **variables)
    body = body.replace("\r\n", "\n")
    charset = general.charset or "ISO-8859-1"
    try:
        body.encode(charset)
    except (LookupError, UnicodeEncodeError):
        charset = "utf-8"
    cte = "7bit" if body.isascii() else "quoted-printable"
    message.set_content(body, charset=charset, cte=cte)

    if attachment is not None:
        ext = extension(attachment.format)
        maintype, subtype = ("application", ext) if ext.lower() == "ogg" else ("audio", f"x-{ext}")
        filename = f"msg{number:04d}.{ext}"
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=filename,
            params={"name": filename},
            headers=["Content-Description: Voicemail sound attachment."],
        )
    return message
