"""Intent sentences: every form, its variants, and what a broken sentence is told."""

from __future__ import annotations

from typing import Any

import pytest

from agijobs.errors import BadInput
from agijobs.scenario.intents import FORMS, Intent, parse_intent

SHARDS = ["earth", "mars", "helios", "luna"]
NODES = ["mars.gpu-helion", "earth.core-alpha"]


def parse(text: str, now: int | None = None) -> Intent:
    return parse_intent(text, SHARDS, NODES, now)


def error_for(text: str, now: int | None = None) -> BadInput:
    with pytest.raises(BadInput) as caught:
        parse(text, now)
    return caught.value


def reroute(**fields: Any) -> dict[str, Any]:
    return {"command": "reroute", "from": "earth", "to": "helios", **fields}


# The table in the brief, in FORMS order: sentence, kind, entry.
TABLE: list[tuple[str, str, dict[str, Any]]] = [
    (
        "pause all shards at tick 120 because helios GPUs recalibrate",
        "schedule",
        {"tick": 120, "command": "pause-all", "reason": "helios GPUs recalibrate"},
    ),
    (
        "resume at tick 150",
        "schedule",
        {"tick": 150, "command": "resume", "reason": "intent: resume at tick 150"},
    ),
    (
        "reroute the earth backlog to helios at tick 180",
        "schedule",
        {
            "tick": 180,
            **reroute(backlog="all"),
            "reason": "intent: reroute the earth backlog to helios at tick 180",
        },
    ),
    (
        "reroute 500 jobs from earth to helios when earth queue exceeds 4000",
        "trigger",
        {
            "when": {"shard": "earth", "queue_above": 4000},
            **reroute(backlog=500),
            "reason": "intent: reroute 500 jobs from earth to helios when earth queue exceeds 4000",
        },
    ),
    (
        "pause all shards when any shard is critical",
        "trigger",
        {
            "when": {"any_shard": "critical"},
            "command": "pause-all",
            "reason": "intent: pause all shards when any shard is critical",
        },
    ),
    (
        "set mars latency budget to 350 ms at tick 200",
        "schedule",
        {
            "tick": 200,
            "command": "set-latency",
            "shard": "mars",
            "ms": 350,
            "reason": "intent: set mars latency budget to 350 ms at tick 200",
        },
    ),
    (
        "take mars.gpu-helion offline at tick 45 for 60 ticks",
        "fault",
        {"tick": 45, "node": "mars.gpu-helion", "kind": "outage", "until": 105},
    ),
    ("finish all jobs within 800 ticks", "expect", {"drained_by_tick": 800}),
    ("complete at least 98% of jobs", "expect", {"min_completed_ratio": 0.98}),
    ("keep spend under 25 USDC", "expect", {"max_cost": 25.0}),
    (
        "cordon node earth.core-alpha at tick 40 because its NIC flaps",
        "schedule",
        {
            "tick": 40,
            "command": "node.cordon",
            "node": "earth.core-alpha",
            "reason": "its NIC flaps",
        },
    ),
    (
        "uncordon node earth.core-alpha at tick 90",
        "schedule",
        {
            "tick": 90,
            "command": "node.uncordon",
            "node": "earth.core-alpha",
            "reason": "intent: uncordon node earth.core-alpha at tick 90",
        },
    ),
    (
        "drain node mars.gpu-helion within 20 ticks at tick 40 because of a kernel upgrade",
        "schedule",
        {
            "tick": 40,
            "command": "node.drain",
            "node": "mars.gpu-helion",
            "deadline_ticks": 20,
            "reason": "of a kernel upgrade",
        },
    ),
]


@pytest.mark.parametrize(("text", "kind", "entry"), TABLE, ids=[row[0] for row in TABLE])
def test_each_form(text: str, kind: str, entry: dict[str, Any]) -> None:
    intent = parse(text)
    assert (intent.text, intent.kind, intent.entry) == (text, kind, entry)


def test_forms_are_the_table_in_order_and_each_parses() -> None:
    assert len(FORMS) == 13
    assert tuple(row[0] for row in TABLE) == FORMS
    assert [parse(form).kind for form in FORMS] == [row[1] for row in TABLE]


PAUSE_120 = {"tick": 120, "command": "pause-all"}
LATENCY = {"tick": 200, "command": "set-latency", "shard": "mars", "ms": 350}
OUTAGE = {"tick": 45, "node": "mars.gpu-helion", "kind": "outage", "until": 105}
EARTH_ABOVE = {"shard": "earth", "queue_above": 4000}

