"""The filters of `agijobs events`: what an event is about, and how filters combine."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agijobs.views.events import EventFilter, event_line, subjects

from ..helpers import make_scenario, run_engine


def _events() -> list[dict[str, Any]]:
    scenario = make_scenario(
        faults=[{"tick": 3, "node": "earth.a", "kind": "outage", "until": 12}],
        schedule=[
            {"tick": 4, "command": "pause-all", "reason": "drill"},
            {"tick": 6, "command": "resume", "reason": "over"},
            {"tick": 7, "command": "reroute", "from": "earth", "to": "luna", "reason": "r"},
        ],
    )
    _, raw = run_engine(scenario)
    return [
        {"seq": seq, "tick": tick, "type": kind, "data": data}
        for seq, (tick, kind, data) in enumerate(raw, 1)
    ]


EVENTS = _events()
LINES = [orjson.dumps(event, option=orjson.OPT_SORT_KEYS) for event in EVENTS]
TYPES = sorted({e["type"] for e in EVENTS} | {"job.", "owner.", "node.", "fault."})
JOBS = sorted({j for e in EVENTS for j in subjects(e["data"])[0]})


def _kept(keep: EventFilter) -> list[int]:
    return [e["seq"] for e, line in zip(EVENTS, LINES, strict=True) if keep.keeps_line(line)]


@settings(max_examples=200, deadline=None)
@given(
    types=st.lists(st.sampled_from(TYPES), max_size=2),
    job=st.none() | st.sampled_from([*JOBS[:4], "nobody"]),
    node=st.none() | st.sampled_from(["earth.a", "earth.b", "luna.c"]),
    shard=st.none() | st.sampled_from(["earth", "luna"]),
    since=st.none() | st.integers(0, 20),
)
def test_filters_combine_with_and(
    types: list[str], job: str | None, node: str | None, shard: str | None, since: int | None
) -> None:
    combined = set(_kept(EventFilter(tuple(types), job, node, shard, since)))
    each = [
        set(_kept(EventFilter(tuple(types)))),
        set(_kept(EventFilter(job=job))),
        set(_kept(EventFilter(node=node))),
        set(_kept(EventFilter(shard=shard))),
        set(_kept(EventFilter(since_tick=since))),
    ]
    assert combined == set.intersection(*each)
    # Several types are alternatives: each kept event has one of them.
    alternatives = set().union(*(set(_kept(EventFilter((t,)))) for t in types)) if types else None
    assert alternatives is None or each[0] == alternatives


def test_a_type_ending_in_a_dot_is_a_prefix_and_any_other_is_exact() -> None:
    assert {e["type"] for e in EVENTS if EventFilter(("owner.",)).keeps(e)} == {
        "owner.pause-all",
        "owner.resume",
        "owner.reroute",
    }
    assert not [e for e in EVENTS if EventFilter(("owner",)).keeps(e)]
    assert not [e for e in EVENTS if EventFilter(("job.assign",)).keeps(e)]


def test_what_an_event_is_about() -> None:
    reroute = next(e for e in EVENTS if e["type"] == "owner.reroute")
    assert subjects(reroute["data"]) == (set(), set(), {"earth", "luna"})
    spilled = {"job": "f-000001", "from": "earth", "to": "luna", "reason": "threshold"}
    assert subjects(spilled) == ({"f-000001"}, set(), {"earth", "luna"})
    register = {
        "input": {"args": {"node": {"id": "n9", "shard": "mars"}}, "command": "node.register"},
        "effect": {"node": "n9", "shard": "mars"},
    }
    assert subjects(register) == (set(), {"n9"}, {"mars"})


def test_an_event_as_a_line_of_text_escapes_control_characters() -> None:
    event = {"seq": 3, "tick": 2, "type": "fault.outage", "data": {"node": "x\x1b[2J"}}
    assert event_line(event) == "tick 2 · seq 3 · fault.outage · node=x\\x1b[2J"


def test_a_block_of_events_as_text_is_each_event_line() -> None:
    """`events_text` skips the escaping search on lines that cannot need it: its text is
    still `event_line`'s, for every character `visible` escapes (a JSON escape, a raw DEL,
    a raw bidi override) and for plain lines, parsed already or not."""
    from agijobs.ledger.canonical import dumps
    from agijobs.views.events import events_text

    odd = ["x\x1b[2J", "del\x7f", "bidi\u202eevil", "nul\x00", "line\u2028sep", "plain"]
    events = _events() + [
        {"seq": 90 + i, "tick": 9, "type": "node.down", "data": {"node": name, "n": i}}
        for i, name in enumerate(odd)
    ]
    lines = [dumps(event) for event in events]
    assert b"\x7f" in lines[-5] and "\u202e".encode() in lines[-4]  # stored raw, unescaped
    expected = "".join(event_line(event) + "\n" for event in events)
    assert events_text([(line, None) for line in lines]) == expected
    assert events_text(list(zip(lines, events, strict=True))) == expected
    assert "del\\x7f" in expected and "bidi\\u202eevil" in expected and "nul\\x00" in expected
    assert events_text([]) == ""


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=4),
        st.one_of(st.text(), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none()),
    )
)
def test_any_event_data_reads_the_same_line_by_line_or_as_a_block(data: dict[str, Any]) -> None:
    from agijobs.ledger.canonical import dumps
    from agijobs.views.events import events_text

    event = {"seq": 1, "tick": 0, "type": "node.down", "data": data}
    assert events_text([(dumps(event), None)]) == event_line(event) + "\n"
