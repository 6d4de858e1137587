"""Typed model of pjsip.conf: transports, endpoints, auths, AORs, identifies, ACLs, trunks.

Option names are Asterisk's, verbatim, so ``grep allow=`` in the Asterisk docs finds the
field; defaults are Asterisk 21's. Objects are keyed by (type, name): the reference config
names ``[alice]`` three times, once per type.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TypeVar

from switchboard.config.catalog import ASTERISK_CODECS, PJSIP_OPTIONS
from switchboard.config.ini import ConfigFile
from switchboard.config.objects import Accumulator, ConfigObject, ObjectBuilder, ObjectSpec
from switchboard.config.values import (
    CallerId,
    HostPort,
    one_of,
    split_codecs,
    to_bool,
    to_callerid,
    to_float,
    to_host_port,
    to_int,
    to_list,
    to_network,
    to_text,
)
from switchboard.diagnostics import Diagnostics, did_you_mean

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
AclRule = tuple[str, Network]
"""("permit" | "deny", network), applied in the order written."""

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "ws": 8088, "wss": 8089}
AUDIO_CODECS = ("ulaw", "alaw", "g722", "opus", "gsm", "g726", "g729", "ilbc", "speex", "slin")


def _codecs(current: object, option: str, text: str) -> tuple[str, ...]:
    """Apply one allow= or disallow= line to the ordered codec preference list."""
    assert isinstance(current, tuple)
    codecs: list[str] = list(current)
    for name in split_codecs(text):
        if name == "all":
            codecs = (
                []
                if option == "disallow"
                else [*codecs, *(c for c in AUDIO_CODECS if c not in codecs)]
            )
            continue
        if name not in ASTERISK_CODECS:
            hint = did_you_mean(name, ASTERISK_CODECS)
            raise ValueError(f"unknown codec {name!r}" + (f" ({hint})" if hint else ""))
        if option == "disallow":
            codecs = [c for c in codecs if c != name]
        elif name not in codecs:
            codecs.append(name)
    return tuple(codecs)


def _acl(current: object, option: str, text: str) -> tuple[AclRule, ...]:
    """Apply one permit= or deny= line to the ordered rules; ``!net`` inverts the action."""
    assert isinstance(current, tuple)
    rules: list[AclRule] = []
    for part in to_list(text):
        inverted = part.startswith("!")
        action = ("deny" if option == "permit" else "permit") if inverted else option
        rules.append((action, to_network(part.removeprefix("!"))))
    return (*current, *rules)


def _networks(current: object, _option: str, text: str) -> tuple[Network, ...]:
    """local_net= may be repeated, one network per line."""
    assert isinstance(current, tuple)
    return (*current, to_network(text))


def _contact_acl(current: object, option: str, text: str) -> tuple[AclRule, ...]:
    """contact_permit= / contact_deny= lines, as permit/deny rules."""
    return _acl(current, option.removeprefix("contact_"), text)


DIGEST_ALGORITHMS = ("MD5", "SHA-256", "SHA-512-256")


def _algorithms(text: str) -> tuple[str, ...]:
    """Digest algorithms to challenge with, most preferred first (RFC 8760)."""
    names: list[str] = []
    for part in to_list(text):
        match = next((a for a in DIGEST_ALGORITHMS if a.lower() == part.lower()), None)
        if match is None:
            raise ValueError(f"{part!r} is not one of {', '.join(DIGEST_ALGORITHMS)}")
        names.append(match)
    if not names:
        raise ValueError("no algorithm given")
    return tuple(names)


def _extend(current: object, option: str, text: str) -> tuple[str, ...]:
    """Options that may be given on several lines (``acl=a`` then ``acl=b``) add up."""
    assert isinstance(current, tuple)
    return (*current, *to_list(text))


INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)
"""Mozilla intermediate's TLS 1.2 suites (version 5.7) less the DHE ones: what a TLS
transport offers unless ``cipher=`` says otherwise (``check-config`` warns when it does)."""


@dataclass(slots=True)
class Transport(ConfigObject):
    protocol: str = "udp"
    bind: HostPort = field(default_factory=lambda: HostPort("0.0.0.0", None))
    cert_file: str = ""
    priv_key_file: str = ""
    ca_list_file: str = ""
    ca_list_path: str = ""
    password: str = ""
    method: str = ""
    cipher: tuple[str, ...] = ()
    verify_client: bool = False
    verify_server: bool = False
    require_client_cert: bool = False
    external_media_address: str = ""
    external_signaling_address: str = ""
    external_signaling_port: int = 0
    local_net: tuple[Network, ...] = ()
    allow_reload: bool = False
    symmetric_transport: bool = False
    tos: str = ""
    cos: int = 0

    @property
    def port(self) -> int:
        """The port to listen on: the one in bind=, else the protocol's standard port."""
        return self.bind.port if self.bind.port is not None else DEFAULT_PORTS[self.protocol]

    @property
    def encrypted(self) -> bool:
        return self.protocol in ("tls", "wss")


