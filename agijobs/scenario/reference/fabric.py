"""The fabric config: owner, shards with their routers and spillover, nodes, settings.

`fabric_config` turns a reference fabric config into the `fabric` section of a scenario
(owner, shards, nodes) plus its checkpoint interval and report label. It also returns a
`Context`, the fabric as the owner commands will find it: `commands` reads and updates it in
tick order, and builds the shards and nodes those commands register with the same
`shard_spec` and `node_spec`, so a translated fabric and a translated command agree.

A reference shard lists `spilloverTargets` and, under its router, `spilloverPolicies`;
agijobs has only policies, so `spillover` adds a default policy for each target without one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .fields import (
    AMOUNT,
    COUNT,
    ID,
    IDS,
    LIST,
    NUMBER,
    OBJECT,
    SKILLS,
    TEXT,
    WHOLE,
    At,
    checked,
    ignore_unknown,
    need,
    opt,
    opt_label,
)

# Reference nodes have no latency; each gets this, capped by the tightest shard budget so a
# translated node can serve every shard it may be routed to.
REFERENCE_NODE_LATENCY_MS = 50
# The reference beats its heartbeat in seconds; agijobs counts ticks.
SECONDS_PER_TICK = 1

_DEFAULT_DRAIN = 50
DEFAULT_LABEL = "latest"
NODE_KEYS = frozenset(
    {"id", "region", "capacity", "maxConcurrency", "specialties", "heartbeatIntervalSec"}
)
CHECKPOINT_PATH = "ignored; agijobs keeps checkpoints inside --storage."
REPORT_DIR = "ignored; agijobs keeps reports inside --storage."


@dataclass(slots=True)
class ShardState:
    """What a later shard.update needs to rebuild a shard's spillover list."""

    max_queue: int | None
    alert: int | None
    policies: list[dict[str, Any]]
    targets: list[str]


@dataclass(slots=True)
class Context:
    """The fabric as the owner commands see it, in tick order."""

    shards: dict[str, ShardState]
    nodes: dict[str, tuple[int | None, int | None]]  # capacity, maxConcurrency
    latency_ms: int
    label: str


@dataclass(frozen=True, slots=True)
class _Fabric:
    doc: dict[str, Any]
    context: Context
    checkpoint_every: int | None
    label: str | None


def fabric_config(at: At, raw: dict[str, Any], notes: list[str]) -> _Fabric:
    known = {"owner", "shards", "nodes", "checkpoint", "reporting"}
    ignore_unknown(at, raw, known, notes)
    owner_raw = need(at, raw, "owner", OBJECT)
    owner: dict[str, Any] = {"name": need(at / "owner", owner_raw, "name", TEXT)}
    metadata = {k: v for k, v in owner_raw.items() if k != "name"}
    if metadata:
        owner["metadata"] = metadata
    shard_items = need(at, raw, "shards", LIST)
    if not shard_items:
        (at / "shards").fail(
            "must list at least one shard", "add a shard (see the reference README)"
        )
    shards: list[dict[str, Any]] = []
    states: dict[str, ShardState] = {}
    for i, item in enumerate(shard_items):
        spec, state = shard_spec(at / "shards" / i, item, notes)
        shards.append(spec)
        states[spec["id"]] = state
    latency = min(REFERENCE_NODE_LATENCY_MS, *(s["latency_budget_ms"] for s in shards))
    nodes: list[dict[str, Any]] = []
    sizes: dict[str, tuple[int | None, int | None]] = {}
    for i, item in enumerate(need(at, raw, "nodes", LIST)):
        spec, size = node_spec(at / "nodes" / i, item, latency, notes)
        nodes.append(spec)
        sizes[spec["id"]] = size
    if nodes:
        notes.append(f"{at / 'nodes'}: {latency_notice(latency)}")
    checkpoint = opt(at, raw, "checkpoint", OBJECT) or {}
    ignore_unknown(at / "checkpoint", checkpoint, {"path", "intervalTicks"}, notes)
    every = opt(at / "checkpoint", checkpoint, "intervalTicks", COUNT)
    if checkpoint.get("path") is not None:
        notes.append(f"{at / 'checkpoint' / 'path'}: {CHECKPOINT_PATH}")
    reporting = opt(at, raw, "reporting", OBJECT) or {}
    ignore_unknown(at / "reporting", reporting, {"directory", "defaultLabel"}, notes)
    label = opt_label(at / "reporting", reporting, "defaultLabel")
    if reporting.get("directory") is not None:
        notes.append(f"{at / 'reporting' / 'directory'}: {REPORT_DIR}")
    doc = {"owner": owner, "shards": shards, "nodes": nodes}
    context = Context(states, sizes, latency, label or DEFAULT_LABEL)
    return _Fabric(doc, context, every, label)


def latency_notice(latency: int) -> str:
    return (
        f"reference nodes have no latency; latency_ms is set to {latency} "
        f"({REFERENCE_NODE_LATENCY_MS} ms, capped by the smallest shard latencyBudgetMs)."
    )


