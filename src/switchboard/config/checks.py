"""Checks across files and for risky settings: what ``switchboard check-config`` adds to parsing.

Cross-references that make a feature fail at run time are errors (an endpoint naming an
auth that does not exist, a ``Dial(PJSIP/x)`` to no endpoint, ``VoiceMail(101)`` without
mailbox 101); settings that work but are unsafe or half-done are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from switchboard.config.ini import ConfigReader, ConfigSource, SourceError
from switchboard.config.loader import Config
from switchboard.config.objects import ConfigObject
from switchboard.config.pjsip import INTERMEDIATE_CIPHERS, Auth, Endpoint, Transport
from switchboard.diagnostics import Diagnostics, Location, did_you_mean
from switchboard.dialplan.model import Extension, Step

MIN_PASSWORD_LENGTH = 12
CERT_WARNING_DAYS = 30
MIN_PIN_LENGTH = 6
_OLD_TLS_METHODS = frozenset({"tlsv1", "tlsv1_1", "sslv2", "sslv3", "sslv23"})
_CHAN_SIP_OPTIONS = (
    "allow",
    "allowguest",
    "alwaysauthreject",
    "bindaddr",
    "bindport",
    "callerid",
    "canreinvite",
    "context",
    "defaultuser",
    "deny",
    "directmedia",
    "disallow",
    "dtmfmode",
    "encryption",
    "externaddr",
    "host",
    "insecure",
    "language",
    "localnet",
    "mailbox",
    "nat",
    "permit",
    "qualify",
    "secret",
    "srvlookup",
    "tcpbindaddr",
    "tcpenable",
    "tlsbindaddr",
    "tlscafile",
    "tlscertfile",
    "tlscipher",
    "tlsclientmethod",
    "tlsdontverifyserver",
    "tlsenable",
    "tlsprivatekey",
    "transport",
    "type",
    "udpbindaddr",
    "username",
    "videosupport",
)
_VARIABLE = re.compile(r"\$\{|\$\[")


def check_config(
    config: Config, source: ConfigSource, diags: Diagnostics, now: float | None = None
) -> None:
    """Run every cross-file and risk check, adding findings to ``diags``.

    A check that compares against a file that could not be read is skipped: its findings
    would only echo the read error.
    """
    unread = config.failed
    links = _links(config)
    if "pjsip.conf" not in unread:
        _pjsip_references(config, diags, check_contexts="extensions.conf" not in unread)
    if not unread & {"pjsip.conf", "extensions.conf", "voicemail.conf"}:
        _dialplan_references(config, links, diags)
        _mailbox_lamps(config, links, diags)
    _weak_passwords(config, links, diags)
    _weak_pins(config, diags)
    _transports(config, source, diags, now)
    _media_encryption(config, diags)
    _named_acls(config, diags)
    _chan_sip_leftovers(source, diags)


def _named_acls(config: Config, diags: Diagnostics) -> None:
    """acl.conf is not read: an ``acl=`` or ``contact_acl=`` naming one protects nothing."""
    for endpoint in config.pjsip.endpoints.values():
        for option in ("acl", "contact_acl"):
            for name in getattr(endpoint, option):
                diags.warning(
                    endpoint.where(option),
                    f"endpoint '{endpoint.name}': {option}={name} names an acl.conf ACL, "
                    "which Switchboard does not read; this endpoint is not restricted by it",
                    "use permit=/deny= (contact_permit=/contact_deny=) on the endpoint, "
                    "or a type=acl section in pjsip.conf",
                )


class _References:
    """Checks that names given in one object's options are defined objects of another type."""

    def __init__(self, config: Config, diags: Diagnostics) -> None:
        pjsip = config.pjsip
        self.diags = diags
        self.tables: dict[str, Mapping[str, object]] = {
            "auth": pjsip.auths,
            "aor": pjsip.aors,
            "transport": pjsip.transports,
            "endpoint": pjsip.endpoints,
        }

    def check(self, owner: str, obj: ConfigObject, option: str, kind: str) -> None:
        value = getattr(obj, option)
        names = (value,) if isinstance(value, str) else value
        defined = self.tables[kind]
        for name in names:
            if name and name not in defined:
                self.diags.error(
                    obj.where(option),
                    f"{owner} names {kind} '{name}', which is not defined",
                    did_you_mean(name, defined) or f"add a [{name}] section with type={kind}",
                )