# sentence, now, kind, entry; "reason" is filled in as "intent: <sentence>" when absent
# from a command entry.
VARIANTS: list[tuple[str, int | None, str, dict[str, Any]]] = [
    ("PAUSE ALL SHARDS AT TICK 120", None, "schedule", PAUSE_120),
    ("please pause everything @120.", None, "schedule", PAUSE_120),
    ("pause-all @ tick 120", None, "schedule", PAUSE_120),
    (
        "pause the fabric at 120 because Helios GPUs recalibrate.",
        None,
        "schedule",
        {**PAUSE_120, "reason": "Helios GPUs recalibrate"},
    ),
    (
        "  pause   all shards  at tick 120,  because   helios GPUs recalibrate  ",
        None,
        "schedule",
        {**PAUSE_120, "reason": "helios GPUs recalibrate"},
    ),
    (
        "pause all shards now because drill",
        31,
        "schedule",
        {**PAUSE_120, "tick": 31, "reason": "drill"},
    ),
    (
        "pause all shards at tick 120. Because helios GPUs recalibrate.",
        None,
        "schedule",
        {**PAUSE_120, "reason": "helios GPUs recalibrate"},
    ),
    ("unpause at tick 150", None, "schedule", {"tick": 150, "command": "resume"}),
    ("Resume all shards @150", None, "schedule", {"tick": 150, "command": "resume"}),
    ("resume now", 31, "schedule", {"tick": 31, "command": "resume"}),
    (
        "reroute earth to helios at tick 180",
        None,
        "schedule",
        {"tick": 180, **reroute(backlog="all")},
    ),
    (
        "move the earth backlog to helios now",
        31,
        "schedule",
        {"tick": 31, **reroute(backlog="all")},
    ),
    (
        "Shift 500 jobs from Earth to HELIOS at tick 180",
        None,
        "schedule",
        {"tick": 180, **reroute(backlog=500)},
    ),
    (
        "reroute 1,000 jobs from earth to helios @180",
        None,
        "schedule",
        {"tick": 180, **reroute(backlog=1000)},
    ),
    (
        "reroute 500 from earth to helios when earth queue is above 4000 every time",
        None,
        "trigger",
        {"when": EARTH_ABOVE, "repeat": True, **reroute(backlog=500)},
    ),
    (
        "reroute 500 jobs from earth to helios when the earth shard queue > 4000 each time.",
        None,
        "trigger",
        {"when": EARTH_ABOVE, "repeat": True, **reroute(backlog=500)},
    ),
    (
        "reroute the backlog of earth to helios when earth queue goes above 4000 repeatedly",
        None,
        "trigger",
        {"when": EARTH_ABOVE, "repeat": True, **reroute(backlog="all")},
    ),
    (
        "pause everything when any shard is degraded",
        None,
        "trigger",
        {"when": {"any_shard": "degraded"}, "command": "pause-all"},
    ),
    (
        "pause all shards when any shard goes critical every time because ops said so",
        None,
        "trigger",
        {
            "when": {"any_shard": "critical"},
            "repeat": True,
            "command": "pause-all",
            "reason": "ops said so",
        },
    ),
    ("set the latency budget of mars to 350ms at tick 200", None, "schedule", LATENCY),
    ("set mars budget to 350 ms @200", None, "schedule", LATENCY),
    ("Set MARS latency budget to 350 milliseconds at tick 200.", None, "schedule", LATENCY),
    (
        "set mars latency budget to 350 ms when earth queue > 4000",
        None,
        "trigger",
        {"when": EARTH_ABOVE, "command": "set-latency", "shard": "mars", "ms": 350},
    ),
    ("Take Mars.GPU-Helion down @45 for 60 ticks.", None, "fault", OUTAGE),
    ("mars.gpu-helion goes down at tick 45 for 60 ticks", None, "fault", OUTAGE),
    ("take mars.gpu-helion offline at tick 45 for 60ticks", None, "fault", OUTAGE),
    (
        "take earth.core-alpha offline at tick 45 until tick 50",
        None,
        "fault",
        {"tick": 45, "node": "earth.core-alpha", "kind": "outage", "until": 50},
    ),
    (
        "earth.core-alpha goes offline now for 5 ticks",
        31,
        "fault",
        {"tick": 31, "node": "earth.core-alpha", "kind": "outage", "until": 36},
    ),
    ("finish within 800 ticks", None, "expect", {"drained_by_tick": 800}),
    ("Drain everything by tick 800.", None, "expect", {"drained_by_tick": 800}),
    ("complete all jobs within 800 ticks", None, "expect", {"drained_by_tick": 800}),
    ("complete at least 0.98 of jobs", None, "expect", {"min_completed_ratio": 0.98}),
    ("Complete at least 98 percent of the jobs.", None, "expect", {"min_completed_ratio": 0.98}),
    ("complete at least 99.5 %", None, "expect", {"min_completed_ratio": 0.995}),
    ("keep spend under 25usdc", None, "expect", {"max_cost": 25.0}),
    ("keep cost below 25.50 USDC.", None, "expect", {"max_cost": 25.5}),
    ("keep spend under 25", None, "expect", {"max_cost": 25.0}),
]


