"""Events as `agijobs events` and `describe` read them: which job, node and shard an event
is about, the filters an operator combines, and one event as a line of text.

An event is about the ids it names: `job`, `node`, `shard`, a move's `from` and `to`, and
for an owner command the same names among its arguments and its effect (a node or shard it
registers is named by its spec's `id`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .describe import describe_effect, outcome_of
from .text import visible

_SHARD_KEYS = ("shard", "from", "to", "target")


def subjects(data: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """The (jobs, nodes, shards) an event's data names."""
    jobs: set[str] = set()
    nodes: set[str] = set()
    shards: set[str] = set()
    places = [data]
    command = data.get("input")
    if isinstance(command, dict) and isinstance(command.get("args"), dict):
        places.append(command["args"])
    if isinstance(data.get("effect"), dict):
        places.append(data["effect"])
    for place in places:
        _name(place.get("job"), jobs)
        node = place.get("node")
        if isinstance(node, dict):  # node.register: the spec, with its shard
            _name(node.get("shard"), shards)
        _name(node, nodes)
        for key in _SHARD_KEYS:
            _name(place.get(key), shards)
    return jobs, nodes, shards


def _name(value: Any, into: set[str]) -> None:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str):
        into.add(value)


class LineFilter(Protocol):
    def keeps_line(self, line: bytes) -> dict[str, Any] | None:
        """The event on `line` if the filter keeps it, else None."""
        ...


