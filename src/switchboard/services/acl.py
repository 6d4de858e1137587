"""Asterisk's ACLs at run time: pjsip ``type=acl`` sections for every request (as
res_pjsip_acl applies them), an endpoint's ``permit``/``deny`` for its source address,
``contact_permit``/``contact_deny`` for the addresses a REGISTER binds. Named ACLs of
acl.conf (an endpoint's ``acl=``, ``contact_acl=``) are not read.

Rules apply in the order written and the last one that matches decides, from a default
of permit, as ``ast_apply_ha`` does. A refusal is answered 403 and counted against the
source as a ``FailedACL`` security offence (Asterisk's security event of that name).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from switchboard.config.pjsip import AclRule, Endpoint, PjsipConfig
from switchboard.sip.errors import SipError
from switchboard.sip.message import SipRequest
from switchboard.sip.uri import sip_user_host


def permitted(rules: Iterable[AclRule], address: str) -> bool:
    """Whether ``address`` passes ``rules``; an address that is not an IP never does."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    allowed = True
    for action, network in rules:
        if ip.version == network.version and ip in network:
            allowed = action == "permit"
    return allowed


class Acls:
    """The ACLs of one configuration, ready to check requests against."""

    def __init__(self, pjsip: PjsipConfig) -> None:
        self.pjsip = pjsip
        self.global_rules: tuple[AclRule, ...] = tuple(
            rule for acl in pjsip.acls.values() for rule in acl.ip_rules
        )
        self.global_contact_rules: tuple[AclRule, ...] = tuple(
            rule for acl in pjsip.acls.values() for rule in acl.contact_rules
        )
        self.active = bool(self.global_rules) or any(e.ip_rules for e in pjsip.endpoints.values())
        """Whether any source rule exists at all (else requests skip the check)."""

    def source_refused(self, address: str, endpoint: Endpoint | None) -> str | None:
        """Why a request from ``address`` (for ``endpoint``, once identified) is refused."""
        if self.global_rules and not permitted(self.global_rules, address):
            return "denied by a pjsip.conf type=acl section"
        if endpoint is None:
            return None
        rules = endpoint.ip_rules
        if rules and not permitted(rules, address):
            return f"denied by endpoint {endpoint.name}'s permit/deny"
        return None

    def contact_refused(self, request: SipRequest, endpoint: Endpoint) -> str | None:
        """Why the Contact addresses of a REGISTER are refused (``contact_deny``)."""
        rules = (*self.global_contact_rules, *endpoint.contact_rules)
        if not rules:
            return None
        for host in _contact_hosts(request):
            if not permitted(rules, host):
                return f"contact address {host} denied for endpoint {endpoint.name}"
        return None


def _contact_hosts(request: SipRequest) -> list[str]:
    hosts = []
    try:
        values = request.headers.get_all("contact")
    except SipError:
        return []
    for value in values:
        start, end = value.find("<"), value.find(">")
        uri = value[start + 1 : end] if 0 <= start < end else value.split(";")[0]
        parts = sip_user_host(uri.strip())
        if parts is not None:
            hosts.append(parts[1])
    return hosts
