"""What a reload changes: two configurations compared object by object, by name.

Objects are compared by their typed values, never by where they were written, so moving a
section or adding a comment changes nothing. A change names the options that differ but
never their values: an auth's ``password`` is reported as changed, not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass

from switchboard.config.loader import Config
from switchboard.config.objects import ConfigObject
from switchboard.dialplan.model import Context, Extension

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"

_NOT_VALUES = frozenset({"name", "location"})


@dataclass(frozen=True, slots=True)
class Change:
    """One object added, removed or changed (with the names of what differs)."""

    kind: str
    name: str
    action: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = " ".join(part for part in (self.kind, self.name, self.action) if part)
        return f"{text}: {', '.join(self.details)}" if self.details else text


def values(obj: object) -> dict[str, object]:
    """The typed values of a config object: every field but its name, location and raw
    options (kept for file:line, and the typed fields already hold their meaning)."""
    assert is_dataclass(obj)
    skip = _NOT_VALUES | {"options"} if isinstance(obj, ConfigObject) else _NOT_VALUES
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.name not in skip}


def differing(old: object, new: object) -> tuple[str, ...]:
    """The names of the values that differ between two objects of one kind."""
    before, after = values(old), values(new)
    return tuple(name for name in after if before.get(name) != after[name])


def _compare(kind: str, old: Mapping[str, object], new: Mapping[str, object]) -> list[Change]:
    changes = [Change(kind, name, REMOVED) for name in old if name not in new]
    for name, obj in new.items():
        before = old.get(name)
        if before is None:
            changes.append(Change(kind, name, ADDED))
            continue
        details = differing(before, obj)
        if details:
            changes.append(Change(kind, name, CHANGED, details))
    return changes


def _compare_values(kind: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    """Plain named values (voicemail.conf ``[zonemessages]``)."""
    changes = [Change(kind, name, REMOVED) for name in old if name not in new]
    for name, value in new.items():
        if name not in old:
            changes.append(Change(kind, name, ADDED))
        elif old[name] != value:
            changes.append(Change(kind, name, CHANGED))
    return changes


def _single(kind: str, old: object | None, new: object | None) -> list[Change]:
    """A settings section that exists once (pjsip ``[global]``, voicemail ``[general]``)."""
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [Change(kind, "", ADDED if old is None else REMOVED)]
    details = differing(old, new)
    return [Change(kind, "", CHANGED, details)] if details else []


def _extension_key(extension: Extension) -> str:
    text = extension.pattern.text
    return f"{text}/{extension.callerid}" if extension.callerid else text


def _extension_values(extension: Extension) -> tuple[object, ...]:
    steps = tuple((s.priority, s.label, s.app, s.args) for s in extension.ordered_steps())
    return steps, extension.hint


def context_details(old: Context, new: Context) -> tuple[str, ...]:
    """What differs between two versions of a dialplan context, extension by extension."""
    before = {_extension_key(e): _extension_values(e) for e in old.extensions.values()}
    after = {_extension_key(e): _extension_values(e) for e in new.extensions.values()}
    details = [f"extension {name} removed" for name in before if name not in after]
    for name, value in after.items():
        if name not in before:
            details.append(f"extension {name} added")
        elif before[name] != value:
            details.append(f"extension {name} changed")
    if [(i.context, i.condition) for i in old.includes] != [
        (i.context, i.condition) for i in new.includes
    ]:
        details.append("includes changed")
    if [p for p, _ in old.ignorepats] != [p for p, _ in new.ignorepats]:
        details.append("ignorepat changed")
    if [s for s, _ in old.switches] != [s for s, _ in new.switches]:
        details.append("switches changed")
    return tuple(details)


def _contexts(old: Mapping[str, Context], new: Mapping[str, Context]) -> list[Change]:
    changes = [Change("context", name, REMOVED) for name in old if name not in new]
    for name, context in new.items():
        before = old.get(name)
        if before is None:
            changes.append(Change("context", name, ADDED))
            continue
        details = context_details(before, context)
        if details:
            changes.append(Change("context", name, CHANGED, details))
    return changes


def diff_configs(old: Config, new: Config) -> list[Change]:
    """Every object that a reload from ``old`` to ``new`` adds, removes or changes."""
    changes: list[Change] = []
    for kind in ("transport", "endpoint", "aor", "auth", "identify", "acl", "registration"):
        old_table, new_table = old.pjsip.table(kind), new.pjsip.table(kind)
        assert old_table is not None and new_table is not None
        changes += _compare(kind, old_table, new_table)
    changes += _single("pjsip global", old.pjsip.global_, new.pjsip.global_)
    changes += _single("pjsip system", old.pjsip.system, new.pjsip.system)
    changes += _contexts(old.extensions.dialplan.contexts, new.extensions.dialplan.contexts)
    old_globals, new_globals = old.extensions.dialplan.globals, new.extensions.dialplan.globals
    if old_globals != new_globals:
        names = sorted(
            k
            for k in old_globals.keys() | new_globals.keys()
            if old_globals.get(k) != new_globals.get(k)
        )
        changes.append(Change("dialplan globals", "", CHANGED, tuple(names)))
    changes += _compare(
        "mailbox",
        {m.address: m for m in old.voicemail.all_mailboxes()},
        {m.address: m for m in new.voicemail.all_mailboxes()},
    )
    changes += _single("voicemail general", old.voicemail.general, new.voicemail.general)
    old_zones = {name: item.value for name, item in old.voicemail.zonemessages.items()}
    new_zones = {name: item.value for name, item in new.voicemail.zonemessages.items()}
    changes += _compare_values("voicemail zone", old_zones, new_zones)
    changes += _single("rtp", old.rtp, new.rtp)
    changes += _single("security", old.security, new.security)
    changes += _single("smtp", old.smtp, new.smtp)
    changes += _single("voicemail limits", old.voicemail_limits, new.voicemail_limits)
    changes += _single("media", old.media, new.media)
    changes += _compare(
        "webhook", {h.name: h for h in old.webhooks}, {h.name: h for h in new.webhooks}
    )
    changes += _single("http", old.http, new.http)
    return changes


TRANSPORT_RESTART_FIELDS = frozenset(
    {
        "protocol",
        "bind",
        "ca_list_file",
        "ca_list_path",
        "method",
        "cipher",
        "verify_client",
        "verify_server",
        "require_client_cert",
        "tos",
        "cos",
    }
)
"""What a listening socket was made with: changing these needs a restart (the certificate
and key are reloaded in place)."""

RTP_RESTART_FIELDS = frozenset({"rtpstart", "rtpend"})
"""The RTP port range: the port pool is made once."""

VOICEMAIL_RESTART_FIELDS = frozenset({"format"})
"""The spool's formats: fixed when the spool is opened."""