def _pjsip_references(config: Config, diags: Diagnostics, *, check_contexts: bool) -> None:
    pjsip = config.pjsip
    refs = _References(config, diags)
    contexts = config.extensions.dialplan.contexts
    if not pjsip.transports:
        diags.warning(
            None,
            "pjsip.conf defines no transport: phones cannot reach the PBX",
            "add a [transport-udp] section with type=transport, protocol=udp, bind=0.0.0.0",
        )
    for ep in pjsip.endpoints.values():
        owner = f"endpoint '{ep.name}'"
        refs.check(owner, ep, "auth", "auth")
        refs.check(owner, ep, "outbound_auth", "auth")
        refs.check(owner, ep, "aors", "aor")
        refs.check(owner, ep, "transport", "transport")
        if check_contexts and ep.context not in contexts:
            diags.warning(
                ep.where("context"),
                f"{owner}: context '{ep.context}' is not in extensions.conf; "
                "its calls will get 404",
                did_you_mean(ep.context, contexts),
            )
        if not ep.codecs:
            diags.warning(
                ep.location,
                f"{owner} allows no codec, so no call can be set up",
                "add disallow=all then allow=ulaw (or the codecs the phone has)",
            )
        if not ep.auth and "username" in ep.identify_by:
            diags.warning(
                ep.location,
                f"{owner} has no auth=: anyone who knows its name can register and call as it",
                "add auth= naming a type=auth section",
            )
    for ident in pjsip.identifies.values():
        refs.check(f"identify '{ident.name}'", ident, "endpoint", "endpoint")
    for reg in pjsip.registrations.values():
        refs.check(f"registration '{reg.name}'", reg, "outbound_auth", "auth")
        refs.check(f"registration '{reg.name}'", reg, "transport", "transport")
    for aor in pjsip.aors.values():
        if aor.max_contacts == 0 and not aor.contact:
            diags.warning(
                aor.where("max_contacts"),
                f"aor '{aor.name}' has max_contacts=0 and no static contact: "
                "no phone can register to it",
                "set max_contacts=1 (or more for several devices)",
            )
        if aor.minimum_expiration > aor.maximum_expiration:
            diags.error(
                aor.where("minimum_expiration"),
                f"aor '{aor.name}': minimum_expiration={aor.minimum_expiration} is above "
                f"maximum_expiration={aor.maximum_expiration}",
            )


def _first_arg(args: str) -> str:
    return args.split(",", 1)[0].strip()


def dial_endpoints(step: Step) -> Iterator[tuple[str, str]]:
    """(technology, endpoint) of each target of a Dial step, variables skipped."""
    for target in _first_arg(step.args).split("&"):
        tech, sep, resource = target.strip().partition("/")
        if not sep or _VARIABLE.search(target):
            continue
        if "/" in resource:
            resource = resource.split("/", 1)[0]
        elif "@" in resource:
            resource = resource.split("@", 1)[1]
        yield tech, resource


def voicemail_boxes(step: Step) -> Iterator[str]:
    """Mailboxes named by a VoiceMail or VoiceMailMain step (``101@default&102``).

    ``VoiceMailMain(@lab)`` names only a context (the caller is asked for the box): skipped.
    """
    first = _first_arg(step.args)
    if not first or _VARIABLE.search(first):
        return
    for box in first.split("&"):
        if box.partition("@")[0].strip():
            yield box.strip()


def _qualified(box: str) -> str:
    return box if "@" in box else f"{box}@default"


@dataclass(slots=True)
class _ExtensionLinks:
    """What one extension's steps point at: dial targets and voicemail boxes."""

    extension: Extension
    dials: list[tuple[Step, str, str]] = field(default_factory=list)
    boxes: list[tuple[Step, str]] = field(default_factory=list)

    @property
    def pjsip_endpoints(self) -> set[str]:
        return {name for _step, tech, name in self.dials if tech.upper() == "PJSIP"}


