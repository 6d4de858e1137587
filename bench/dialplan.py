"""Dialplan interpreter speed: priorities per second through a typical extension, in-process.

The extension has five priorities with variable substitution, a function, an expression
and a label jump, as a company dialplan would (Set, Verbose, GotoIf, Dial, VoiceMail); Dial
reports NOANSWER so the call moves on to VoiceMail and falls through. Prints ``figure:
value unit`` lines; the last line is the ratio of one interpreted priority to the same-run
baseline, ``str.format`` producing the same five argument strings from a dict: the median
of the ratios of rounds run back to back, steadier than absolute times on a shared machine.

    python bench/dialplan.py [--calls 4000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from switchboard.config.extensions import load_extensions
from switchboard.config.ini import ConfigReader
from switchboard.diagnostics import Diagnostics
from switchboard.dialplan.expressions import evaluate
from switchboard.dialplan.interpreter import (
    Application,
    ApplicationRegistry,
    Continue,
    Execute,
    Interpreter,
)
from switchboard.dialplan.model import Dialplan
from switchboard.dialplan.state import ChannelState
from switchboard.dialplan.variables import substitute

EXTENSIONS = """
[globals]
TIMEOUT=10
[from-internal]
exten => _1XX,1,Set(TARGET=PJSIP/u${EXTEN:1})
 same => n,Verbose(2,Call from ${CALLERID(num)} to ${EXTEN})
 same => n,GotoIf($[${LEN(${EXTEN})} = 3]?dial)
 same => n(dial),Dial(${TARGET},${TIMEOUT})
 same => n,VoiceMail(${EXTEN}@default)
"""
STEPS_PER_CALL = 5
NOANSWER = Continue({"DIALSTATUS": "NOANSWER"})


class _Source:
    """The bench's extensions.conf, held in memory."""

    def read(self, name: str, max_bytes: int) -> bytes:
        return EXTENSIONS.encode()

    def glob(self, pattern: str) -> list[str]:
        return []


def load() -> Dialplan:
    diags = Diagnostics()
    conf = ConfigReader(_Source(), diags).read("extensions.conf")
    if conf is None or diags.has_errors:
        raise SystemExit(f"bench dialplan did not load: {[d.format() for d in diags.items]}")
    return load_extensions(conf, diags).dialplan


def interpreted(plan: Dialplan, calls: int) -> float:
    """Seconds to run ``calls`` channels through the extension, start to Terminate."""
    apps = ApplicationRegistry([Application("Dial"), Application("VoiceMail")])
    start = time.perf_counter()
    for n in range(calls):
        state = ChannelState(
            channel="PJSIP/bob-00000001",
            context="from-internal",
            exten="101",
            caller_number=str(200 + n % 50),
            globals=plan.globals,
        )
        interp = Interpreter(plan, state, applications=apps)
        while isinstance(interp.next_action(), Execute):
            interp.complete(NOANSWER)
        state.events.clear()
    return time.perf_counter() - start


def formatted(calls: int) -> float:
    """Seconds for ``str.format`` to build the same five argument strings per call."""
    templates = (
        "TARGET=PJSIP/u{exten1}",
        "2,Call from {cid} to {exten}",
        "{cond}?dial",
        "{target},{timeout}",
        "{exten}@default",
    )
    start = time.perf_counter()
    for n in range(calls):
        values = {
            "exten": "101",
            "exten1": "101"[1:],
            "cid": str(200 + n % 50),
            "cond": int(len("101") == 3),
            "target": "PJSIP/u01",
            "timeout": "10",
        }
        for template in templates:
            template.format(**values)
    return time.perf_counter() - start


def per_second(function: Callable[[], object], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            function()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    plan = load()
    interpreted(plan, 200)
    formatted(200)
    ours = base = float("inf")
    ratios = []
    for _ in range(args.rounds):  # interleaved: best of each, median of the paired ratios
        mine, theirs = interpreted(plan, args.calls), formatted(args.calls)
        ours, base = min(ours, mine), min(base, theirs)
        ratios.append(mine / theirs)
    ratios.sort()
    steps = args.calls * STEPS_PER_CALL

    state = ChannelState(exten="5551234", caller_number="102", variables={"X": "7"})
    subs = per_second(lambda: substitute(state, "${CALLERID(num)} to ${EXTEN:3}"), 20_000, 3)
    expr = per_second(lambda: evaluate("7 + 1 > 5 & abc = abc"), 20_000, 3)

    print(f"interpreter_steps: {steps / ours:,.0f} priorities/s")
    print(f"interpreter_call: {ours / args.calls * 1e6:.1f} us per 5-priority call")
    print(f"substitute_typical: {subs:,.0f} substitutions/s")
    print(f"expression_typical: {expr:,.0f} evaluations/s")
    print(f"baseline_str_format: {steps / base:,.0f} formats/s")
    print(f"ratio_step_vs_str_format: {ratios[len(ratios) // 2]:.1f} x slower")


if __name__ == "__main__":
    main()
