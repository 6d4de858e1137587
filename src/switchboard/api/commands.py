"""Asterisk-style console commands (``pjsip show contacts``, ...) over the running server's
state, answered as aligned text tables like Asterisk's, so admins' habits carry over."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchboard import __version__
from switchboard.config.loader import Config
from switchboard.core.cdr import CallRecord
from switchboard.services.location import LocationService
from switchboard.services.qualify import Qualifier
from switchboard.services.security import Guard


@dataclass(slots=True)
class ServerView:
    """What the commands may read, and the one action they may take (stopping)."""

    config: Config
    location: LocationService
    qualifier: Qualifier | None
    guard: Guard
    started: float
    listeners: Callable[[], list[tuple[str, str, str, int]]]
    stop: Callable[[], None]
    cdrs: Callable[[int], Sequence[CallRecord]] | None = None
    """The N most recent call detail records, newest first; None when none are kept."""
    channels: Callable[[], Sequence[tuple[str, str, str, str]]] | None = None
    hangup: Callable[[str], int] | None = None
    """Hang up the channel of that name (or ``all``); returns how many were hung up."""
    """The live channels: name, state, the application running (with its data), peer."""


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns, a dashed rule under the headers, and a count line."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("=" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.append(f"\n{len(cells)} object(s) found.")
    return "\n".join(lines)


CDR_SHOW_DEFAULT = 20
"""How many records ``cdr show`` lists without a count."""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} day(s)"] if days else []
    parts += [f"{hours} hour(s)"] if hours else []
    parts += [f"{minutes} minute(s)"] if minutes else []
    parts.append(f"{secs} second(s)")
    return ", ".join(parts)


_TABLE: dict[tuple[str, ...], str] = {
    ("cdr", "show"): "_cdr_show",
    ("channel", "request", "hangup"): "_hangup",
    ("core", "show", "channels"): "_channels",
    ("core", "show", "version"): "_version",
    ("core", "show", "uptime"): "_uptime",
    ("core", "stop", "gracefully"): "_stop",
    ("core", "stop", "now"): "_stop",
    ("pjsip", "show", "endpoints"): "_endpoints",
    ("pjsip", "show", "aors"): "_aors",
    ("pjsip", "show", "auths"): "_auths",
    ("pjsip", "show", "contacts"): "_contacts",
    ("pjsip", "show", "transports"): "_transports",
    ("dialplan", "show"): "_dialplan",
    ("voicemail", "show", "users"): "_voicemail_users",
    ("security", "show", "bans"): "_bans",
    ("security", "unban"): "_unban",
    ("help",): "_help",
}


def command_words() -> list[str]:
    """Every command, for completion and help."""
    return sorted(" ".join(key) for key in _TABLE)


class Commands:
    """Parses a command line and runs it against a :class:`ServerView`."""

    def __init__(self, view: ServerView) -> None:
        self.view = view

    def run(self, line: str) -> tuple[bool, str]:
        """(ok, output) for one command line."""
        words = line.split()
        for size in (3, 2, 1):
            name = _TABLE.get(tuple(w.lower() for w in words[:size]))
            if name is not None:
                handler: Callable[[list[str]], str] = getattr(self, name)
                return True, handler(words[size:])
        return False, f"No such command '{line.strip()}' (type 'help' for the list)"

    def _help(self, _args: list[str]) -> str:
        return "\n".join(command_words())

    def _cdr_show(self, args: list[str]) -> str:
        usage = f"Usage: cdr show [N]  (the N most recent calls, {CDR_SHOW_DEFAULT} by default)"
        if len(args) > 1 or (args and not (args[0].isascii() and args[0].isdecimal())):
            return usage
        limit = int(args[0]) if args else CDR_SHOW_DEFAULT
        if limit == 0:
            return usage
        if self.view.cdrs is None:
            return "Call detail records are not kept by this server"
        records = self.view.cdrs(limit)
        rows = [
            (
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.start)),
                record.src,
                record.dst,
                record.disposition,
                record.duration,
                record.billsec,
            )
            for record in records
        ]
        return table(("Start", "Src", "Dst", "Disposition", "Duration", "Billsec"), rows)

    def _channels(self, _args: list[str]) -> str:
        rows = list(self.view.channels()) if self.view.channels is not None else []
        lines = [table(("Channel", "State", "Application(Data)", "Peer"), rows).rsplit("\n", 1)[0]]
        lines.append(f"{len(rows)} active channel{'s' if len(rows) != 1 else ''}")
        return "\n".join(lines)

    def _hangup(self, args: list[str]) -> str:
        if len(args) != 1 or self.view.hangup is None:
            return "Usage: channel request hangup <channel-name>|all"
        count = self.view.hangup(args[0])
        if args[0] == "all":
            return f"Requested Hangup on all channels ({count})"
        if not count:
            return f"{args[0]} is not a known channel"
        return f"Requested Hangup on channel '{args[0]}'"

    def _version(self, _args: list[str]) -> str:
        return f"Switchboard {__version__}"

    def _uptime(self, _args: list[str]) -> str:
        return f"System uptime: {_duration(time.time() - self.view.started)}"

    def _stop(self, _args: list[str]) -> str:
        self.view.stop()
        return "Stopping: registrations are saved; calls are hung up."

    def _endpoints(self, _args: list[str]) -> str:
        location = self.view.location
        rows = []
        for endpoint in self.view.config.pjsip.endpoints.values():
            contacts = sum(len(location.contacts(aor)) for aor in endpoint.aors)
            state = "Available" if contacts else "Unavailable"
            rows.append(
                (endpoint.name, state, endpoint.context, ",".join(endpoint.codecs), contacts)
            )
        return table(("Endpoint", "State", "Context", "Codecs", "Contacts"), rows)

    def _aors(self, _args: list[str]) -> str:
        location = self.view.location
        rows = [
            (aor.name, aor.max_contacts, len(location.contacts(aor.name)), aor.qualify_frequency)
            for aor in self.view.config.pjsip.aors.values()
        ]
        return table(("Aor", "MaxContact", "Contacts", "Qualify"), rows)

    def _auths(self, _args: list[str]) -> str:
        rows = [
            (auth.name, auth.auth_type, auth.username, auth.realm or "(default)")
            for auth in self.view.config.pjsip.auths.values()
        ]
        return table(("Auth", "Type", "Username", "Realm"), rows)

    def _contacts(self, _args: list[str]) -> str:
        now = time.time()
        qualifier = self.view.qualifier
        rows = []
        for contact in sorted(self.view.location.all_contacts(), key=lambda c: (c.aor, c.uri)):
            status = (
                qualifier.status.get((contact.aor, contact.uri), "Unknown")
                if qualifier
                else "Unknown"
            )
            rows.append(
                (
                    f"{contact.aor}/{contact.uri}",
                    status.capitalize(),
                    f"{contact.transport}:{contact.source_host}:{contact.source_port}",
                    contact.remaining(now),
                    contact.user_agent,
                )
            )
        return table(("Contact", "Status", "Source", "Expires", "User-Agent"), rows)

    def _transports(self, _args: list[str]) -> str:
        rows = self.view.listeners()
        return table(("Transport", "Type", "Address", "Port"), rows)

    def _dialplan(self, args: list[str]) -> str:
        contexts = self.view.config.extensions.dialplan.contexts
        wanted = [args[0]] if args else sorted(contexts)
        lines: list[str] = []
        for name in wanted:
            context = contexts.get(name)
            if context is None:
                return f"There is no existence of '{name}' context"
            lines.append(f"[ Context '{name}' created by '{context.location}' ]")
            for extension in sorted(context.extensions.values(), key=lambda e: e.pattern.sort_key):
                for step in extension.ordered_steps():
                    label = f"({step.label})" if step.label else ""
                    lines.append(
                        f"  '{extension.name}' => {step.priority}{label}. "
                        f"{step.app}({step.args})  [{step.location}]"
                    )
            for include in context.includes:
                lines.append(f"  Include =>  '{include.context}'  [{include.location}]")
        return "\n".join(lines)

    def _bans(self, _args: list[str]) -> str:
        guard = self.view.guard
        now = guard.clock()
        rows = [(ban.source, int(ban.until - now), ban.bans) for ban in guard.bans(now)]
        return table(("Source", "Seconds left", "Bans so far"), rows)

    def _unban(self, args: list[str]) -> str:
        if not args:
            return "Usage: security unban ADDRESS"
        if self.view.guard.unban(args[0]):
            return f"{args[0]} is no longer banned"
        return f"{args[0]} is not banned"

    def _voicemail_users(self, _args: list[str]) -> str:
        rows = [
            (box.context, box.box, box.fullname, box.email or "-")
            for box in self.view.config.voicemail.all_mailboxes()
        ]
        return table(("Context", "Mbox", "User", "Email"), rows)