def _links(config: Config) -> list[_ExtensionLinks]:
    """Every extension's dial targets and mailboxes, parsed once for all the checks."""
    result: list[_ExtensionLinks] = []
    for context in config.extensions.dialplan.contexts.values():
        for extension in context.extensions.values():
            links = _ExtensionLinks(extension)
            for step in extension.steps.values():
                app = step.app.lower()
                if app == "dial":
                    links.dials.extend((step, tech, name) for tech, name in dial_endpoints(step))
                elif app in ("voicemail", "voicemailmain"):
                    links.boxes.extend((step, box) for box in voicemail_boxes(step))
            result.append(links)
    return result


def _dialplan_references(config: Config, links: list[_ExtensionLinks], diags: Diagnostics) -> None:
    endpoints = config.pjsip.endpoints
    voicemail = config.voicemail
    for extension in links:
        for step, tech, name in extension.dials:
            if tech.upper() == "PJSIP" and name not in endpoints:
                diags.error(
                    step.location,
                    f"Dial(PJSIP/{name}) names endpoint '{name}', which is not "
                    "defined in pjsip.conf",
                    did_you_mean(name, endpoints),
                )
            elif tech.upper() == "SIP":
                diags.warning(
                    step.location,
                    f"Dial(SIP/{name}) uses chan_sip, which Asterisk 21 and Switchboard do not "
                    "have",
                    f"write Dial(PJSIP/{name})",
                )
        for step, box in extension.boxes:
            if voicemail.mailbox(box) is None:
                known = [m.address for m in voicemail.all_mailboxes()]
                diags.error(
                    step.location,
                    f"{step.app}({box}) names a mailbox that voicemail.conf does not define",
                    did_you_mean(_qualified(box), known)
                    or "add it to a mailbox context in voicemail.conf",
                )


def mailbox_owners(config: Config, links: list[_ExtensionLinks]) -> dict[str, set[str]]:
    """Endpoint name -> mailbox addresses that belong to it.

    A box belongs to an endpoint when one extension dials that endpoint and then sends the
    caller to that box (the reference's ``101 => Dial(PJSIP/alice)``, ``VoiceMail(101)``),
    or when the mailbox's full name is the endpoint's name.
    """
    owners: dict[str, set[str]] = {}
    for extension in links:
        boxes = {
            _qualified(box) for step, box in extension.boxes if step.app.lower() == "voicemail"
        }
        for name in extension.pjsip_endpoints:
            owners.setdefault(name, set()).update(boxes)
    for mailbox in config.voicemail.all_mailboxes():
        if mailbox.fullname in config.pjsip.endpoints:
            owners.setdefault(mailbox.fullname, set()).add(mailbox.address)
    return owners


def _mailbox_lamps(config: Config, links: list[_ExtensionLinks], diags: Diagnostics) -> None:
    pjsip = config.pjsip
    for name, boxes in sorted(mailbox_owners(config, links).items()):
        endpoint = pjsip.endpoints.get(name)
        if endpoint is None or not boxes:
            continue
        configured = set(endpoint.mailboxes)
        for aor_name in endpoint.aors:
            aor = pjsip.aors.get(aor_name)
            if aor is not None:
                configured.update(aor.mailboxes)
        missing = sorted(boxes - {_qualified(b) for b in configured})
        if missing:
            diags.warning(
                endpoint.location,
                f"endpoint '{name}' has voicemail box {', '.join(missing)} but no mailboxes= "
                "naming it, so its phone's message lamp never lights",
                f"add mailboxes={','.join(missing)} to endpoint '{name}'",
            )
    for ep in pjsip.endpoints.values():
        for box in ep.mailboxes:
            if config.voicemail.mailbox(box) is None:
                diags.warning(
                    ep.where("mailboxes"),
                    f"endpoint '{ep.name}': mailboxes={box} is not a mailbox of voicemail.conf",
                )


def _extensions_reaching(links: list[_ExtensionLinks]) -> dict[str, set[str]]:
    """Endpoint name -> literal extension numbers whose dialplan dials it."""
    reach: dict[str, set[str]] = {}
    for extension in links:
        pattern = extension.extension.pattern
        if pattern.is_pattern:
            continue
        for _step, _tech, name in extension.dials:
            reach.setdefault(name, set()).add(pattern.literal)
    return reach


def password_weaknesses(password: str, names: Iterable[str]) -> list[str]:
    """Reasons a SIP password is easy to guess; empty when none apply."""
    reasons: list[str] = []
    lowered = password.lower()
    if len(password) < MIN_PASSWORD_LENGTH:
        reasons.append(f"only {len(password)} characters")
    for name in sorted({n for n in names if n}):
        if name.lower() in lowered:
            reasons.append(f"contains '{name}'")
    if password.isdigit():
        reasons.append("digits only")
    return reasons


