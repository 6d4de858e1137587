"""Asterisk-style console commands (``pjsip show contacts``, ...) over the running server's
state, answered as aligned text tables like Asterisk's, so admins' habits carry over."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from switchboard import __version__
from switchboard.config.diff import ReloadReport, values
from switchboard.config.loader import Config
from switchboard.config.pjsip import AclRule
from switchboard.config.values import CallerId
from switchboard.core.cdr import CallRecord
from switchboard.services.calls.channel import Channel
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
    """The live channels: name, state, the application running (with its data), peer."""
    hangup: Callable[[str], int] | None = None
    """Hang up the channel of that name (or ``all``); returns how many were hung up."""
    reload: Callable[[], Awaitable[ReloadReport]] | None = None
    """Re-read the config folder and apply it unless it has errors."""
    sip_trace: Callable[[bool], None] | None = None
    """Turn the SIP trace (every message in and out, in the log) on or off."""
    live_channels: Callable[[], Iterable[Channel]] | None = None
    """The live channels themselves, for ``core show channels verbose``."""


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


Reply = str | tuple[bool, str]
"""A command's answer: its text, or (ok, text) when it can fail (exit status 1)."""

_TABLE: dict[tuple[str, ...], str] = {
    ("cdr", "show"): "_cdr_show",
    ("channel", "request", "hangup"): "_hangup",
    ("core", "show", "channels"): "_channels",
    ("core", "show", "version"): "_version",
    ("core", "show", "uptime"): "_uptime",
    ("core", "reload"): "_reload",
    ("module", "reload"): "_reload",
    ("core", "stop", "gracefully"): "_stop",
    ("core", "stop", "now"): "_stop",
    ("pjsip", "show", "endpoints"): "_endpoints",
    ("pjsip", "show", "endpoint"): "_endpoint",
    ("pjsip", "show", "registrations"): "_registrations",
    ("pjsip", "set", "logger"): "_logger",
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


def completions(endpoints: Iterable[str] = ()) -> list[str]:
    """Whole command lines for the prompt's tab completion: every command, the fixed
    arguments Asterisk's console offers, and ``pjsip show endpoint NAME``."""
    lines = set(command_words())
    lines |= {"core show channels verbose", "pjsip set logger on", "pjsip set logger off"}
    lines |= {f"pjsip show endpoint {name}" for name in endpoints}
    return sorted(lines)


def _answer(reply: Reply) -> tuple[bool, str]:
    return reply if isinstance(reply, tuple) else (True, reply)


class Commands:
    """Parses a command line and runs it against a :class:`ServerView`."""

    def __init__(self, view: ServerView) -> None:
        self.view = view

    def _call(self, line: str) -> object:
        """The handler's reply (perhaps awaitable) for ``line``, or an unknown command's."""
        words = line.split()
        for size in (3, 2, 1):
            name = _TABLE.get(tuple(w.lower() for w in words[:size]))
            if name is not None:
                handler: Callable[[list[str]], object] = getattr(self, name)
                return handler(words[size:])
        return False, f"No such command '{line.strip()}' (type 'help' for the list)"

    def run(self, line: str) -> tuple[bool, str]:
        """(ok, output) for one command line that answers at once (not ``core reload``)."""
        reply = self._call(line)
        if inspect.iscoroutine(reply):
            reply.close()
            return False, f"'{line.strip()}' runs only through the control socket"
        return _answer(reply)  # type: ignore[arg-type]

    async def execute(self, line: str) -> tuple[bool, str]:
        """(ok, output) for any command line, waiting for those that take time (reload)."""
        reply = self._call(line)
        if inspect.isawaitable(reply):
            reply = await reply
        return _answer(reply)  # type: ignore[arg-type]

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

    async def _reload(self, _args: list[str]) -> Reply:
        if self.view.reload is None:
            return False, "This server cannot reload"
        report = await self.view.reload()
        return report.ok, report.text()

    def _logger(self, args: list[str]) -> Reply:
        if len(args) != 1 or args[0].lower() not in ("on", "off") or self.view.sip_trace is None:
            return False, "Usage: pjsip set logger on|off"
        on = args[0].lower() == "on"
        self.view.sip_trace(on)
        return f"PJSIP Logging {'enabled' if on else 'disabled'}"

    def _channels(self, args: list[str]) -> str:
        if args and args[0].lower() == "verbose":
            return self._channels_verbose()
        rows = list(self.view.channels()) if self.view.channels is not None else []
        lines = [table(("Channel", "State", "Application(Data)", "Peer"), rows).rsplit("\n", 1)[0]]
        lines.append(f"{len(rows)} active channel{'s' if len(rows) != 1 else ''}")
        return "\n".join(lines)

    def _channels_verbose(self) -> str:
        now = time.time()
        live = list(self.view.live_channels()) if self.view.live_channels is not None else []
        rows = []
        for channel in live:
            state = channel.dialplan
            rows.append(
                (
                    channel.name,
                    state.context if state is not None else channel.endpoint.context,
                    state.exten if state is not None else channel.exten,
                    state.priority if state is not None else "",
                    channel.state.value,
                    channel.last_app if channel.in_app else "",
                    channel.last_data if channel.in_app else "",
                    channel.caller_number,
                    _clock(now - channel.started_at) if channel.started_at else "",
                    channel.bridged.name if channel.bridged is not None else "",
                )
            )
        headers = (
            "Channel",
            "Context",
            "Extension",
            "Prio",
            "State",
            "Application",
            "Data",
            "CallerID",
            "Duration",
            "BridgedTo",
        )
        lines = [table(headers, rows).rsplit("\n", 1)[0]]
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

    def _endpoint(self, args: list[str]) -> Reply:
        if len(args) != 1:
            return False, "Usage: pjsip show endpoint <name>"
        pjsip = self.view.config.pjsip
        endpoint = pjsip.endpoints.get(args[0])
        if endpoint is None:
            return False, f"Unable to find object {args[0]}."
        location, qualifier = self.view.location, self.view.qualifier
        contacts = [c for aor in endpoint.aors for c in location.contacts(aor)]
        state = "Available" if contacts else "Unavailable"
        lines = [f" Endpoint:  {endpoint.name}  {state}", f"   Defined at {endpoint.location}"]
        for name in endpoint.auth:
            auth = pjsip.auths.get(name)
            lines.append(f"     InAuth:  {name}/{auth.username if auth else '(missing)'}")
        for name in endpoint.aors:
            aor = pjsip.aors.get(name)
            limit = aor.max_contacts if aor is not None else "(missing)"
            lines.append(f"        Aor:  {name}  {limit}")
            for contact in location.contacts(name):
                status = qualifier.status.get((name, contact.uri), "Unknown") if qualifier else ""
                lines.append(f"      Contact:  {name}/{contact.uri}  {status.capitalize()}")
        if endpoint.transport:
            lines.append(f"  Transport:  {endpoint.transport}")
        lines += ["", " ParameterName  : ParameterValue", " " + "=" * 60]
        for name, value in sorted(values(endpoint).items()):
            lines.append(f" {name:<30} : {_option_text(value)}")
        return "\n".join(lines)

    def _registrations(self, _args: list[str]) -> str:
        registrations = self.view.config.pjsip.registrations
        header = [
            "",
            " <Registration/ServerURI..............................>"
            "  <Auth....................>  <Status.......>",
            "=" * 90,
            "",
        ]
        if not registrations:
            return "\n".join([*header, "No objects found."])
        rows = [
            f" {r.name}/{r.server_uri}  {','.join(r.outbound_auth) or 'n/a'}  Unregistered"
            for r in registrations.values()
        ]
        note = "\nOutbound registration is not implemented: these are read, never sent."
        return "\n".join([*header, *rows, f"\nObjects found: {len(rows)}", note])

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


def _clock(seconds: float) -> str:
    """``hh:mm:ss``, as Asterisk's channel durations."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _option_text(value: object) -> str:
    """A typed option value as pjsip.conf would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return ",".join(_rule_text(rule) for rule in value)
        return ",".join(str(item) for item in value)
    if isinstance(value, CallerId):
        return str(value)
    return "" if value is None else str(value)


def _rule_text(rule: AclRule) -> str:
    action, network = rule
    return f"{action} {network}"
