"""voicemail.conf: the [general] options, [zonemessages], and mailbox contexts.

A mailbox line reads ``box => pin,full name,email,pager email,opt=val|opt=val``. Defaults are
those of Asterisk 21's app_voicemail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.config.catalog import VOICEMAIL_GENERAL_OPTIONS, VOICEMAIL_MAILBOX_OPTIONS
from switchboard.config.ini import ConfigFile, Item
from switchboard.config.objects import ConfigObject, ObjectBuilder, ObjectSpec
from switchboard.config.values import TRUE_WORDS, to_bool, to_int, to_text
from switchboard.diagnostics import Diagnostics, Location, did_you_mean

_MAILBOX_OPTIONS_LOWER = frozenset(o.lower() for o in VOICEMAIL_MAILBOX_OPTIONS)
FORMATS = ("wav49", "gsm", "wav", "ulaw", "alaw", "g722", "g729", "sln", "WAV")


def _formats(text: str) -> tuple[str, ...]:
    """``format=wav49|gsm|wav``: the file formats every message is stored in, in order."""
    names = tuple(part.strip() for part in text.split("|") if part.strip())
    if not names:
        raise ValueError("no format given")
    for name in names:
        if name not in FORMATS:
            hint = did_you_mean(name, FORMATS)
            raise ValueError(f"unknown format {name!r}" + (f" ({hint})" if hint else ""))
    return names


@dataclass(slots=True)
class VoicemailGeneral(ConfigObject):
    format: tuple[str, ...] = ("wav",)
    maxmsg: int = 100
    maxsecs: int = 0
    minsecs: int = 0
    maxgreet: int = 0
    maxlogins: int = 3
    maxsilence: int = 0
    silencethreshold: int = 128
    review: bool = False
    operator: bool = False
    saycid: bool = False
    sayduration: bool = True
    envelope: bool = True
    attach: bool = False
    attachfmt: str = ""
    serveremail: str = "asterisk"
    fromstring: str = ""
    emailsubject: str = ""
    emailbody: str = ""
    emaildateformat: str = "%A, %B %d, %Y at %r"
    mailcmd: str = ""
    charset: str = "ISO-8859-1"
    skipms: int = 3000
    sendvoicemail: bool = False
    callback: str = ""
    dialout: str = ""
    exitcontext: str = ""
    forcename: bool = False
    forcegreetings: bool = False
    tz: str = ""
    minpassword: int = 0
    usedirectory: bool = False
    nextaftercmd: bool = False
    deletevoicemail: bool = False
    pbxskip: bool = False
    aliasescontext: str = ""


GENERAL = ObjectSpec(
    "voicemail",
    VoicemailGeneral,
    {
        "format": _formats,
        "maxmsg": to_int(1, 9999),
        "maxsecs": to_int(0),
        "maxmessage": to_int(0),
        "minsecs": to_int(0),
        "minmessage": to_int(0),
        "maxgreet": to_int(0),
        "maxlogins": to_int(1),
        "maxsilence": to_int(0),
        "silencethreshold": to_int(0, 32767),
        "review": to_bool,
        "operator": to_bool,
        "saycid": to_bool,
        "sayduration": to_bool,
        "envelope": to_bool,
        "attach": to_bool,
        "attachfmt": to_text,
        "serveremail": to_text,
        "fromstring": to_text,
        "emailsubject": to_text,
        "emailbody": to_text,
        "emaildateformat": to_text,
        "mailcmd": to_text,
        "charset": to_text,
        "skipms": to_int(0),
        "sendvoicemail": to_bool,
        "callback": to_text,
        "dialout": to_text,
        "exitcontext": to_text,
        "forcename": to_bool,
        "forcegreetings": to_bool,
        "tz": to_text,
        "minpassword": to_int(0),
        "usedirectory": to_bool,
        "nextaftercmd": to_bool,
        "deletevoicemail": to_bool,
        "pbxskip": to_bool,
        "aliasescontext": to_text,
    },
    {},
    VOICEMAIL_GENERAL_OPTIONS,
    {"maxmessage": "maxsecs", "minmessage": "minsecs"},
)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One ``box => pin,name,email,pager,options`` line; option names are lower-cased."""

    context: str
    box: str
    pin: str
    fullname: str
    email: str
    pager: str
    options: dict[str, str]
    location: Location

    @property
    def address(self) -> str:
        return f"{self.box}@{self.context}"

    def setting(self, name: str, default: str) -> str:
        """The box's own ``name=`` option (``callback``, ``dialout``, ``exitcontext``) over
        the ``[general]`` value ``default``."""
        value = self.options.get(name)
        return default if value is None else value.strip()

    def flag(self, name: str, default: bool) -> bool:
        """The box's own yes/no option ``name`` over the ``[general]`` value ``default``;
        a word that is neither counts as no, as Asterisk's ``ast_true``."""
        value = self.options.get(name)
        return default if value is None else value.strip().lower() in TRUE_WORDS