def _weak_passwords(config: Config, links: list[_ExtensionLinks], diags: Diagnostics) -> None:
    """Inbound secrets only: an outbound_auth holds what a provider chose, not our policy."""
    reach = _extensions_reaching(links)
    pjsip = config.pjsip
    users_of: dict[str, set[str]] = {}
    for ep in pjsip.endpoints.values():
        for auth_name in ep.auth:
            users_of.setdefault(auth_name, set()).update({ep.name, *reach.get(ep.name, ())})
    outbound = [ep.outbound_auth for ep in pjsip.endpoints.values()]
    outbound += [reg.outbound_auth for reg in pjsip.registrations.values()]
    outbound_only = {name for names in outbound for name in names} - set(users_of)
    for auth in pjsip.auths.values():
        if auth.name in outbound_only:
            continue
        _check_auth(auth, users_of.get(auth.name, set()), diags)


def _check_auth(auth: Auth, related: set[str], diags: Diagnostics) -> None:
    if auth.auth_type == "md5":
        if len(auth.md5_cred) != 32:
            diags.error(
                auth.where("md5_cred"),
                f"auth '{auth.name}': md5_cred must be 32 hex digits (MD5 of "
                "username:realm:password)",
            )
        return
    if not auth.password:
        diags.warning(auth.where("password"), f"auth '{auth.name}' has an empty password")
        return
    reasons = password_weaknesses(auth.password, {auth.username, auth.name, *related})
    if reasons:
        diags.warning(
            auth.where("password"),
            f"auth '{auth.name}': weak password ({', '.join(reasons)})",
            f"use {MIN_PASSWORD_LENGTH}+ random characters; the phone stores it, nobody types it",
        )


def pin_weaknesses(pin: str, box: str) -> list[str]:
    """Reasons a voicemail PIN is easy to guess."""
    digits = pin.lstrip("-*")
    reasons: list[str] = []
    if len(digits) < MIN_PIN_LENGTH:
        reasons.append(f"only {len(digits)} digits")
    if digits == box or box in digits:
        reasons.append("contains the mailbox number")
    if len(set(digits)) == 1:
        reasons.append("one digit repeated")
    elif digits.isdigit() and len(digits) > 2:
        steps = {int(b) - int(a) for a, b in pairwise(digits)}
        if steps in ({1}, {-1}):
            reasons.append("a run of consecutive digits")
    return reasons


def _weak_pins(config: Config, diags: Diagnostics) -> None:
    for mailbox in config.voicemail.all_mailboxes():
        if not mailbox.pin:
            diags.warning(mailbox.location, f"mailbox {mailbox.address} has no PIN")
            continue
        reasons = pin_weaknesses(mailbox.pin, mailbox.box)
        if reasons:
            diags.warning(
                mailbox.location,
                f"mailbox {mailbox.address}: weak PIN ({', '.join(reasons)})",
                f"use {MIN_PIN_LENGTH}+ digits that are not a pattern",
            )


def _transports(
    config: Config, source: ConfigSource, diags: Diagnostics, now: float | None
) -> None:
    for transport in config.pjsip.transports.values():
        if transport.protocol not in ("tls", "wss"):
            continue
        _tls_files(transport, source, diags)
        if now is not None and transport.cert_file and source.mode(transport.cert_file):
            _expiry(transport, source, diags, now)
        if transport.method in _OLD_TLS_METHODS:
            diags.warning(
                transport.where("method"),
                f"transport '{transport.name}': method={transport.method} is obsolete; "
                "Switchboard accepts only TLS 1.2 and 1.3",
                "remove method= for both, or set tlsv1_2 or tlsv1_3 for that version alone",
            )
        outside = [name for name in transport.cipher if name not in INTERMEDIATE_CIPHERS]
        if outside:
            diags.warning(
                transport.where("cipher"),
                f"transport '{transport.name}': cipher {':'.join(outside)} is outside "
                "Mozilla's intermediate TLS profile (it may allow CBC, RSA key exchange or "
                "SHA-1)",
                "remove cipher= to use the profile's ECDHE AES-GCM/ChaCha20 suites",
            )


