"""Owner authority in the engine: signatures, roles, thresholds, proposals, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agijobs.errors import Refused
from agijobs.fabric.authority import envelope_of
from agijobs.fabric.engine import Engine
from agijobs.fabric.inputs import CommandInput
from agijobs.ledger.canonical import dumps
from agijobs.ledger.signing import (
    command_message,
    fingerprint,
    format_public_key,
    parse_public_key,
    public_bytes,
    sign,
    verify,
)
from agijobs.run.keys import LoadedKey, sign_command, signed_auth
from agijobs.scenario.models import Scenario

from ..contract_check import check_event
from ..helpers import engine_of

RUN = "run-1"


def make_key(name: str) -> tuple[str, LoadedKey]:
    private = Ed25519PrivateKey.generate()
    from pathlib import Path

    return name, LoadedKey(Path(f"/nowhere/{name}.key"), private, public_bytes(private))


KEYS = dict(make_key(n) for n in ("alice", "bob", "carol", "oncall", "mallory", "runner"))
RUNNER = {"name": "runner", "public_key": KEYS["runner"].public_key, "roles": ["runner"]}


def keyed_scenario(**owner: Any) -> Scenario:
    roles = {
        "alice": ["owner"],
        "bob": ["owner"],
        "carol": ["owner"],
        "oncall": ["operator"],
        "runner": ["runner"],
    }
    return Scenario.model_validate(
        {
            "name": "keyed",
            "seed": 1,
            "fabric": {
                "owner": {
                    "name": "Owner",
                    "keys": [
                        {"name": n, "public_key": KEYS[n].public_key, "roles": r}
                        for n, r in roles.items()
                    ],
                    "approvals": {"pause-all": 1, "default": 2},
                    "operator_may": ["pause-all"],
                    "proposal_expiry_ticks": 5,
                    **owner,
                },
                "shards": [
                    {"id": "earth", "latency_budget_ms": 120, "max_queue": 100},
                    {"id": "mars", "latency_budget_ms": 420, "max_queue": 100},
                ],
                "nodes": [
                    {
                        "id": "earth.a",
                        "shard": "earth",
                        "slots": 2,
                        "skills": ["general"],
                        "latency_ms": 80,
                        "heartbeat_ticks": 4,
                    }
                ],
            },
            "workload": [
                {
                    "prefix": "j",
                    "shard": "earth",
                    "skills": ["general"],
                    "count": 20,
                    "duration": 2,
                    "value": 1,
                    "arrive": {"start": 1, "per_tick": 1},
                }
            ],
            "run": {"max_ticks": 200},
        }
    )


def engine_at_rest(**owner: Any) -> Engine:
    engine = engine_of(keyed_scenario(**owner))
    engine.run_id = RUN
    for _ in range(3):
        engine.run_tick()
    return engine


def signed(
    name: str, args: dict[str, Any], key: str, *, run_id: str = RUN, actor: str | None = None
) -> CommandInput:
    auth = sign_command(KEYS[key], actor or key, name, args, "why", "t0", run_id)
    return CommandInput(name, args, "why", actor or key, "at-rest", "t0", auth=auth)


def approval(proposal: CommandInput, pid: str, key: str) -> CommandInput:
    message = command_message(envelope_of(proposal))
    auth = signed_auth(KEYS[key], key, message)
    return CommandInput("approve", {"proposal": pid}, "ok", key, "at-rest", "t1", auth=auth)


def refusal(engine: Engine, command: CommandInput) -> str:
    before = dumps({**engine.snapshot(), "outside_commands": 0, "governance": None})
    with pytest.raises(Refused) as caught:
        engine.apply_at_rest(command)
    kinds = [kind for kind, _ in engine.events]
    assert kinds == ["governance.refused"]
    assert engine.events[0][1]["reason"] == caught.value.reason
    # The fabric is unchanged: only the count of outside commands moved.
    assert dumps({**engine.snapshot(), "outside_commands": 0, "governance": None}) == before
    return caught.value.reason


# ------------------------------------------------------------------ signing


def test_a_signature_verifies_only_over_the_signed_bytes_and_key() -> None:
    key = KEYS["alice"]
    message = b"agijobs-command-v1\n{}"
    signature = sign(key.private, message)
    assert verify(key.public_raw, signature, message)
    assert not verify(key.public_raw, signature, message + b" ")
    assert not verify(KEYS["bob"].public_raw, signature, message)
    assert not verify(key.public_raw, "not base64!", message)


def test_public_keys_round_trip_and_bad_ones_say_why() -> None:
    raw = KEYS["alice"].public_raw
    assert parse_public_key(format_public_key(raw)) == raw
    assert fingerprint(raw).startswith("SHA256:")
    with pytest.raises(ValueError, match="must start with `ed25519:`"):
        parse_public_key("ssh-ed25519 AAAA")
    with pytest.raises(ValueError, match="must hold 32 bytes"):
        parse_public_key("ed25519:AAAA")


# ------------------------------------------------------------------ refusals


def test_an_unsigned_command_is_refused_and_recorded() -> None:
    engine = engine_at_rest()
    command = CommandInput("pause-all", {}, "why", "alice", "at-rest", "t0")
    assert refusal(engine, command) == "unsigned"


def test_a_key_outside_the_key_set_is_refused() -> None:
    assert refusal(engine_at_rest(), signed("pause-all", {}, "mallory")) == "unknown-key"


def test_an_altered_command_no_longer_verifies() -> None:
    command = signed("set-latency", {"shard": "mars", "ms": 300}, "alice")
    forged = CommandInput(
        command.name, {"shard": "mars", "ms": 5}, "why", "alice", "at-rest", "t0", auth=command.auth
    )
    assert refusal(engine_at_rest(), forged) == "bad-signature"


def test_an_operator_may_pause_alone_but_not_reroute() -> None:
    engine = engine_at_rest()
    engine.apply_at_rest(signed("pause-all", {}, "oncall"))
    assert engine.state.paused is True
    kinds = [kind for kind, _ in engine.events]
    assert kinds == ["governance.authorized", "owner.pause-all"]
    assert engine.events[0][1]["break_glass"] is True
    reroute = signed("reroute", {"from": "earth", "to": "mars"}, "oncall")
    assert refusal(engine, reroute) == "role"


def test_a_signature_is_good_once() -> None:
    engine = engine_at_rest()
    command = signed("pause-all", {}, "alice")
    engine.apply_at_rest(command)
    assert refusal(engine, command) == "replayed"


def test_a_command_signed_for_another_storages_run_is_refused() -> None:
    command = signed("pause-all", {}, "alice", run_id="run-elsewhere")
    assert refusal(engine_at_rest(), command) == "other-run"


def test_the_actor_is_the_signing_key() -> None:
    command = signed("pause-all", {}, "alice", actor="bob")
    assert refusal(engine_at_rest(), command) == "actor-mismatch"


# ------------------------------------------------------------------ proposals


def test_two_of_three_owners_apply_a_command_and_a_key_approves_once() -> None:
    engine = engine_at_rest()
    proposal = signed("set-latency", {"shard": "mars", "ms": 300}, "alice")
    events = engine.apply_at_rest(proposal)
    assert [kind for kind, _ in events] == ["owner.proposal"]
    effect = events[0][1]["effect"]
    assert (effect["approvals"], effect["needed"], effect["expires_tick"]) == (1, 2, 3 + 5)
    assert engine.state.shards["mars"].budget_ms == 420  # nothing else changed
    pid = effect["proposal"]
    assert refusal(engine, approval(proposal, pid, "alice")) == "duplicate-approval"
    assert refusal(engine, approval(proposal, pid, "oncall")) == "role"
    events = engine.apply_at_rest(approval(proposal, pid, "bob"))
    kinds = [kind for kind, _ in events]
    assert kinds == ["owner.approval", "governance.authorized", "owner.set-latency"]
    assert events[1][1]["signed_by"] == ["alice", "bob"]
    assert engine.state.shards["mars"].budget_ms == 300
    # Applied once: neither a further approval nor the original signature applies it again.
    assert refusal(engine, approval(proposal, pid, "carol")) == "unknown-proposal"
    assert refusal(engine, proposal) == "replayed"


def test_a_proposal_expires_after_its_ticks_and_cannot_be_approved() -> None:
    engine = engine_at_rest()
    proposal = signed("set-latency", {"shard": "mars", "ms": 300}, "alice")
    pid = engine.apply_at_rest(proposal)[0][1]["effect"]["proposal"]
    expired = [e for _ in range(6) for e in engine.run_tick() if e[0] == "governance.expired"]
    assert expired == [
        (
            "governance.expired",
            {"proposal": pid, "command": "set-latency", "signed_by": ["alice"], "needed": 2},
        )
    ]
    check_event(*expired[0])  # as the log's schema has it (`agijobs schema governance.expired`)
    assert engine.state.tick == 3 + 5 + 1
    assert refusal(engine, approval(proposal, pid, "bob")) == "unknown-proposal"


def test_the_checkpoint_keeps_proposals_and_used_nonces() -> None:
    engine = engine_at_rest()
    used = signed("pause-all", {}, "alice")
    engine.apply_at_rest(used)
    proposal = signed("set-latency", {"shard": "mars", "ms": 300}, "alice")
    pid = engine.apply_at_rest(proposal)[0][1]["effect"]["proposal"]
    restored = Engine.restore(engine.inputs, engine.snapshot())
    restored.run_id = RUN
    assert dumps(restored.snapshot()) == dumps(engine.snapshot())
    assert refusal(restored, used) == "replayed"
    restored.apply_at_rest(approval(proposal, pid, "carol"))
    assert restored.state.shards["mars"].budget_ms == 300


def test_key_changes_need_the_default_threshold_and_take_effect_at_once() -> None:
    engine = engine_at_rest(approvals={"default": 2, "governance.update": 1})
    _, dave = make_key("dave")
    keys = [
        {"name": "alice", "public_key": KEYS["alice"].public_key, "roles": ["owner"]},
        {"name": "dave", "public_key": dave.public_key, "roles": ["owner"]},
        RUNNER,
    ]
    update = signed("governance.update", {"keys": keys}, "alice")
    pid = engine.apply_at_rest(update)[0][1]["effect"]["proposal"]  # 1 is not enough
    engine.apply_at_rest(approval(update, pid, "bob"))
    names = sorted(k.name for k in engine.state.governance.keys.values())
    assert names == ["alice", "dave", "runner"]
    assert refusal(engine, signed("pause-all", {}, "bob")) == "unknown-key"


def test_a_key_set_that_could_never_approve_is_refused() -> None:
    engine = engine_at_rest()
    keys = [{"name": "alice", "public_key": KEYS["alice"].public_key, "roles": ["owner"]}, RUNNER]
    update = signed("governance.update", {"keys": keys}, "alice")
    pid = engine.apply_at_rest(update)[0][1]["effect"]["proposal"]
    from agijobs.errors import BadInput

    with pytest.raises(BadInput, match="default needs 2 owner signatures but only 1"):
        engine.apply_at_rest(approval(update, pid, "bob"))


def test_schedule_entries_need_no_signature_the_plan_carries_them() -> None:
    scenario = keyed_scenario()
    data = scenario.model_dump(mode="json", by_alias=True)
    data["schedule"] = [{"tick": 2, "command": "pause-all", "reason": "planned"}]
    engine = engine_of(Scenario.model_validate(data))
    events = [kind for _ in range(2) for kind, _ in engine.run_tick()]
    assert "owner.pause-all" in events and "governance.refused" not in events


def test_open_mode_accepts_unsigned_commands_and_keeps_its_bytes() -> None:
    scenario = keyed_scenario()
    data = scenario.model_dump(mode="json", by_alias=True)
    data["fabric"]["owner"] = {"name": "Owner"}
    open_scenario = Scenario.model_validate(data)
    assert "keys" not in open_scenario.model_dump(mode="json")["fabric"]["owner"]
    engine = engine_of(open_scenario)
    engine.run_tick()
    events = engine.apply_at_rest(CommandInput("pause-all", {}, "why", "anyone", "at-rest"))
    assert [kind for kind, _ in events] == ["owner.pause-all"]
    assert "auth" not in events[0][1]["input"]
    assert "governance" not in engine.snapshot()


def test_the_runner_key_is_fixed_by_the_plan_and_signs_nothing_else() -> None:
    engine = engine_at_rest(approvals={"default": 2, "governance.update": 1})
    _, other = make_key("other-runner")
    keys = [
        {"name": n, "public_key": KEYS[n].public_key, "roles": ["owner"]}
        for n in ("alice", "bob", "carol")
    ]
    keys.append({"name": "runner", "public_key": other.public_key, "roles": ["runner"]})
    update = signed("governance.update", {"keys": keys}, "alice")
    pid = engine.apply_at_rest(update)[0][1]["effect"]["proposal"]
    from agijobs.errors import BadInput

    with pytest.raises(BadInput, match="the runner key is fixed by the run's plan"):
        engine.apply_at_rest(approval(update, pid, "bob"))
    assert refusal(engine, signed("pause-all", {}, "runner")) == "role"


def test_a_keyed_fabric_declares_exactly_one_runner_key() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one key must have role runner"):
        keyed_scenario(keys=[k for k in keyed_scenario_keys() if k["name"] != "runner"])
    both = [
        {**k, "roles": ["owner", "runner"]} if k["name"] == "runner" else k
        for k in keyed_scenario_keys()
    ]
    with pytest.raises(ValidationError, match="runner: a runner key has no other role"):
        keyed_scenario(keys=both)


def keyed_scenario_keys() -> list[dict[str, Any]]:
    return list(keyed_scenario().model_dump(mode="json")["fabric"]["owner"]["keys"])


def test_an_operator_may_cordon_alone_when_the_policy_says_so_but_not_uncordon() -> None:
    engine = engine_at_rest(
        approvals={"pause-all": 1, "node.cordon": 1, "default": 2},
        operator_may=["pause-all", "node.cordon"],
    )
    engine.apply_at_rest(signed("node.cordon", {"node": "earth.a"}, "oncall"))
    assert engine.state.nodes["earth.a"].cordoned
    assert [kind for kind, _ in engine.events] == ["governance.authorized", "owner.node.cordon"]
    uncordon = signed("node.uncordon", {"node": "earth.a"}, "oncall")
    assert refusal(engine, uncordon) == "role"
    # An owner's uncordon needs two owners (the default): a proposal first.
    engine.apply_at_rest(signed("node.uncordon", {"node": "earth.a"}, "alice"))
    assert [kind for kind, _ in engine.events] == ["owner.proposal"]
    assert engine.state.nodes["earth.a"].cordoned
