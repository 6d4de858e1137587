"""Random dialplans: the interpreter always terminates, never raises, and bounds its work."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.dialplan.interpreter import Continue, Execute, Goto, Hangup, Terminate, Wait
from tests.unit.dialplan.helpers import start

_EXTENS = ["1", "2", "3", "h", "i", "9"]
_APPS = [
    "Goto({e},{p})",
    "Goto({p})",
    "Goto(l{n})",
    "Goto(+{n})",
    "GotoIf($[${{X}} > {n}]?{e},{p}:l{n})",
    "GotoIf(${{X}}?:{e},1)",
    "Set(X=$[${{X}} + 1])",
    "Set(X=${{X:1}}{n})",
    "MSet(A={n},B=${{A}})",
    "Gosub({e},{p}({n},${{X}}))",
    "GosubIf(${{X}}?{e},1:{e},{p})",
    "Return(${{X}})",
    "Hangup({n})",
    "Dial(PJSIP/x,{n})",
    "Nope()",
    "Set(LOCAL(Y)=${{LOCAL(Y)}}{n})",
    "GotoIfTime(*,*,*,*?{e},{p})",
    "Verbose({n},${{X}} $[1 +] ${{CUT(X,,{n})}})",
    "NoOp(${{IF(${{X}}?a:b)}})",
]

_step = st.tuples(
    st.sampled_from(_APPS),
    st.sampled_from(_EXTENS),
    st.integers(0, 4),
    st.integers(0, 3),
    st.booleans(),
)
_outcome = st.sampled_from(
    [Continue(), Continue({"DIALSTATUS": "BUSY"}), Hangup(17), Goto("1,1"), Goto("l2"), Wait()]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(_EXTENS), st.lists(_step, min_size=1, max_size=5)),
    st.sampled_from(_EXTENS),
    st.lists(_outcome, max_size=20),
)
def test_random_dialplans_always_terminate(
    extensions: dict[str, list[tuple[str, str, int, int, bool]]],
    first: str,
    outcomes: list[object],
) -> None:
    lines = ["[c]"]
    for exten, steps in extensions.items():
        for priority, (app, target, p, n, labelled) in enumerate(steps, 1):
            label = f"(l{priority})" if labelled else ""
            lines.append(f"exten => {exten},{priority}{label},{app.format(e=target, p=p, n=n)}")
    interp = start("\n".join(lines) + "\n", first, "c", max_steps=100)
    pending = list(outcomes)
    actions = 0
    while True:
        action = interp.next_action()
        actions += 1
        assert actions < 1000
        if action is None:
            interp.complete(Continue())
            continue
        if isinstance(action, Terminate):
            break
        assert isinstance(action, Execute)
        interp.complete(pending.pop() if pending else Continue())  # type: ignore[arg-type]
    assert interp.finished
    assert interp.next_action() == action