def shard_spec(at: At, raw: Any, notes: list[str]) -> tuple[dict[str, Any], ShardState]:
    obj = checked(at, raw, OBJECT)
    known = {"id", "displayName", "latencyBudgetMs", "maxQueue", "router", "spilloverTargets"}
    ignore_unknown(at, obj, known, notes)
    spec: dict[str, Any] = {"id": need(at, obj, "id", ID)}
    name = opt(at, obj, "displayName", TEXT)
    if name is not None:
        spec["name"] = name
    spec["latency_budget_ms"] = need(at, obj, "latencyBudgetMs", COUNT)
    spec["max_queue"] = need(at, obj, "maxQueue", COUNT)
    router = opt(at, obj, "router", OBJECT) or {}
    alert, policies = router_settings(at / "router", router, notes)
    if alert is not None:
        spec["alert_threshold"] = alert
    targets = opt(at, obj, "spilloverTargets", IDS) or []
    state = ShardState(spec["max_queue"], alert, policies or [], targets)
    spec["spillover"] = spillover(at, state, notes)
    return spec, state


def router_settings(
    at: At, router: dict[str, Any], notes: list[str]
) -> tuple[int | None, list[dict[str, Any]] | None]:
    ignore_unknown(at, router, {"queueAlertThreshold", "spilloverPolicies"}, notes)
    alert = opt(at, router, "queueAlertThreshold", COUNT)
    items = opt(at, router, "spilloverPolicies", LIST)
    if items is None:
        return alert, None
    policies = []
    for j, item in enumerate(items):
        p_at = at / "spilloverPolicies" / j
        policy = checked(p_at, item, OBJECT)
        known = {"target", "threshold", "maxDrainPerTick", "requiredSkills"}
        ignore_unknown(p_at, policy, known, notes)
        policies.append(
            {
                "target": need(p_at, policy, "target", ID),
                "threshold": need(p_at, policy, "threshold", WHOLE),
                "max_drain_per_tick": need(p_at, policy, "maxDrainPerTick", COUNT),
                "required_skills": opt(p_at, policy, "requiredSkills", IDS) or [],
            }
        )
    return alert, policies


def spillover(at: At, state: ShardState, notes: list[str]) -> list[dict[str, Any]]:
    """The shard's policies, then one default policy per spilloverTarget without one."""
    policies = list(state.policies)
    covered = {p["target"] for p in policies}
    drain = max((p["max_drain_per_tick"] for p in policies), default=_DEFAULT_DRAIN)
    for target in state.targets:
        if target in covered:
            continue
        covered.add(target)
        if state.alert is not None:
            threshold = state.alert
        elif state.max_queue is not None:
            threshold = state.max_queue * 7 // 10
        else:
            at.fail(
                f"spillover target `{target}` has no policy, and the shard's queue size is "
                "unknown here, so there is no default threshold",
                "give a router -> spilloverPolicies entry for each spilloverTargets entry",
            )
        policies.append(
            {
                "target": target,
                "threshold": threshold,
                "max_drain_per_tick": drain,
                "required_skills": [],
            }
        )
        notes.append(
            f"{at}: spillover target `{target}` has no router -> spilloverPolicies entry; "
            f"added one with threshold {threshold} and max_drain_per_tick {drain}."
        )
    return policies


def node_spec(
    at: At, raw: Any, latency: int, notes: list[str]
) -> tuple[dict[str, Any], tuple[int | None, int | None]]:
    obj = checked(at, raw, OBJECT)
    spec: dict[str, Any] = {"id": need(at, obj, "id", ID), "shard": need(at, obj, "region", ID)}
    capacity = opt(at, obj, "capacity", COUNT)
    concurrency = opt(at, obj, "maxConcurrency", COUNT)
    if capacity is None and concurrency is None:
        at.fail(
            "needs `capacity` or `maxConcurrency` (its number of slots)",
            "add `capacity` (a whole number > 0, e.g. 12)",
        )
    spec["slots"] = min(v for v in (capacity, concurrency) if v is not None)
    spec["skills"] = need(at, obj, "specialties", SKILLS)
    spec["latency_ms"] = latency
    seconds = opt(at, obj, "heartbeatIntervalSec", NUMBER)
    if seconds is None:
        notes.append(f"{at / 'heartbeatIntervalSec'}: absent; heartbeat_ticks defaults to 1.")
    spec["heartbeat_ticks"] = 1 if seconds is None else heartbeat_ticks(seconds)
    price = price_per_job(at, obj, notes)
    if price is not None:
        spec["price_per_job"] = price
    metadata = {k: v for k, v in obj.items() if k not in NODE_KEYS}
    if metadata:
        spec["metadata"] = metadata
    return spec, (capacity, concurrency)


def heartbeat_ticks(seconds: float) -> int:
    return max(1, math.ceil(seconds / SECONDS_PER_TICK))


def price_per_job(at: At, obj: dict[str, Any], notes: list[str]) -> float | None:
    pricing = obj.get("pricing")
    if pricing is None:
        return None
    unit = pricing.get("unit") if isinstance(pricing, dict) else None
    if unit == "job":
        price: float = need(at / "pricing", pricing, "amount", AMOUNT)
        return price
    notes.append(
        f"{at / 'pricing' / 'unit'}: {unit!r} is not 'job', so there is no price_per_job "
        "(pricing stays in metadata)."
    )
    return None