@dataclass(slots=True)
class Endpoint(ConfigObject):
    context: str = "default"
    codecs: tuple[str, ...] = ()
    auth: tuple[str, ...] = ()
    outbound_auth: tuple[str, ...] = ()
    aors: tuple[str, ...] = ()
    transport: str = ""
    language: str = ""
    dtmf_mode: str = "rfc4733"
    direct_media: bool = True
    direct_media_method: str = "invite"
    disable_direct_media_on_nat: bool = False
    rtp_symmetric: bool = False
    force_rport: bool = True
    rewrite_contact: bool = False
    media_encryption: str = "no"
    media_encryption_optimistic: bool = False
    mailboxes: tuple[str, ...] = ()
    voicemail_extension: str = ""
    callerid: CallerId | None = None
    identify_by: tuple[str, ...] = ("username", "ip")
    ip_rules: tuple[AclRule, ...] = ()
    acl: tuple[str, ...] = ()
    contact_rules: tuple[AclRule, ...] = ()
    contact_acl: tuple[str, ...] = ()
    from_user: str = ""
    from_domain: str = ""
    allow_subscribe: bool = True
    allow_transfer: bool = True
    rel100: str = "yes"
    timers: str = "yes"
    timers_min_se: int = 90
    timers_sess_expires: int = 1800
    rtp_timeout: int = 0
    rtp_timeout_hold: int = 0
    ice_support: bool = False
    use_avpf: bool = False
    rtp_ipv6: bool = False
    moh_suggest: str = "default"
    device_state_busy_at: int = 0
    max_audio_streams: int = 1
    inband_progress: bool = False
    trust_id_inbound: bool = False
    send_pai: bool = False
    srtp_tag_32: bool = False


@dataclass(slots=True)
class Auth(ConfigObject):
    auth_type: str = "userpass"
    username: str = ""
    password: str = ""
    md5_cred: str = ""
    realm: str = ""
    nonce_lifetime: int = 32


@dataclass(slots=True)
class Aor(ConfigObject):
    max_contacts: int = 0
    remove_existing: bool = False
    remove_unavailable: bool = False
    default_expiration: int = 3600
    minimum_expiration: int = 60
    maximum_expiration: int = 7200
    qualify_frequency: int = 0
    qualify_timeout: float = 3.0
    authenticate_qualify: bool = False
    contact: tuple[str, ...] = ()
    mailboxes: tuple[str, ...] = ()
    voicemail_extension: str = ""
    support_path: bool = False
    outbound_proxy: str = ""


@dataclass(slots=True)
class Identify(ConfigObject):
    endpoint: str = ""
    match: tuple[str, ...] = ()
    match_header: str = ""
    srv_lookups: bool = True


@dataclass(slots=True)
class Acl(ConfigObject):
    ip_rules: tuple[AclRule, ...] = ()
    acl: tuple[str, ...] = ()
    contact_rules: tuple[AclRule, ...] = ()
    contact_acl: tuple[str, ...] = ()


