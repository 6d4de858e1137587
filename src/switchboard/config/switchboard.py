"""switchboard.conf: settings Asterisk has no file for (it leaves them to fail2ban and
log regexes). Optional; every option has a safe default.

::

    [security]
    ban_threshold = 10      ; offences (failed authentications, unknown users, malformed
    ban_window = 60         ;  messages) from one address within this many seconds ...
    ban_time = 300          ; ... ban it for this long, doubled for each repeat ...
    ban_max = 86400         ; ... up to this
    trusted = 10.0.0.0/8    ; never banned (repeatable; local_net of transports too)
    unauth_rate = 50        ; requests per second one address may send before it has
                            ;  authenticated once; beyond that they are dropped
    max_connections = 32    ; open TCP/TLS connections from one address
    max_transactions = 500  ; live SIP server transactions from one address; beyond
                            ;  that, new requests get 503 with Retry-After (trusted: no limit)
    sdes_over_plain_transport = no  ; yes: let media_encryption=sdes calls (a=crypto,
                            ;  SRTP keys in the SDP) use UDP/TCP, where anyone on the path
                            ;  reads the keys; no: such INVITEs get 488

    [smtp]                  ; where voicemail emails go (voicemail.conf has no relay:
    host = localhost        ;  Asterisk pipes them to mailcmd, a local sendmail)
    port = 25
    starttls = no           ; yes: STARTTLS before anything else, certificate checked
    username =              ; set both to log in (AUTH) after STARTTLS
    password =
    timeout = 30            ; seconds per SMTP conversation step
    retry_delay = 30        ; seconds before the first retry, doubled at each failure ...
    retry_max = 3600        ; ... up to this
    attempts = 24           ; then the email is given up (moved to outbox/failed/)

    [voicemail]
    recording_cap = 600     ; seconds: the longest message or greeting when voicemail.conf
                            ;  says no limit (maxsecs=0, maxgreet=0), so a caller who
                            ;  never hangs up cannot fill the disk

    [media]
    sounds_dir = /usr/share/asterisk/sounds  ; Asterisk's prompt sets (its astsoundsdir):
                            ;  searched after the config folder's sounds/ and before the
                            ;  built-in set; an absolute path

    [webhook crm]           ; POST each matching domain event as JSON to a URL
    url = https://crm.example.com/pbx-events
    events = CallRinging,CallEnded   ; event types (all when absent)
    secret = s3cret         ; HMAC-SHA256 key: X-Switchboard-Signature: sha256=<hex>
    timeout = 5             ; seconds per attempt
    attempts = 5            ; tries per event, 1 s apart then doubling up to retry_max
    retry_max = 60
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from switchboard.config.ini import ConfigFile, Section
from switchboard.config.objects import ConfigObject, ObjectBuilder, ObjectSpec
from switchboard.config.values import to_bool, to_float, to_int, to_list, to_network, to_text
from switchboard.diagnostics import Diagnostics, Location, did_you_mean

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(current: object, _option: str, text: str) -> tuple[Network, ...]:
    """trusted= may be repeated; each line may list several networks."""
    assert isinstance(current, tuple)
    return (*current, *(to_network(part) for part in to_list(text)))


@dataclass(slots=True)
class SecurityConfig(ConfigObject):
    ban_threshold: int = 10
    ban_window: int = 60
    ban_time: int = 300
    ban_max: int = 86400
    trusted: tuple[Network, ...] = ()
    unauth_rate: int = 50
    max_connections: int = 32
    max_transactions: int = 500
    sdes_over_plain_transport: bool = False


SECURITY = ObjectSpec(
    "security",
    SecurityConfig,
    {
        "ban_threshold": to_int(1, 100000),
        "ban_window": to_int(1, 86400),
        "ban_time": to_int(0, 31536000),
        "ban_max": to_int(0, 31536000),
        "unauth_rate": to_int(1, 1000000),
        "max_connections": to_int(1, 100000),
        "max_transactions": to_int(1, 1000000),
        "sdes_over_plain_transport": to_bool,
    },
    {"trusted": ("trusted", _trusted)},
)


@dataclass(slots=True, repr=False)
class SmtpConfig(ConfigObject):
    """The relay voicemail notifications are sent through. Its repr leaves the password
    out (the raw ``options`` hold it too)."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    retry_delay: float = 30.0
    retry_max: float = 3600.0
    attempts: int = 24

    def __repr__(self) -> str:
        login = f", username={self.username!r}" if self.username else ""
        return f"SmtpConfig({self.host}:{self.port}, starttls={self.starttls}{login})"


SMTP = ObjectSpec(
    "smtp",
    SmtpConfig,
    {
        "host": to_text,
        "port": to_int(1, 65535),
        "starttls": to_bool,
        "username": to_text,
        "password": to_text,
        "timeout": to_float(0.1),
        "retry_delay": to_float(0.01),
        "retry_max": to_float(0.01),
        "attempts": to_int(1, 10000),
    },
)


@dataclass(slots=True)
class VoicemailLimits(ConfigObject):
    """Voicemail limits voicemail.conf has no option for."""

    recording_cap: int = 600


VOICEMAIL_LIMITS = ObjectSpec("voicemail", VoicemailLimits, {"recording_cap": to_int(10, 86400)})