def _tls_files(transport: Transport, source: ConfigSource, diags: Diagnostics) -> None:
    owner = f"transport '{transport.name}'"
    if transport.protocol == "tls" and not transport.cert_file:
        diags.error(
            transport.location,
            f"{owner} is TLS but has no cert_file",
            "make one with: switchboard tls-cert -C HOST -O ORG -d DIR",
        )
    for option in ("cert_file", "priv_key_file", "ca_list_file"):
        path = getattr(transport, option)
        if not path:
            continue
        mode = source.mode(path)
        if mode is None:
            diags.error(transport.where(option), f"{owner}: {option} {path} does not exist")
        elif option == "priv_key_file" and mode & 0o077:
            diags.warning(
                transport.where(option),
                f"{owner}: private key {path} is readable by other users (mode {mode & 0o777:o})",
                f"chmod 600 {path}",
            )


def _expiry(transport: Transport, source: ConfigSource, diags: Diagnostics, now: float) -> None:
    """An expired certificate is an error; one expiring within 30 days a warning
    (cryptography's X.509 is imported here: a site without TLS never needs it)."""
    from cryptography import x509

    where = transport.where("cert_file")
    try:
        cert = x509.load_pem_x509_certificate(source.read(transport.cert_file, 1 << 20))
    except (SourceError, ValueError):
        diags.error(
            where, f"transport '{transport.name}': {transport.cert_file} is not a PEM certificate"
        )
        return
    left = cert.not_valid_after_utc.timestamp() - now
    until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
    if left <= 0:
        diags.error(
            where,
            f"transport '{transport.name}': certificate {transport.cert_file} expired on {until}",
            "renew it with switchboard tls-cert",
        )
    elif left < CERT_WARNING_DAYS * 86400:
        diags.warning(
            where,
            f"transport '{transport.name}': certificate {transport.cert_file} expires on "
            f"{until}, in {int(left // 86400)} days",
            "renew it with switchboard tls-cert",
        )


def _media_encryption(config: Config, diags: Diagnostics) -> None:
    transports = config.pjsip.transports
    for ep in config.pjsip.endpoints.values():
        if ep.media_encryption != "sdes":
            continue
        usable = _usable_transports(ep, transports)
        if usable and not any(t.encrypted for t in usable):
            names = ", ".join(f"'{t.name}' ({t.protocol})" for t in usable)
            if config.security.sdes_over_plain_transport:
                effect = "sends the SRTP keys in clear (sdes_over_plain_transport = yes)"
            elif ep.media_encryption_optimistic:
                effect = "would send the SRTP keys in clear: its calls use plain RTP instead"
            else:
                effect = "would send the SRTP keys in clear: its calls are refused with 488"
            diags.warning(
                ep.where("media_encryption"),
                f"endpoint '{ep.name}': media_encryption=sdes over unencrypted transport "
                f"{names} {effect}",
                "add a TLS transport and set transport= to it",
            )


def _usable_transports(ep: Endpoint, transports: dict[str, Transport]) -> list[Transport]:
    if ep.transport:
        found = transports.get(ep.transport)
        return [found] if found is not None else []
    return list(transports.values())


def _chan_sip_leftovers(source: ConfigSource, diags: Diagnostics) -> None:
    """sip.conf belongs to chan_sip, gone since Asterisk 21: say so, and what to move where."""
    sip = ConfigReader(source, diags).read("sip.conf", required=False)
    if sip is None:
        return
    diags.warning(
        Location("sip.conf", 1),
        "sip.conf is read by chan_sip, which Asterisk 21 and Switchboard do not have; "
        "this file is ignored",
        "move accounts and transports to pjsip.conf",
    )
    for section in sip.sections:
        type_item = section.get("type")
        if type_item is not None and type_item.value.strip().lower() == "transport":
            diags.warning(
                section.location,
                f"[{section.name}] is a pjsip transport; it only takes effect in pjsip.conf",
                "move this block to pjsip.conf",
            )
            continue
        for item in section.items:
            if item.key.lower() not in _CHAN_SIP_OPTIONS:
                diags.warning(
                    item.location,
                    f"'{item.key}' is not a chan_sip option either",
                    did_you_mean(item.key, _CHAN_SIP_OPTIONS, cutoff=0.5),
                )
