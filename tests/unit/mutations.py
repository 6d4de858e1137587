"""A hypothesis strategy shared by the parser fuzz tests: a valid message from a corpus,
mutated by a few byte flips, insertions, deletions and duplications."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


@st.composite
def mutations(draw: st.DrawFn, corpus: Sequence[bytes], alphabet: bytes) -> bytes:
    """One corpus entry with 1-8 edits; flipped bytes favour the grammar's ``alphabet``."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        if action == "flip":
            data[at] = draw(st.sampled_from(list(alphabet) + list(range(256))))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        else:
            end = min(len(data), at + draw(st.integers(1, 40)))
            data[at:at] = data[at:end]
    return bytes(data)