@dataclass(slots=True)
class VoicemailConfig:
    general: VoicemailGeneral = field(
        default_factory=lambda: VoicemailGeneral("general", Location("voicemail.conf", 0))
    )
    zonemessages: dict[str, Item] = field(default_factory=dict)
    mailboxes: dict[str, dict[str, Mailbox]] = field(default_factory=dict)

    def mailbox(self, reference: str, default_context: str = "default") -> Mailbox | None:
        """Find ``101`` or ``101@context``."""
        box, _, context = reference.strip().partition("@")
        return self.mailboxes.get(context or default_context, {}).get(box)

    def all_mailboxes(self) -> list[Mailbox]:
        return [m for boxes in self.mailboxes.values() for m in boxes.values()]


def _mailbox(context: str, item: Item, diags: Diagnostics) -> Mailbox | None:
    fields = [part.strip() for part in item.value.split(",", 4)]
    fields += [""] * (5 - len(fields))
    pin, fullname, email, pager, option_text = fields
    if not item.key.strip():
        diags.error(item.location, "mailbox line has no mailbox number")
        return None
    options: dict[str, str] = {}
    for part in option_text.split("|"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep:
            diags.error(
                item.location,
                f"mailbox {item.key}: option {part.strip()!r} needs a value",
                "mailbox options are written name=value|name=value",
            )
            continue
        if key.lower() not in _MAILBOX_OPTIONS_LOWER:
            diags.warning(
                item.location,
                f"mailbox {item.key}: unknown option '{key}'; ignored",
                did_you_mean(key, VOICEMAIL_MAILBOX_OPTIONS),
            )
        options[key.lower()] = value.strip()
    return Mailbox(context, item.key.strip(), pin, fullname, email, pager, options, item.location)


def load_voicemail(conf: ConfigFile, diags: Diagnostics) -> VoicemailConfig:
    result = VoicemailConfig()
    builder = ObjectBuilder(diags)
    for section in conf.sections:
        if section.template:
            continue
        if section.name == "general":
            general = builder.build(section, GENERAL, frozenset())
            assert isinstance(general, VoicemailGeneral)
            result.general = general
            continue
        if section.name == "zonemessages":
            for item in section.items:
                result.zonemessages[item.key] = item
            continue
        if section.name == result.general.aliasescontext:
            continue
        boxes = result.mailboxes.setdefault(section.name, {})
        for item in section.items:
            mailbox = _mailbox(section.name, item, diags)
            if mailbox is None:
                continue
            earlier = boxes.get(mailbox.box)
            if earlier is not None:
                diags.error(
                    item.location,
                    f"mailbox {mailbox.address} is defined twice (first at {earlier.location})",
                )
                continue
            boxes[mailbox.box] = mailbox
    general = result.general
    if general.minsecs and general.maxsecs and general.minsecs > general.maxsecs:
        diags.error(
            general.where("minsecs"),
            f"minsecs={general.minsecs} is longer than maxsecs={general.maxsecs}: "
            "no message could ever be kept",
        )
    return result