@dataclass(slots=True)
class Registration(ConfigObject):
    server_uri: str = ""
    client_uri: str = ""
    contact_user: str = ""
    transport: str = ""
    outbound_auth: tuple[str, ...] = ()
    outbound_proxy: str = ""
    expiration: int = 3600
    retry_interval: int = 60
    forbidden_retry_interval: int = 0
    fatal_retry_interval: int = 0
    max_retries: int = 10
    auth_rejection_permanent: bool = True
    line: bool = False
    endpoint: str = ""
    support_path: bool = False


@dataclass(slots=True)
class Global(ConfigObject):
    max_forwards: int = 70
    user_agent: str = "Switchboard"
    default_realm: str = "asterisk"
    keep_alive_interval: int = 90
    endpoint_identifier_order: tuple[str, ...] = ("ip", "username", "anonymous")
    default_outbound_endpoint: str = "default_outbound_endpoint"
    max_initial_qualify_time: int = 0
    ignore_uri_user_options: bool = False
    default_auth_algorithms_uas: tuple[str, ...] = ("MD5",)


@dataclass(slots=True)
class System(ConfigObject):
    timer_t1: int = 500
    timer_b: int = 32000
    compact_headers: bool = False
    disable_tcp_switch: bool = True
    follow_early_media_fork: bool = True


_BOOL = to_bool
_TEXT = to_text
_LIST = to_list

_ACL_OPTIONS: dict[str, tuple[str, Accumulator]] = {
    "permit": ("ip_rules", _acl),
    "deny": ("ip_rules", _acl),
    "acl": ("acl", _extend),
    "contact_permit": ("contact_rules", _contact_acl),
    "contact_deny": ("contact_rules", _contact_acl),
    "contact_acl": ("contact_acl", _extend),
}
"""Address rules, shared by endpoints and type=acl sections, read in order."""

TRANSPORT = ObjectSpec(
    "transport",
    Transport,
    {
        "protocol": one_of("udp", "tcp", "tls", "ws", "wss"),
        "bind": to_host_port,
        "cert_file": _TEXT,
        "priv_key_file": _TEXT,
        "ca_list_file": _TEXT,
        "ca_list_path": _TEXT,
        "password": _TEXT,
        "method": one_of(
            "default",
            "unspecified",
            "tlsv1",
            "tlsv1_1",
            "tlsv1_2",
            "tlsv1_3",
            "sslv2",
            "sslv23",
            "sslv3",
        ),
        "cipher": _LIST,
        "verify_client": _BOOL,
        "verify_server": _BOOL,
        "require_client_cert": _BOOL,
        "external_media_address": _TEXT,
        "external_signaling_address": _TEXT,
        "external_signaling_port": to_int(0, 65535),
        "allow_reload": _BOOL,
        "symmetric_transport": _BOOL,
        "tos": _TEXT,
        "cos": to_int(0, 7),
    },
    {"local_net": ("local_net", _networks)},
    PJSIP_OPTIONS["transport"],
)