DEFAULT_SOUNDS_DIR = "/usr/share/asterisk/sounds"
"""Where Debian's ``asterisk-core-sounds-*`` packages install Asterisk's prompts."""


def _absolute(text: str) -> str:
    """An absolute path (the server's working folder is no place to look for sounds)."""
    path = text.strip()
    if not path.startswith("/"):
        raise ValueError(f"expected an absolute path, found {text!r}")
    return path


@dataclass(slots=True)
class MediaSettings(ConfigObject):
    """Media settings Asterisk keeps in asterisk.conf."""

    sounds_dir: str = DEFAULT_SOUNDS_DIR


MEDIA = ObjectSpec("media", MediaSettings, {"sounds_dir": _absolute})


def _url(text: str) -> str:
    """An http:// or https:// URL with a host."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] == "/":
        raise ValueError(f"expected an http:// or https:// URL, found {text!r}")
    return text.strip()


@dataclass(slots=True, repr=False)
class WebhookConfig(ConfigObject):
    """One ``[webhook NAME]`` section: where to POST which events, and the signing key
    (left out of the repr)."""

    url: str = ""
    events: tuple[str, ...] = ()
    secret: str = field(default="", repr=False)
    timeout: float = 5.0
    attempts: int = 5
    retry_delay: float = 1.0
    retry_max: float = 60.0

    def __repr__(self) -> str:
        return f"WebhookConfig({self.name}: {self.url}, events={self.events})"


WEBHOOK = ObjectSpec(
    "webhook",
    WebhookConfig,
    {
        "url": _url,
        "events": to_list,
        "secret": to_text,
        "timeout": to_float(0.1),
        "attempts": to_int(1, 1000),
        "retry_delay": to_float(0.01),
        "retry_max": to_float(0.01),
    },
)

WEBHOOK_PREFIX = "webhook "
"""Webhook sections are named ``[webhook NAME]``."""


def default_security() -> SecurityConfig:
    return SecurityConfig("security", Location("switchboard.conf", 0))


def default_smtp() -> SmtpConfig:
    return SmtpConfig("smtp", Location("switchboard.conf", 0))


def default_voicemail_limits() -> VoicemailLimits:
    return VoicemailLimits("voicemail", Location("switchboard.conf", 0))


def default_media() -> MediaSettings:
    return MediaSettings("media", Location("switchboard.conf", 0))


@dataclass(slots=True)
class SwitchboardConfig:
    """switchboard.conf: one object per section."""

    security: SecurityConfig = field(default_factory=default_security)
    smtp: SmtpConfig = field(default_factory=default_smtp)
    voicemail: VoicemailLimits = field(default_factory=default_voicemail_limits)
    media: MediaSettings = field(default_factory=default_media)
    webhooks: list[WebhookConfig] = field(default_factory=list)


_SECTIONS = {"security": SECURITY, "smtp": SMTP, "voicemail": VOICEMAIL_LIMITS, "media": MEDIA}
"""The sections that hold one object each, named as :class:`SwitchboardConfig`'s fields."""


def load_switchboard(conf: ConfigFile | None, diags: Diagnostics) -> SwitchboardConfig:
    """switchboard.conf is optional: without it every setting has its default."""
    result = SwitchboardConfig()
    if conf is None:
        return result
    builder = ObjectBuilder(diags)
    for section in conf.sections:
        spec = _SECTIONS.get(section.name)
        if spec is not None:
            setattr(result, section.name, builder.build(section, spec, frozenset()))
        elif section.name.startswith(WEBHOOK_PREFIX) and section.name[len(WEBHOOK_PREFIX) :]:
            _webhook(builder, section, result, diags)
        else:
            diags.warning(
                section.location,
                f"{conf.name} section [{section.name}] is not supported; ignored",
                did_you_mean(section.name, [*_SECTIONS, "webhook"]),
            )
    smtp = result.smtp
    if bool(smtp.username) != bool(smtp.password):
        diags.warning(
            smtp.where("username" if smtp.username else "password"),
            "smtp: username and password go together; without both, no login is attempted",
        )
    if smtp.retry_max < smtp.retry_delay:
        diags.warning(
            smtp.where("retry_max"),
            f"smtp: retry_max={smtp.retry_max:g} is below retry_delay={smtp.retry_delay:g}; "
            "every retry waits retry_delay",
        )
    return result


def _webhook(
    builder: ObjectBuilder, section: Section, result: SwitchboardConfig, diags: Diagnostics
) -> None:
    """One ``[webhook NAME]`` section; a webhook without a URL is an error."""
    hook = builder.build(section, WEBHOOK, frozenset())
    assert isinstance(hook, WebhookConfig)
    hook.name = section.name[len(WEBHOOK_PREFIX) :].strip()
    if not hook.url:
        if "url" not in hook.options:
            diags.error(section.location, f"webhook '{hook.name}': url= is required")
        return
    if any(other.name == hook.name for other in result.webhooks):
        diags.error(section.location, f"webhook '{hook.name}' is defined twice")
        return
    if not hook.secret:
        diags.warning(
            section.location,
            f"webhook '{hook.name}': no secret=; its requests are not signed",
            "set secret= so the receiver can check X-Switchboard-Signature",
        )
    result.webhooks.append(hook)