@pytest.mark.parametrize(("text", "now", "kind", "entry"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_variants(text: str, now: int | None, kind: str, entry: dict[str, Any]) -> None:
    if kind in ("schedule", "trigger"):
        entry = {**entry, "reason": entry.get("reason", f"intent: {text.strip()}")}
    intent = parse(text, now)
    assert (intent.kind, intent.entry) == (kind, entry)


# sentence, now, a substring of the message.
ERRORS: list[tuple[str, int | None, str]] = [
    ("", None, "nothing to parse"),
    ("   ", None, "nothing to parse"),
    ("because reasons", None, "no command before `because`"),
    ("hello", None, 'matches no form; the closest is "'),
    ("pause all shards at tick zero", None, "expected a tick number after `tick` (got `zero`)"),
    (
        "set mars latency budget to fast at tick 200",
        None,
        "expected a number of ms after `to` (got `fast`)",
    ),
    ("set mars latency budget to 350 at tick 200", None, "expected `ms` after `350` (got `at`)"),
    ("set mars latency budget to 0 ms at tick 200", None, "ms must be ≥ 1 (got 0)"),
    (
        "reroute 500 jobs from marz to helios at tick 180",
        None,
        "unknown shard `marz`; did you mean `mars`?",
    ),
    (
        "take mars.gpu-helio offline at tick 45 for 60 ticks",
        None,
        "unknown node `mars.gpu-helio`; did you mean `mars.gpu-helion`?",
    ),
    ("take venus.gpu offline at tick 45 for 60 ticks", None, "unknown node `venus.gpu`"),
    ("reroute the earth backlog to helios now", None, "`now` needs `--from-storage`"),
    ("resume now", 0, "`now` is tick 0; a tick must be ≥ 1"),
    ("complete at least 150% of jobs", None, "a percentage must be between 0 and 100 (got 150%)"),
    ("complete at least 1.5 of jobs", None, "a ratio must be between 0 and 1 (got 1.5)"),
    ("complete at least -5%", None, "a percentage must be between 0 and 100 (got -5%)"),
    ("resume at tick 0", None, "tick must be ≥ 1 (got 0)"),
    ("resume at tick -5", None, "tick must be ≥ 1 (got -5)"),
    ("resume at tick 1.5", None, "tick must be a whole number (got 1.5)"),
    ("keep spend under -3 USDC", None, "max cost must be ≥ 0 (got -3)"),
    ("keep spend under 25 EUR", None, "expected `USDC` after `25` (got `EUR`)"),
    ("reroute 0 jobs from earth to helios at tick 180", None, "job count must be ≥ 1 (got 0)"),
    ("reroute earth to earth at tick 3", None, "cannot reroute `earth` to itself"),
    (
        "pause all shards when marz queue exceeds 10",
        None,
        "unknown shard `marz`; did you mean `mars`?",
    ),
    (
        "pause all shards when earth queue explodes",
        None,
        "expected `exceeds`, `is above` or `>` after `queue` (got `explodes`)",
    ),
    (
        "pause when any shard is on fire",
        None,
        "expected `critical` or `degraded` after `is` (got `on`)",
    ),
    (
        "take mars.gpu-helion offline at tick 45",
        None,
        "expected `for N ticks` after `45` (an outage needs a duration)",
    ),
    (
        "take mars.gpu-helion offline at tick 45 until tick 40",
        None,
        "until (40) must be after tick (45)",
    ),
    ("pause all shards", None, "expected `at tick N`, `now` or `when …` after `pause`"),
    ("pause all shards at tick 120 every time", None, "`every time` needs a `when …` trigger"),
    (
        "pause all shards at tick 120 and resume at tick 150",
        None,
        "unexpected `and` after `120`",
    ),
    ("pause all shards at tick 120 because", None, "expected a reason after `because`"),
    (
        "take mars.gpu-helion offline at tick 45 for 60 ticks because maintenance",
        None,
        "a fault has no reason",
    ),
    ("keep spend under 25 USDC because budget", None, "an expectation has no reason"),
    ("finish all jobs soon", None, "expected `within N ticks` after `finish` (got `soon`)"),
]


@pytest.mark.parametrize(
    ("text", "now", "problem"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS]
)
def test_bad_sentences(text: str, now: int | None, problem: str) -> None:
    error = error_for(text, now)
    assert error.exit_code == 2, error.message
    assert error.message.startswith(f'intent "{text}": '), error.message
    assert problem in error.message, error.message
    assert error.hint


def test_no_form_names_the_closest_and_lists_every_form() -> None:
    error = error_for("rerout the earth backlog to helios at tick 180")
    assert error.message == (
        'intent "rerout the earth backlog to helios at tick 180": matches no form; '
        'the closest is "reroute the earth backlog to helios at tick 180"'
    )
    assert error.hint == "forms: " + "; ".join(FORMS)


def test_a_broken_form_hints_with_its_own_example() -> None:
    error = error_for("set mars latency budget to fast at tick 200")
    assert error.render() == (
        'intent "set mars latency budget to fast at tick 200": expected a number of ms after '
        '`to` (got `fast`) — e.g. "set mars latency budget to 350 ms at tick 200"'
    )


def test_unknown_names_list_the_known_ones() -> None:
    assert error_for("resume when lunar queue > 3").render() == (
        'intent "resume when lunar queue > 3": unknown shard `lunar`; did you mean `luna`? '
        "— known shards: earth, mars, helios, luna"
    )
    assert error_for("take gpu offline at tick 3 for 2 ticks").hint == (
        "known nodes: mars.gpu-helion, earth.core-alpha"
    )


def test_now_without_a_storage_points_at_from_storage() -> None:
    error = error_for("pause all shards now because drill")
    assert error.hint is not None
    assert "--from-storage" in error.hint


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (FORMS[0], "pause-all @120 — reason: helios GPUs recalibrate"),
        (
            "reroute 500 jobs from earth to helios when earth queue exceeds 4000 every time "
            "because backlog",
            "reroute earth → helios (backlog 500) when earth queue > 4000, every time "
            "— reason: backlog",
        ),
        (FORMS[6], "fault: mars.gpu-helion outage @45 until 105"),
        (FORMS[8], "expect: completed ratio ≥ 0.98"),
        (FORMS[9], "expect: cost ≤ 25 USDC"),
    ],
)
def test_summaries(text: str, summary: str) -> None:
    assert parse(text).summary == summary