ENDPOINT = ObjectSpec(
    "endpoint",
    Endpoint,
    {
        "context": _TEXT,
        "auth": _LIST,
        "outbound_auth": _LIST,
        "aors": _LIST,
        "transport": _TEXT,
        "language": _TEXT,
        "dtmf_mode": one_of("rfc4733", "inband", "info", "auto", "auto_info"),
        "direct_media": _BOOL,
        "direct_media_method": one_of("invite", "reinvite", "update"),
        "disable_direct_media_on_nat": _BOOL,
        "rtp_symmetric": _BOOL,
        "force_rport": _BOOL,
        "rewrite_contact": _BOOL,
        "media_encryption": one_of("no", "sdes", "dtls"),
        "media_encryption_optimistic": _BOOL,
        "mailboxes": _LIST,
        "voicemail_extension": _TEXT,
        "callerid": to_callerid,
        "identify_by": _LIST,
        "from_user": _TEXT,
        "from_domain": _TEXT,
        "allow_subscribe": _BOOL,
        "allow_transfer": _BOOL,
        "100rel": one_of("no", "required", "peer_supported", "yes"),
        "timers": one_of("no", "yes", "required", "always", "forced"),
        "timers_min_se": to_int(90),
        "timers_sess_expires": to_int(90),
        "rtp_timeout": to_int(0),
        "rtp_timeout_hold": to_int(0),
        "ice_support": _BOOL,
        "use_avpf": _BOOL,
        "rtp_ipv6": _BOOL,
        "moh_suggest": _TEXT,
        "device_state_busy_at": to_int(0),
        "max_audio_streams": to_int(1),
        "inband_progress": _BOOL,
        "trust_id_inbound": _BOOL,
        "send_pai": _BOOL,
        "srtp_tag_32": _BOOL,
    },
    {"allow": ("codecs", _codecs), "disallow": ("codecs", _codecs), **_ACL_OPTIONS},
    PJSIP_OPTIONS["endpoint"],
    {"100rel": "rel100"},
)

AUTH = ObjectSpec(
    "auth",
    Auth,
    {
        "auth_type": one_of("userpass", "md5", "digest", "google_oauth"),
        "username": _TEXT,
        "password": _TEXT,
        "md5_cred": _TEXT,
        "realm": _TEXT,
        "nonce_lifetime": to_int(1),
    },
    {},
    PJSIP_OPTIONS["auth"],
)

AOR = ObjectSpec(
    "aor",
    Aor,
    {
        "max_contacts": to_int(0),
        "remove_existing": _BOOL,
        "remove_unavailable": _BOOL,
        "default_expiration": to_int(1),
        "minimum_expiration": to_int(1),
        "maximum_expiration": to_int(1),
        "qualify_frequency": to_int(0, 86400),
        "qualify_timeout": to_float(0.0),
        "authenticate_qualify": _BOOL,
        "mailboxes": _LIST,
        "voicemail_extension": _TEXT,
        "support_path": _BOOL,
        "outbound_proxy": _TEXT,
    },
    {"contact": ("contact", _extend)},
    PJSIP_OPTIONS["aor"],
)

IDENTIFY = ObjectSpec(
    "identify",
    Identify,
    {"endpoint": _TEXT, "match_header": _TEXT, "srv_lookups": _BOOL},
    {"match": ("match", _extend)},
    PJSIP_OPTIONS["identify"],
)

ACL = ObjectSpec(
    "acl",
    Acl,
    {},
    _ACL_OPTIONS,
    PJSIP_OPTIONS["acl"],
)

REGISTRATION = ObjectSpec(
    "registration",
    Registration,
    {
        "server_uri": _TEXT,
        "client_uri": _TEXT,
        "contact_user": _TEXT,
        "transport": _TEXT,
        "outbound_auth": _LIST,
        "outbound_proxy": _TEXT,
        "expiration": to_int(1),
        "retry_interval": to_int(1),
        "forbidden_retry_interval": to_int(0),
        "fatal_retry_interval": to_int(0),
        "max_retries": to_int(0),
        "auth_rejection_permanent": _BOOL,
        "line": _BOOL,
        "endpoint": _TEXT,
        "support_path": _BOOL,
    },
    {},
    PJSIP_OPTIONS["registration"],
)

GLOBAL = ObjectSpec(
    "global",
    Global,
    {
        "max_forwards": to_int(1, 255),
        "user_agent": _TEXT,
        "default_realm": _TEXT,
        "keep_alive_interval": to_int(0),
        "endpoint_identifier_order": _LIST,
        "default_outbound_endpoint": _TEXT,
        "max_initial_qualify_time": to_int(0),
        "ignore_uri_user_options": _BOOL,
        "default_auth_algorithms_uas": _algorithms,
    },
    {},
    PJSIP_OPTIONS["global"],
)

