"""Load a whole Asterisk config folder into one typed :class:`Config`, with diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.config.extensions import ExtensionsConfig, load_extensions
from switchboard.config.http import HttpConfig, default_http, load_http
from switchboard.config.ini import DEFAULT_MAX_BYTES, ConfigReader, ConfigSource
from switchboard.config.pjsip import PjsipConfig, load_pjsip
from switchboard.config.rtp import RtpConfig, load_rtp
from switchboard.config.switchboard import (
    MediaSettings,
    SecurityConfig,
    SmtpConfig,
    VoicemailLimits,
    WebhookConfig,
    default_media,
    default_security,
    default_smtp,
    default_voicemail_limits,
    load_switchboard,
)
from switchboard.config.voicemail import VoicemailConfig, load_voicemail
from switchboard.diagnostics import Diagnostics


@dataclass(slots=True)
class Config:
    """Everything the PBX runs from, as read from one config folder."""

    pjsip: PjsipConfig = field(default_factory=PjsipConfig)
    extensions: ExtensionsConfig = field(default_factory=ExtensionsConfig)
    voicemail: VoicemailConfig = field(default_factory=VoicemailConfig)
    rtp: RtpConfig = field(default_factory=lambda: load_rtp(None, Diagnostics()))
    security: SecurityConfig = field(default_factory=default_security)
    smtp: SmtpConfig = field(default_factory=default_smtp)
    voicemail_limits: VoicemailLimits = field(default_factory=default_voicemail_limits)
    media: MediaSettings = field(default_factory=default_media)
    webhooks: list[WebhookConfig] = field(default_factory=list)
    http: HttpConfig = field(default_factory=default_http)
    files: list[str] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)
    """Files that could not be read: checks that compare against them are skipped."""


def load_config(
    source: ConfigSource, diags: Diagnostics, max_bytes: int = DEFAULT_MAX_BYTES
) -> Config:
    """Read pjsip.conf and extensions.conf (required); voicemail.conf, rtp.conf,
    switchboard.conf and http.conf (optional)."""
    reader = ConfigReader(source, diags, max_bytes)
    config = Config()
    pjsip = reader.read("pjsip.conf")
    if pjsip is not None:
        config.pjsip = load_pjsip(pjsip, diags)
        config.files += pjsip.files
    extensions = reader.read("extensions.conf")
    if extensions is not None:
        config.extensions = load_extensions(extensions, diags)
        config.files += extensions.files
    voicemail = reader.read("voicemail.conf", required=False)
    if voicemail is not None:
        config.voicemail = load_voicemail(voicemail, diags)
        config.files += voicemail.files
    rtp = reader.read("rtp.conf", required=False)
    config.rtp = load_rtp(rtp, diags)
    if rtp is not None:
        config.files += rtp.files
    own = reader.read("switchboard.conf", required=False)
    settings = load_switchboard(own, diags)
    config.security = settings.security
    config.smtp = settings.smtp
    config.voicemail_limits = settings.voicemail
    config.media = settings.media
    config.webhooks = settings.webhooks
    if own is not None:
        config.files += own.files
    http = reader.read("http.conf", required=False)
    config.http = load_http(http, diags)
    if http is not None:
        config.files += http.files
    config.failed = reader.failed
    return config