@dataclass(slots=True)
class EventFilter:
    """What `agijobs events` keeps: every given filter must hold (they combine with AND;
    several --type values are alternatives). A type ending in `.` is a prefix."""

    types: tuple[str, ...] = ()
    job: str | None = None
    node: str | None = None
    shard: str | None = None
    since_tick: int | None = None
    needles: tuple[bytes, ...] = field(default=(), init=False)
    type_needles: tuple[bytes, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        # Bytes an event's line must hold to be about the job, node or shard, and one of
        # which it must hold to be of a type asked for (the canonical line ends with its
        # type): a line that lacks them is skipped unparsed (most of a large log).
        self.needles = tuple(
            orjson.dumps(name) for name in (self.job, self.node, self.shard) if name is not None
        )
        self.type_needles = tuple(
            b'"type":' + (orjson.dumps(t)[:-1] if t.endswith(".") else orjson.dumps(t) + b"}")
            for t in self.types
        )

    @property
    def everything(self) -> bool:
        return not (self.types or self.job or self.node or self.shard) and self.since_tick is None

    def keeps_line(self, line: bytes) -> dict[str, Any] | None:
        """The event on `line` if the filter keeps it, else None."""
        for needle in self.needles:
            if needle not in line:
                return None
        if self.type_needles and not any(needle in line for needle in self.type_needles):
            return None
        event: dict[str, Any] = orjson.loads(line)
        return event if self.keeps(event) else None

    def keeps(self, event: dict[str, Any]) -> bool:
        if self.since_tick is not None and event["tick"] < self.since_tick:
            return False
        if self.types and not any(_type_matches(event["type"], t) for t in self.types):
            return False
        if self.job is None and self.node is None and self.shard is None:
            return True
        jobs, nodes, shards = subjects(event["data"])
        return (
            (self.job is None or self.job in jobs)
            and (self.node is None or self.node in nodes)
            and (self.shard is None or self.shard in shards)
        )


def _type_matches(kind: str, wanted: str) -> bool:
    return kind.startswith(wanted) if wanted.endswith(".") else kind == wanted


def event_line(event: dict[str, Any]) -> str:
    """One event for a human: `tick T · seq S · type · what it says`."""
    return visible(_said(event))


def events_text(batch: Iterable[tuple[bytes, dict[str, Any] | None]]) -> str:
    """`event_line` of each (stored line, its event or None when not parsed yet), each
    ending in a newline, as one text: `agijobs events` prints a block of the log at once."""
    out = []
    for line, event in batch:
        said = _said(event if event is not None else orjson.loads(line))
        # Only an escape, DEL or a byte outside ASCII in the stored line can decode to a
        # character `visible` escapes (JSON has no raw control characters): most lines
        # skip the search.
        plain = line.isascii() and b"\\" not in line and b"\x7f" not in line
        out.append(said if plain else visible(said))
    out.append("")
    return "\n".join(out)


def _said(event: dict[str, Any]) -> str:
    kind, data = event["type"], event["data"]
    head = f"tick {event['tick']} · seq {event['seq']} · {kind}"
    command = data.get("input") if isinstance(data, dict) else None
    if isinstance(command, dict) and "command" in command:
        said = f"{command['command']} by {command.get('actor')} — {command.get('reason')}"
        outcome = outcome_of(kind)
        if outcome == "applied" and isinstance(data.get("effect"), dict):
            # An effect this version does not know how to word: the raw event has it.
            with contextlib.suppress(KeyError, TypeError, ValueError):
                said += f": {describe_effect(command['command'], data['effect'])}"
        elif outcome != "applied":
            said += f" ({outcome})"
        return f"{head} · {said}"
    return f"{head} · {fields(data)}"


def fields(data: dict[str, Any]) -> str:
    """`key=value` pairs, in key order (values that are lists or maps in compact JSON)."""
    return " ".join([f"{key}={_text(value)}" for key, value in sorted(data.items())])


def _text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return str(value)  # as JSON writes it (a bool is not `int` here: JSON writes true)
    return orjson.dumps(value).decode()


def known_names(names: Iterable[str], given: str, what: str) -> str | None:
    """None when `given` is among `names`, else the message that says it is not."""
    from ..errors import did_you_mean

    listed = sorted(set(names))
    if given in listed:
        return None
    return f"no {what} `{given}` in this run{did_you_mean(given, listed)}"


def description_lines(kind: str, described: dict[str, Any]) -> list[str]:
    """`agijobs describe` for a human: a job, node or shard, then its history."""
    lines = _DESCRIBED[kind](described)
    history = described["history"]
    lines.append("history:" if history else "history: none")
    lines.extend("  " + event_line(entry) for entry in history)
    return [visible(line) for line in lines]


def _job_lines(job: dict[str, Any]) -> list[str]:
    where = {
        "running": f"running on {job['node']}",
        "completed": f"completed on {job['node']}",
    }.get(job["state"], job["state"])
    lines = [f"job {job['job']}: {where} in shard {job['shard']} since tick {job['since']['tick']}"]
    submitted = job["submitted"]
    if submitted is not None:
        lines.append(
            f"submitted: tick {submitted['tick']} to {submitted['shard']}, value "
            f"{submitted['value']} · moves {job['moves']} · requeues {job['requeues']}"
        )
    return lines


def _node_lines(node: dict[str, Any]) -> list[str]:
    latency = f"latency {node['latency_ms']} ms"
    if node["base_latency_ms"] is not None and node["base_latency_ms"] != node["latency_ms"]:
        latency += f" (base {node['base_latency_ms']})"
    if node["over_budget"]:
        latency += ", over the shard's budget"
    running = node["running"]
    return [
        f"node {node['node']} (shard {node['shard']}): {node['status']} · slots {node['slots']}"
        f" · {latency} · running {node['running_jobs']} · outages {node['outages']}",
        f"skills: {', '.join(node['skills']) or 'none'}",
        f"as of: {node['as_of']['source']} at tick {node['as_of']['tick']}",
        *([f"running: {', '.join(running) or 'none'}"] if running is not None else []),
    ]


def _shard_lines(shard: dict[str, Any]) -> list[str]:
    state = "deregistered" if shard["retired"] else "paused" if shard["paused"] else "running"
    if shard["health"]:
        state += f", {shard['health']}"
    counters = shard["counters"]
    policies = "; ".join(
        f"{p['target']} (threshold {p['threshold']}, drain {p['max_drain_per_tick']}/tick)"
        for p in shard["spillover"]
    )
    return [
        f"shard {shard['shard']} ({shard['name']}): {state} · budget {shard['budget_ms']} ms"
        f" · max queue {shard['max_queue']} · alert at {shard['alert_threshold']}",
        f"queues: queued {shard['queued']} · deferred {shard['deferred']} · in-flight "
        f"{shard['in_flight']}",
        "counters: " + " · ".join(f"{key} {value}" for key, value in sorted(counters.items())),
        f"spillover: {policies or 'none'} · reroute target: {shard['reroute_target'] or 'none'}",
        f"as of: {shard['as_of']['source']} at tick {shard['as_of']['tick']}",
    ]


_DESCRIBED = {"job": _job_lines, "node": _node_lines, "shard": _shard_lines}


class FabricWide:
    """Keeps the owner events about the whole fabric (pause-all, resume): part of every
    shard's history."""

    def keeps_line(self, line: bytes) -> dict[str, Any] | None:
        if b'"type":"owner.' not in line:
            return None
        event: dict[str, Any] = orjson.loads(line)
        return None if any(subjects(event["data"])) else event