def needs_restart(change: Change) -> str | None:
    """Why a change cannot apply while the server runs (None: it applies at once)."""
    if change.kind == "transport":
        if change.action != CHANGED:
            return f"transport {change.name} {change.action}: listening sockets need a restart"
        fields_ = sorted(TRANSPORT_RESTART_FIELDS.intersection(change.details))
        if fields_:
            return f"transport {change.name}: {', '.join(fields_)} changed: needs a restart"
    elif change.kind == "pjsip system":
        return "pjsip system settings (SIP timers) changed: needs a restart"
    elif change.kind == "rtp":
        fields_ = sorted(RTP_RESTART_FIELDS.intersection(change.details))
        if fields_:
            return f"rtp.conf: {', '.join(fields_)} changed: needs a restart"
    elif change.kind == "http":
        return "http.conf changed: the HTTP server (API, console, /metrics) needs a restart"
    elif change.kind == "voicemail general":
        fields_ = sorted(VOICEMAIL_RESTART_FIELDS.intersection(change.details))
        if fields_:
            return f"voicemail.conf: {', '.join(fields_)} changed: needs a restart"
    return None


@dataclass(slots=True)
class ReloadReport:
    """What a reload did: applied or not (errors), the changes, what needs a restart, and
    the findings of the check (``file:line: severity: message``)."""

    ok: bool
    changes: list[str]
    diagnostics: list[str]
    not_applied: list[str]

    def text(self) -> str:
        """The console's answer."""
        if not self.ok:
            errors = [d for d in self.diagnostics if ": error: " in d]
            lines = [
                f"Not reloaded: {len(errors)} error(s); the running configuration is kept.",
                *self.diagnostics,
            ]
            return "\n".join(lines)
        lines = [f"Reloaded: {len(self.changes)} change(s)."]
        lines += [f"  {change}" for change in self.changes]
        if self.not_applied:
            lines.append("Not applied (restart to apply):")
            lines += [f"  {line}" for line in self.not_applied]
        if self.diagnostics:
            lines.append("Warnings:")
            lines += [f"  {line}" for line in self.diagnostics]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "changes": list(self.changes),
            "not_applied": list(self.not_applied),
            "diagnostics": list(self.diagnostics),
        }
