"""The shape of a checkpoint's state, checked when a checkpoint is loaded.

The integrity hash proves the bytes are the ones written; this proves they describe a state
this agijobs can restore (a checkpoint from another version, or sealed after editing, fails
here with its key path instead of crashing the restore). `Engine.restore` then reads the
plain data. Job rows are not part of this state but of its job table (agijobs.ledger.jobtable),
whose shape is checked as it is attached and each row as it is restored.

A table of types rather than pydantic models: every owner command at rest and every
`status` loads a checkpoint, and must not pay for importing pydantic. The check is strict
(JSON types as written, no coercion: the restore reads the values as they are) and its
messages read as pydantic's did: ``state -> nodes -> 0 -> outages: Field required``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import IntegrityError
from .fabric.state import COUNTERS as COUNTER_NAMES


class _Of:
    """A spec about another spec."""

    __slots__ = ("spec",)

    def __init__(self, spec: Any) -> None:
        self.spec = spec


class Omittable(_Of):
    """A field that may be absent (the snapshot leaves it out when empty); never null."""

    __slots__ = ()


class Nullable(_Of):
    """A field that must be there, and may be null."""

    __slots__ = ()


class ListOf(_Of):
    __slots__ = ()


class MapOf(_Of):
    """A JSON object with any keys, each value of `spec`."""

    __slots__ = ()


# A spec: a type (int, str, bool, object for anything), a ListOf, a MapOf, a Nullable, a
# tuple of specs (a list of exactly those items), or a dict of field -> spec (exactly those
# fields, but for Omittable ones).
TALLY = (int, int)
POLICY = {
    "target": str,
    "threshold": int,
    "max_drain_per_tick": int,
    "required_skills": ListOf(str),
}
COUNTERS = dict.fromkeys((*COUNTER_NAMES, "queued", "in_flight"), TALLY)
SHARD = {
    "id": str,
    "name": str,
    "retired": bool,
    "forward_to": Nullable(str),
    "budget_ms": int,
    "max_queue": int,
    "alert_threshold": int,
    "policies": ListOf(POLICY),
    "reroute_target": Nullable(str),
    "paused": bool,
    "next_back": int,
    "next_front": int,
    "cost_nano": int,
    "counters": COUNTERS,
    # Rows in the job table (agijobs.ledger.jobtable): queued and deferred, in their queue classes
    "queued_jobs": int,
    "deferred_jobs": int,
}
NODE = {
    "id": str,
    "shard": str,
    "skills": ListOf(str),
    "heartbeat": int,
    "price_nano": int,
    "metadata": MapOf(object),
    "base_latency_ms": int,
    "up": bool,
    "outages": int,
    "latency_ms": int,
    "slots": int,
    "timer": (str, int),
    "running_jobs": int,  # rows in the job table
}
GOVERNANCE = {
    "keys": ListOf({"name": str, "public_key": str, "roles": ListOf(str)}),
    "approvals": MapOf(int),
    "operator_may": ListOf(str),
    "proposal_expiry_ticks": int,
    "proposals": ListOf(
        {
            "id": str,
            "command": MapOf(object),
            "needed": int,
            "expires_tick": int,
            "signers": ListOf(str),
        }
    ),
    "nonces": ListOf(str),
}
SNAPSHOT = {
    "format": int,
    "tick": int,
    "paused": bool,
    "next_ordinal": int,
    "checkpoint_every": int,
    "report_label": str,
    "topology_dirty": bool,
    "journal_applied": int,
    "owner_actions": int,
    "outside_commands": int,
    "job_columns": ListOf(str),
    "shards": ListOf(SHARD),
    "nodes": ListOf(NODE),
    "job_table": {"bytes": int, "sha256": str},
    "governance": Omittable(GOVERNANCE),  # absent in open mode
    "triggers": Omittable(ListOf(bool)),  # absent without triggers
    "attempts": Omittable(MapOf(int)),  # absent until an executor rejects a job
}
_NAMES = {int: "integer", str: "string", bool: "boolean"}


class _Misfit(Exception):
    def __init__(self, where: Sequence[Any], message: str) -> None:
        super().__init__(message)
        self.where, self.message = list(where), message


def check_shape(value: Any, spec: Any, where: list[Any]) -> None:
    """Raise `_Misfit` at the first place `value` departs from `spec`."""
    if spec is object:
        return
    if isinstance(spec, type):
        # JSON's true is not an integer here, whatever Python says (bool is an int).
        if type(value) is not spec:
            raise _Misfit(where, f"Input should be a valid {_NAMES[spec]}")
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _Misfit(where, "Input should be a valid dictionary")
        for name, field in spec.items():
            if isinstance(field, Omittable):
                if name in value:
                    check_shape(value[name], field.spec, [*where, name])
            elif name not in value:
                raise _Misfit([*where, name], "Field required")
            else:
                check_shape(value[name], field, [*where, name])
        for name in value:
            if name not in spec:
                raise _Misfit([*where, name], "Extra inputs are not permitted")
    elif isinstance(spec, Nullable):
        if value is not None:
            check_shape(value, spec.spec, where)
    elif isinstance(spec, tuple):
        if not isinstance(value, list) or len(value) != len(spec):
            raise _Misfit(where, f"Input should be a list of {len(spec)} items")
        for index, (item, field) in enumerate(zip(value, spec, strict=True)):
            check_shape(item, field, [*where, index])
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise _Misfit(where, "Input should be a valid list")
        for index, item in enumerate(value):
            check_shape(item, spec.spec, [*where, index])
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise _Misfit(where, "Input should be a valid dictionary")
        for name, item in value.items():
            check_shape(item, spec.spec, [*where, name])
    else:  # pragma: no cover - the specs above are all there is
        raise TypeError(f"not a spec: {spec!r}")


def check_state(state: Any, plan_shards: Sequence[str], keyed: bool, name: str) -> None:
    """Raise `IntegrityError` unless `state` is a restorable state of the fabric whose plan
    declares `plan_shards` and (`keyed`) owner keys."""
    remedy = "the checkpoint was written by another agijobs version or altered; re-run"
    try:
        check_shape(state, SNAPSHOT, [])
    except _Misfit as misfit:
        where = " -> ".join(str(p) for p in ("state", *misfit.where))
        raise IntegrityError(f"{name}: {where}: {misfit.message}", remedy) from None
    # Owner commands register and remove shards and nodes, but a shard is never forgotten
    # (its history stays in the totals) and every node belongs to a shard of the state.
    shards = [s["id"] for s in state["shards"]]
    if shards != sorted(set(shards)) or not set(plan_shards) <= set(shards):
        raise IntegrityError(f"{name}: its shards are not the plan's", remedy)
    if (state.get("governance") is None) == keyed:
        raise IntegrityError(f"{name}: its owner authority is not the plan's", remedy)
    nodes = [n["id"] for n in state["nodes"]]
    if nodes != sorted(set(nodes)) or any(n["shard"] not in shards for n in state["nodes"]):
        raise IntegrityError(f"{name}: its nodes are not in order or not in its shards", remedy)