SYSTEM = ObjectSpec(
    "system",
    System,
    {
        "timer_t1": to_int(100),
        "timer_b": to_int(500),
        "compact_headers": _BOOL,
        "disable_tcp_switch": _BOOL,
        "follow_early_media_fork": _BOOL,
    },
    {},
    PJSIP_OPTIONS["system"],
)

_T = TypeVar("_T", bound=ConfigObject)

SPECS: dict[str, ObjectSpec] = {
    spec.kind: spec
    for spec in (TRANSPORT, ENDPOINT, AUTH, AOR, IDENTIFY, ACL, REGISTRATION, GLOBAL, SYSTEM)
}
_SKIP = frozenset({"type"})


@dataclass(slots=True)
class PjsipConfig:
    """Every object of pjsip.conf, by type then name."""

    transports: dict[str, Transport] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    auths: dict[str, Auth] = field(default_factory=dict)
    aors: dict[str, Aor] = field(default_factory=dict)
    identifies: dict[str, Identify] = field(default_factory=dict)
    acls: dict[str, Acl] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    global_: Global | None = None
    system: System | None = None

    def table(self, kind: str) -> dict[str, ConfigObject] | None:
        tables: dict[str, dict[str, ConfigObject]] = {
            "transport": self.transports,  # type: ignore[dict-item]
            "endpoint": self.endpoints,  # type: ignore[dict-item]
            "auth": self.auths,  # type: ignore[dict-item]
            "aor": self.aors,  # type: ignore[dict-item]
            "identify": self.identifies,  # type: ignore[dict-item]
            "acl": self.acls,  # type: ignore[dict-item]
            "registration": self.registrations,  # type: ignore[dict-item]
        }
        return tables.get(kind)


def load_pjsip(conf: ConfigFile, diags: Diagnostics) -> PjsipConfig:
    """Build the typed pjsip model; every problem becomes a diagnostic, never an exception."""
    result = PjsipConfig()
    builder = ObjectBuilder(diags)
    for section in conf.sections:
        if section.template:
            continue
        type_item = section.get("type")
        if type_item is None:
            diags.warning(
                section.location,
                f"section [{section.name}] has no type= and is ignored, as Asterisk does",
                "add type=endpoint, auth, aor, transport, ... or mark it a template with (!)",
            )
            continue
        kind = type_item.value.strip().lower()
        if not kind:
            diags.error(
                type_item.location,
                f"[{section.name}] has an empty type=",
                "set type=endpoint, auth, aor, transport, ...",
            )
            continue
        spec = SPECS.get(kind)
        if spec is None:
            if kind in PJSIP_OPTIONS:
                diags.warning(
                    section.location,
                    f"pjsip object type '{kind}' is not supported by Switchboard yet; "
                    f"[{section.name}] is ignored",
                )
            else:
                diags.error(
                    type_item.location,
                    f"[{section.name}] has unknown type '{type_item.value}'",
                    did_you_mean(kind, PJSIP_OPTIONS),
                )
            continue
        obj = builder.build(section, spec, _SKIP)
        if kind == "global":
            assert isinstance(obj, Global)
            result.global_ = _single(result.global_, obj, diags, kind)
            continue
        if kind == "system":
            assert isinstance(obj, System)
            result.system = _single(result.system, obj, diags, kind)
            continue
        table = result.table(kind)
        assert table is not None
        first = table.get(section.name)
        if first is not None:
            diags.error(
                section.location,
                f"{kind} '{section.name}' is defined twice (first at {first.location})",
                "give each object of one type a distinct name",
            )
            continue
        table[section.name] = obj
    return result


def _single(current: _T | None, new: _T, diags: Diagnostics, kind: str) -> _T:
    """global and system are singletons: a second section is an error, the first one wins."""
    if current is not None:
        diags.error(
            new.location,
            f"a second type={kind} section [{new.name}] (the first is at {current.location})",
            f"pjsip.conf has one {kind} section; merge them",
        )
        return current
    return new