def test_the_same_sentence_parses_the_same_way_twice() -> None:
    for form in FORMS:
        assert parse(form) == parse(form)


# ------------------------------------------------------------------ node operations


def test_drain_without_a_node_is_still_the_expectation_to_finish() -> None:
    assert parse("drain within 800 ticks").entry == {"drained_by_tick": 800}
    assert parse("drain Mars.GPU-Helion in 5 @3").entry == {
        "tick": 3,
        "command": "node.drain",
        "node": "mars.gpu-helion",
        "deadline_ticks": 5,
        "reason": "intent: drain Mars.GPU-Helion in 5 @3",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cordon node earth.core-alpah at tick 4",
            'intent "cordon node earth.core-alpah at tick 4": unknown node `earth.core-alpah`; '
            "did you mean `earth.core-alpha`?",
        ),
        (
            "drain node mars.gpu-helion at tick 4",
            'intent "drain node mars.gpu-helion at tick 4": expected `within N ticks` (the '
            "drain's deadline) after `mars.gpu-helion` (got `at`)",
        ),
        (
            "drain node mars.gpu-helion within 0 ticks at tick 4",
            'intent "drain node mars.gpu-helion within 0 ticks at tick 4": deadline must be ≥ 1 '
            "(got 0)",
        ),
        (
            "uncordon node earth.core-alpha",
            'intent "uncordon node earth.core-alpha": expected `at tick N`, `now` or `when …` '
            "after `earth.core-alpha`",
        ),
    ],
)
def test_a_broken_node_operation_is_told_where(text: str, message: str) -> None:
    assert error_for(text).message == message
