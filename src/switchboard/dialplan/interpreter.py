"""The dialplan as a step machine for one channel (Asterisk's ``__ast_pbx_run``), sans I/O.

Theory of operation: the interpreter starts at (context, exten, priority 1). Each call of
:meth:`Interpreter.next_action` runs the pure applications itself (``Set``, ``MSet``,
``NoOp``, ``Verbose``, ``Log``, ``Goto``, ``GotoIf``, ``GotoIfTime``, ``Gosub``,
``GosubIf``, ``Return``, ``Hangup``, ``ExecIf``) and stops at the first application it
cannot run, returning :class:`Execute` with the arguments already substituted. The caller
runs it, now or later (``Dial`` rings for seconds), and reports the outcome with
:meth:`Interpreter.complete`: :class:`Continue` (next priority), :class:`Goto`
(``[[context,]exten,]priority`` as Goto parses it), :class:`Hangup` or :class:`Wait` (the
app will report later). While an app runs, ``next_action`` returns None.

The end is Asterisk 21's: falling off an extension hangs up (autofallthrough, with a busy or
congestion indication when ``DIALSTATUS`` says so); an extension that does not exist goes to
``i`` (setting ``INVALID_EXTEN``), else ``e``, else hangs up; an application that does not
exist hangs up, as ``pbx_extension_helper`` does (``unknown_apps_hang_up=False`` skips it
instead, for sites migrating a dialplan that names apps Switchboard lacks). When the main
dialplan ends, the ``h`` extension of the current context runs (``EXTEN`` is ``h``, the
channel variables are the same), then :class:`Terminate` tells the caller to hang the
channel up. A channel hung up from outside (:meth:`Interpreter.hangup`) also runs ``h``.
``max_steps`` bounds the priorities run by the main dialplan and by ``h``, so a looping
dialplan cannot hold a call (and the server) forever. Timed ``include =>`` lines apply only
when their condition holds at the channel's clock, read in ``local_zone`` unless the
condition names a zone.

A call engine drives it like this (``run_app`` stands for the apps/ modules)::

    state = ChannelState(channel=name, context=endpoint.context, exten=number,
                         caller_number=cid, globals=dialplan.globals, clock=wall_clock)
    interp = Interpreter(dialplan, state, applications=registry)
    while isinstance(action := interp.next_action(), Execute):
        interp.complete(await run_app(action), action)  # on BYE meanwhile: hangup(cause)
    hang_up(action.cause, action.indication)  # action is the Terminate
    publish(interp.drain_events())
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from mypy_extensions import mypyc_attr

from switchboard.diagnostics import Location
from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.events import DialplanEvent
from switchboard.dialplan.expressions import check_condition
from switchboard.dialplan.functions import assign
from switchboard.dialplan.model import Dialplan, Extension, Include
from switchboard.dialplan.state import ChannelState
from switchboard.dialplan.timing import Timing, build_timing, check_timing
from switchboard.dialplan.variables import substitute

AST_CAUSE_NORMAL_CLEARING = 16
AST_CAUSE_USER_BUSY = 17
AST_CAUSE_CONGESTION = 34
DEFAULT_MAX_STEPS = 10_000

# Q.850 cause names accepted by Hangup(), as in Asterisk's causes table.
CAUSES: dict[str, int] = {
    "UNALLOCATED": 1,
    "NO_ROUTE_TRANSIT_NET": 2,
    "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "FACILITY_REJECTED": 29,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34,
    "CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42,
    "REQUESTED_CHAN_UNAVAIL": 44,
    "BEARERCAPABILITY_NOTAVAIL": 58,
    "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127,
}

_NUMERIC_PRIORITY = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)[ \t\n\r\f\v]*")
_LOG_LEVELS = frozenset({"ERROR", "WARNING", "NOTICE", "DEBUG", "VERBOSE", "DTMF"})
_LEADING_INT = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)")


@mypyc_attr(native_class=False)  # compiled, a native class cannot extend RuntimeError
class InterpreterError(RuntimeError):
    """The interpreter was driven out of order (an outcome with no application running)."""


# Actions: what the interpreter asks of its caller.


@dataclass(frozen=True, slots=True)
class Execute:
    """Run application ``app`` with ``args`` (substituted) and report its outcome."""

    app: str
    args: str
    context: str
    exten: str
    priority: int
    location: Location
    in_hangup_handler: bool = False


@dataclass(frozen=True, slots=True)
class Terminate:
    """The dialplan is over: hang the channel up with ``cause`` (Q.850), first indicating
    ``busy`` or ``congestion`` when set (an unanswered call: 486 or 503)."""

    cause: int
    indication: str | None = None


Action = Execute | Terminate


# Outcomes: what the caller reports about an Execute.


@dataclass(frozen=True, slots=True)
class Continue:
    """The application returned 0: go on at the next priority (after setting variables)."""

    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Goto:
    """The application sends the channel to ``[[context,]exten,]priority``."""

    target: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hangup:
    """The application returned -1 (the caller hung up, or it failed): end the dialplan."""

    cause: int = 0
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Wait:
    """The application is still running (``Dial`` ringing); its outcome comes later."""


Outcome = Continue | Goto | Hangup | Wait


AppHandler: TypeAlias = object
"""What the call engine runs for an application: opaque to the interpreter. (A named alias:
compiled, a dataclass field's annotation must name something in this module.)"""


@dataclass(frozen=True, slots=True)
class Application:
    """An application the call engine runs; ``handler`` is opaque to the interpreter."""

    name: str
    synopsis: str = ""
    handler: AppHandler = None


class ApplicationRegistry:
    """Applications by name, case-insensitive as Asterisk's ``pbx_findapp``."""

    __slots__ = ("_apps",)

    def __init__(self, applications: Iterable[Application] = ()) -> None:
        self._apps: dict[str, Application] = {}
        for application in applications:
            self.register(application)

    def register(self, application: Application) -> None:
        """Add an application; ValueError if the name is taken (by it or a built-in)."""
        key = application.name.lower()
        if key in self._apps or key in _BUILTIN_NAMES:
            raise ValueError(f"application {application.name} is already registered")
        self._apps[key] = application

    def get(self, name: str) -> Application | None:
        """The application called ``name`` (any case), or None."""
        return self._apps.get(name.lower())

    def __contains__(self, name: object) -> bool:
        """Whether an application of that name (any case) is registered."""
        return isinstance(name, str) and name.lower() in self._apps

    def names(self) -> list[str]:
        """The registered applications' names, sorted."""
        return sorted(app.name for app in self._apps.values())


@dataclass(slots=True)
class _Frame:
    """One Gosub: where Return goes, how many ARGn it set, and (in the channel's
    ``local_frames``) the values its local variables shadow."""

    context: str
    exten: str
    priority: int
    argc: int = 0


_MAIN, _HANGUP_HANDLER, _DONE = 0, 1, 2


class Interpreter:
    """Runs one channel through the dialplan, one priority at a time."""

    def __init__(
        self,
        dialplan: Dialplan,
        state: ChannelState,
        *,
        applications: ApplicationRegistry | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        unknown_apps_hang_up: bool = True,
    ) -> None:
        self.dialplan = dialplan
        self.unknown_apps_hang_up = unknown_apps_hang_up
        self.state = state
        self.applications = applications if applications is not None else ApplicationRegistry()
        self.max_steps = max_steps
        if not state.globals:
            state.globals = dialplan.globals
        self._phase = _MAIN
        self._steps = 0
        self._waiting: Execute | None = None
        self._hung_up = False
        self._final: Terminate | None = None
        self._indication: str | None = None
        self._stack: list[_Frame] = []
        self._found: dict[tuple[str, str, str | None], tuple[Extension | None, int | None]] = {}
        self._time_used = False
        self._timings: dict[str, Timing | None] = {}
        self._start()

    # -- the caller's interface --

    def next_action(self) -> Action | None:
        """The next application to run, or Terminate; None while an application runs."""
        if self._waiting is not None:
            return None
        while self._final is None:
            action = self._step()
            if action is not None:
                return action
        return self._final

    def complete(self, outcome: Outcome, execute: Execute | None = None) -> bool:
        """Report the outcome of the running Execute; False when it is stale and ignored:
        ``execute`` is not the one running, or :meth:`hangup` already stopped it."""
        if execute is not None and execute is not self._waiting:
            return False
        if self._waiting is None:
            if self._hung_up:
                self._hung_up = False
                return False
            raise InterpreterError(f"{type(outcome).__name__} reported, but no application runs")
        if isinstance(outcome, Wait):
            return True
        self._waiting = None
        for name, value in outcome.variables.items():
            self.state.set(name, value)
        if isinstance(outcome, Continue):
            self.state.priority += 1
        elif isinstance(outcome, Goto):
            if not self._goto(outcome.target):
                self._end()
        else:
            self._end(outcome.cause)
        return True

    def hangup(self, cause: int = 0) -> None:
        """The channel hung up from outside (BYE, CANCEL): stop and run the ``h`` extension."""
        if self._final is not None:
            return
        self._hung_up = self._waiting is not None
        self._waiting = None
        self._end(cause)

    def drain_events(self) -> list[DialplanEvent]:
        """The log events recorded since the last call, oldest first."""
        events = self.state.events
        self.state.events = []
        return events

    @property
    def finished(self) -> bool:
        """True once Terminate has been decided."""
        return self._final is not None

    @property
    def stack_depth(self) -> int:
        """How many Gosubs have not returned yet."""
        return len(self._stack)

    # -- locating steps --

    def _extension(self, context: str, exten: str) -> Extension | None:
        """The extension the channel would run; remembered, for the current minute only
        when a timed include took part in finding it."""
        state = self.state
        key = (context, exten, state.caller_number)
        entry = self._found.get(key)
        if entry is not None and (entry[1] is None or entry[1] == int(state.clock() // 60)):
            return entry[0]
        self._time_used = False
        found = self.dialplan.find(context, exten, self._include_ok, state.caller_number)
        extension = found[1] if found is not None else None
        minute = int(state.clock() // 60) if self._time_used else None
        self._found[key] = (extension, minute)
        return extension

    def _timing(self, condition: str) -> Timing | None:
        """A time condition, parsed once per interpreter."""
        if condition not in self._timings:
            self._timings[condition] = build_timing(condition, self.state.warn)
        return self._timings[condition]

    def _include_ok(self, include: Include) -> bool:
        """Whether a timed ``include =>`` applies now (``include_valid``)."""
        timing = self._timing(include.condition) if include.condition else None
        if timing is None:
            return True
        self._time_used = True
        state = self.state
        return check_timing(timing, state.clock(), state.local_zone, state.zones)

    def _exists(self, context: str, exten: str, priority: int) -> bool:
        """Whether (context, exten, priority) exists (``ast_exists_extension``)."""
        extension = self._extension(context, exten)
        return extension is not None and priority in extension.steps

    def _find_label(self, context: str, exten: str, label: str) -> int:
        """The priority of a label in an extension, or -1 (``ast_findlabel_extension``)."""
        extension = self._extension(context, exten)
        step = extension.label(label) if extension is not None else None
        return step.priority if step is not None else -1

    def _start(self) -> None:
        """Fall back to ``s`` and then to context ``default``, as ``__ast_pbx_run`` does."""
        state = self.state
        if self._exists(state.context, state.exten, state.priority):
            return
        state.verbose(
            2,
            f"Starting {state.channel} at {state.context},{state.exten},{state.priority} "
            "failed so falling back to exten 's'",
        )
        state.exten = "s"
        state.priority = 1
        if not self._exists(state.context, "s", 1):
            state.verbose(
                2,
                f"Starting {state.channel} at {state.context},s,1 still failed so falling "
                "back to context 'default'",
            )
            state.context = "default"

    # -- running --

    def _step(self) -> Action | None:
        """Run or hand out the step at the current position; None to keep going."""
        state = self.state
        if self._steps >= self.max_steps:
            state.warn(
                f"the dialplan ran {self.max_steps} priorities without ending (a loop?); hanging up"
            )
            return self._end()
        extension = self._extension(state.context, state.exten)
        step = extension.steps.get(state.priority) if extension is not None else None
        if step is None:
            return self._fell_off(extension)
        self._steps += 1
        state.location = step.location
        args = substitute(state, step.args) if "$" in step.args else step.args
        return self._dispatch(step.app, args)

    def _dispatch(self, app: str, args: str) -> Action | None:
        """Run a pure application here, or ask the caller to run a registered one."""
        builtin = _BUILTINS.get(app.lower())
        if builtin is not None:
            return builtin(self, args)
        state = self.state
        application = self.applications.get(app)
        if application is None:
            state.warn(
                f"No application '{app}' for extension "
                f"({state.context}, {state.exten}, {state.priority})"
            )
            if self.unknown_apps_hang_up:
                return self._end()
            state.priority += 1
            return None
        assert state.location is not None
        self._waiting = Execute(
            application.name,
            args,
            state.context,
            state.exten,
            state.priority,
            state.location,
            self._phase == _HANGUP_HANDLER,
        )
        return self._waiting

    def _fell_off(self, extension: Extension | None) -> Action | None:
        """No step at the current priority: ``i``/``e`` handling or autofallthrough."""
        state = self.state
        if self._phase != _MAIN:
            return self._end()
        if extension is None or 1 not in extension.steps:
            if self._exists(state.context, "i", 1):
                state.verbose(
                    3,
                    f"Channel '{state.channel}' sent to invalid extension '{state.exten}' "
                    f"in context '{state.context}', going to 'i'",
                )
                state.set("INVALID_EXTEN", state.exten)
                state.exten, state.priority = "i", 1
                return None
            if self._exists(state.context, "e", 1):
                state.set("EXCEPTION", "INVALID")
                state.exten, state.priority = "e", 1
                return None
            state.warn(
                f"Channel '{state.channel}' sent to invalid extension but no invalid handler: "
                f"context,exten,priority={state.context},{state.exten},{state.priority}"
            )
            return self._end()
        status = state.get("DIALSTATUS") or "UNKNOWN"
        state.verbose(3, f"Auto fallthrough, channel '{state.channel}' status is '{status}'")
        upper = status.upper()
        if upper == "BUSY":
            return self._end(AST_CAUSE_USER_BUSY, "busy")
        if upper in ("CONGESTION", "CHANUNAVAIL"):
            return self._end(AST_CAUSE_CONGESTION, "congestion")
        return self._end()

    def _end(self, cause: int = 0, indication: str | None = None) -> Action | None:
        """End the current phase: the main dialplan moves on to ``h``, ``h`` to Terminate."""
        state = self.state
        if cause > 0 and (state.hangupcause <= 0 or indication is None):
            state.hangupcause = cause
        if self._phase == _MAIN:
            self._indication = indication
            self._phase = _HANGUP_HANDLER
            if self._exists(state.context, "h", 1):
                state.exten, state.priority = "h", 1
                self._steps = 0
                return None
        self._phase = _DONE
        self._final = Terminate(
            state.hangupcause if state.hangupcause > 0 else AST_CAUSE_NORMAL_CLEARING,
            self._indication,
        )
        return self._final

    def _goto(self, target: str) -> bool:
        """Move to ``[[context,]exten,]priority`` (``+N``/``-N`` relative, or a label) as
        ``pbx_parseable_goto`` does; False, with a warning, when it cannot."""
        state = self.state
        if not target:
            state.warn("Goto requires an argument ([[context,]extension,]priority)")
            return False
        parts = target.split(",")
        context: str | None = None
        exten: str | None = None
        if len(parts) == 1:
            priority = parts[0]
        elif len(parts) == 2:
            exten, priority = parts
        else:
            context, exten, priority = parts[:3]
        mode = 0
        if priority.startswith("+"):
            mode, priority = 1, priority[1:]
        elif priority.startswith("-"):
            mode, priority = -1, priority[1:]
        number = _NUMERIC_PRIORITY.fullmatch(priority)
        if number is not None:
            value = int(number.group(1))
        else:
            value = self._find_label(context or state.context, exten or state.exten, priority)
            if value < 1:
                state.warn(f"Priority '{priority}' must be a number > 0, or valid label")
                return False
            mode = 0
        if mode:
            value = state.priority + value * mode
        if context:
            state.context = context
        if exten:
            state.exten = exten
        state.priority = value
        return True

    # -- the applications run here --

    def _app_noop(self, args: str) -> None:
        """``NoOp(...)``: nothing, though its arguments were substituted."""
        self.state.priority += 1

    def _app_set(self, args: str) -> None:
        """``Set(name=value)``: one assignment; the value is everything after the first '='."""
        state = self.state
        state.priority += 1
        if not args:
            state.warn("Set requires one variable name/value pair.")
            return
        name, equals, value = args.partition("=")
        if not equals:
            state.warn("Set requires an '=' to be a valid assignment.")
            return
        if " " in name:
            state.warn(
                "Please avoid unnecessary spaces on variables as it may lead to unexpected "
                f"results ('{name}' set to '{value}')."
            )
        assign(state, name, value)

    def _app_mset(self, args: str) -> None:
        """``MSet(name1=value1,name2=value2,...)``: several assignments, quotes removed."""
        state = self.state
        state.priority += 1
        if not args:
            state.warn("MSet requires at least one variable name/value pair.")
            return
        for pair in separate_args(args):
            parts = separate_args(pair, "=")
            if len(parts) == 2:
                assign(state, parts[0], parts[1])
            else:
                state.warn(f"MSet: ignoring entry '{pair}' with no '='")

    def _app_verbose(self, args: str) -> None:
        """``Verbose([level,]message)``."""
        state = self.state
        state.priority += 1
        if not args:
            return
        parts = separate_args(args, limit=2)
        if len(parts) == 1:
            parts.insert(0, "0")
        match = _LEADING_INT.match(parts[0])
        level = 0
        if match is None:
            state.warn(f"'{parts[0]}' is not a verboser number")
        else:
            level = int(match.group(1))
            level = 4 if level < 0 or level > 4 else level
        state.verbose(level, parts[1])

    def _app_log(self, args: str) -> None:
        """``Log(level,message)``: ERROR, WARNING, NOTICE, DEBUG, VERBOSE or DTMF."""
        state = self.state
        state.priority += 1
        if not args:
            return
        parts = [*separate_args(args, limit=2), ""]
        level = parts[0].upper()
        if level not in _LOG_LEVELS:
            state.warn(f"Unknown log level: '{parts[0]}'")
            return
        state.log(level, parts[1])

    def _app_goto(self, args: str) -> Action | None:
        """``Goto([[context,]exten,]priority)``; a bad target hangs up."""
        if self._goto(args):
            return None
        return self._end()

    def _app_gotoif(self, args: str) -> Action | None:
        """``GotoIf(condition?[label1]:[label2])``."""
        state = self.state
        if not args:
            state.warn("Ignoring, since there is no variable to check")
            state.priority += 1
            return None
        condition, _, branches = args.partition("?")
        first, _, second = branches.partition(":")
        branch = first if check_condition(condition) else second
        if not branch:
            state.priority += 1
            return None
        return self._app_goto(branch)

    def _app_gotoiftime(self, args: str) -> Action | None:
        """``GotoIfTime(times,weekdays,mdays,months[,timezone]?[labeliftrue][:labeliffalse])``;
        the ``TESTTIME`` variable (epoch seconds) stands in for now, as in Asterisk."""
        state = self.state
        if not args:
            state.warn(
                "GotoIfTime requires an argument: <time range>,<days of week>,"
                "<days of month>,<months>[,<timezone>]?'labeliftrue':'labeliffalse'"
            )
            return self._end()
        condition, _, branches = args.partition("?")
        first, _, second = branches.partition(":")
        now = state.clock()
        test_time = state.get("TESTTIME")
        if test_time:
            try:
                now = float(test_time)
            except ValueError:
                state.warn(f"TESTTIME {test_time!r} is not a time in epoch seconds; using now")
        timing = build_timing(condition, state.warn)
        matched = timing is not None and check_timing(timing, now, state.local_zone, state.zones)
        branch = first if matched else second
        if not branch:
            state.priority += 1
            return None
        return self._app_goto(branch)

    def _app_execif(self, args: str) -> Action | None:
        """``ExecIf(expression?appiftrue(args)[:appiffalse(args)])``: runs one application,
        pure or not, at this priority (app_exec.c)."""
        state = self.state
        parts = separate_args(args, "?", limit=2)
        if len(parts) < 2 or not parts[1]:
            state.warn("Usage: ExecIf(<expr>?<appiftrue>(<args>)[:<appiffalse>(<args>)])")
            return self._end()
        apps = [*separate_args(parts[1], ":", remove_chars=False, limit=2), ""]
        chosen = apps[0] if check_condition(parts[0]) else apps[1]
        if not chosen:
            state.priority += 1
            return None
        name, _, data = chosen.partition("(")
        data = data.rstrip(" \t")
        close = data.rfind(")")
        return self._dispatch(name, data[:close] if close != -1 else data)

    def _app_hangup(self, args: str) -> Action | None:
        """``Hangup([causecode])``: a cause name or number, else the channel's, else 16."""
        state = self.state
        cause = 0
        if args:
            cause = CAUSES.get(args.strip().upper(), 0)
            if cause <= 0:
                match = _LEADING_INT.match(args)
                cause = int(match.group(1)) if match else 0
                if cause <= 0:
                    state.warn(f'Invalid cause given to Hangup(): "{args}"')
                    cause = 0
        if cause <= 0:
            cause = state.hangupcause if state.hangupcause > 0 else AST_CAUSE_NORMAL_CLEARING
        state.hangupcause = cause
        return self._end(cause)

    def _app_gosub(self, args: str) -> Action | None:
        """``Gosub([[context,]exten,]priority[(arg1,...)])``: ARGn and ARGC are frame-local."""
        state = self.state
        label, paren, rest = args.partition("(")
        argv: list[str] = []
        if paren:
            close = rest.rfind(")")
            if close == -1:
                state.warn(f"Ouch. No closing paren: '{args}'?")
            else:
                rest = rest[:close]
            argv = separate_args(rest, remove_chars=False)
        origin = (state.context, state.exten, state.priority)
        if not self._goto(label):
            state.warn(f"Gosub address is invalid: '{args}'")
            return self._end()
        if not self._exists(state.context, state.exten, state.priority):
            state.warn(
                "Attempt to reach a non-existent destination for Gosub: "
                f"(Context:{state.context}, Extension:{state.exten}, "
                f"Priority:{state.priority})"
            )
            state.context, state.exten, state.priority = origin
            return self._end()
        outer_argc = self._stack[-1].argc if self._stack else 0
        frame = _Frame(origin[0], origin[1], origin[2] + 1, argc=max(len(argv), outer_argc))
        self._stack.append(frame)
        state.local_frames.append({})
        for index in range(1, frame.argc + 1):
            state.set_local(f"ARG{index}", argv[index - 1] if index <= len(argv) else "")
        state.set_local("ARGC", str(len(argv)))
        return None

    def _app_gosubif(self, args: str) -> Action | None:
        """``GosubIf(condition?labeliftrue[(args)][:labeliffalse[(args)]])``."""
        state = self.state
        parts = separate_args(args, "?", remove_chars=False, limit=2)
        if len(parts) != 2:
            state.warn("GosubIf requires an argument: GosubIf(cond?label1(args):label2(args))")
            state.priority += 1
            return None
        labels = [*separate_args(parts[1], ":", remove_chars=False, limit=2), "", ""]
        label = labels[0] if check_condition(parts[0]) else labels[1]
        if not label:
            state.priority += 1
            return None
        return self._app_gosub(label)

    def _app_return(self, args: str) -> Action | None:
        """``Return([value])``: back after the Gosub, with ``GOSUB_RETVAL`` set."""
        state = self.state
        if not self._stack:
            state.warn("Return without Gosub: stack is empty")
            return self._end()
        frame = self._stack.pop()
        for name, value in state.local_frames.pop().items():
            state.set(name, value)
        state.set("GOSUB_RETVAL", args)
        state.context, state.exten, state.priority = frame.context, frame.exten, frame.priority
        return None


_Builtin = Callable[[Interpreter, str], Action | None]
_BUILTINS: dict[str, _Builtin] = {
    "noop": Interpreter._app_noop,
    "set": Interpreter._app_set,
    "mset": Interpreter._app_mset,
    "verbose": Interpreter._app_verbose,
    "log": Interpreter._app_log,
    "goto": Interpreter._app_goto,
    "gotoif": Interpreter._app_gotoif,
    "gotoiftime": Interpreter._app_gotoiftime,
    "hangup": Interpreter._app_hangup,
    "execif": Interpreter._app_execif,
    "gosub": Interpreter._app_gosub,
    "gosubif": Interpreter._app_gosubif,
    "return": Interpreter._app_return,
}
_BUILTIN_NAMES = frozenset(_BUILTINS)
BUILTIN_APPLICATIONS = (
    "NoOp",
    "Set",
    "MSet",
    "Verbose",
    "Log",
    "Goto",
    "GotoIf",
    "GotoIfTime",
    "Hangup",
    "ExecIf",
    "Gosub",
    "GosubIf",
    "Return",
)
