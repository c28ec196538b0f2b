"""The submit file's fast check, held to `job.submit`'s model (hypothesis): whatever it
accepts without pydantic, the model accepts and writes the same way."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agijobs.errors import BadInput
from agijobs.scenario.intake import plainly_valid, validated

NAMES = st.one_of(
    st.sampled_from(["earth", "gpu", "a", "web-7", "x.y:z_", "-bad", "a\n", "é", "", "a" * 201]),
    st.text(max_size=4),
    st.integers(),
    st.none(),
)
NUMBERS = st.one_of(
    st.integers(-2, 5),
    st.sampled_from([0, 1, 100_000, 100_001, 10_000_000, 10_000_001, 2**63, 2**53]),
    st.booleans(),
    st.floats(allow_nan=False, max_value=10, min_value=-1),
    st.text(max_size=2),
)
ENTRY = st.dictionaries(
    st.sampled_from(["id", "prefix", "count", "shard", "skills", "duration", "value", "note"]),
    st.one_of(NAMES, NUMBERS, st.lists(NAMES, max_size=3)),
    max_size=7,
)
PLAIN = st.fixed_dictionaries(
    {"shard": st.just("earth"), "skills": st.just(["gpu"]), "duration": st.integers(1, 9)},
    optional={"value": st.integers(0, 2**60)},
).flatmap(
    lambda base: st.one_of(
        st.builds(lambda i: {**base, "id": i}, st.sampled_from(["a", "b-000001"])),
        st.builds(
            lambda p, c: {**base, "prefix": p, "count": c},
            st.sampled_from(["p", "q"]),
            st.integers(1, 70_000),
        ),
    )
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ENTRY, PLAIN), min_size=1, max_size=3))
def test_what_the_fast_check_accepts_the_model_accepts_the_same(entries: list[Any]) -> None:
    fast = plainly_valid(entries)
    try:
        slow = validated("jobs", entries, [str(i) for i in range(len(entries))])
    except BadInput:
        assert fast is None
    else:
        assert fast is None or fast == slow


@given(st.lists(PLAIN, min_size=1, max_size=2))
def test_plain_entries_take_the_fast_check(entries: list[Any]) -> None:
    jobs = sum(e.get("count", 1) for e in entries)
    value = sum(e.get("count", 1) * e.get("value", 0) for e in entries)
    assert (plainly_valid(entries) is not None) == (jobs <= 100_000 and value <= 2**53 - 1)
