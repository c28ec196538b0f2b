"""The audit proves who changed the fabric: an edited, re-chained governance event fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from agijobs.audit.verify import audit
from agijobs.errors import IntegrityError, Refused
from agijobs.ledger.canonical import GENESIS_HASH, encode_event
from agijobs.ledger.checkpoint import decode_checkpoint, encode_checkpoint
from agijobs.run.delivery import issue_command
from agijobs.run.keys import HeadSigner, load_key, new_key
from agijobs.run.lifecycle import start_run
from agijobs.run.planning import make_plan
from agijobs.run.runner import RunOptions
from agijobs.scenario.loading import load_plan
from agijobs.store.files import FileStore

SCENARIO = """
name: keyed-audit
seed: 3
fabric:
  owner:
    name: Owner
    keys:
{keys}
    approvals: {{default: 2, pause-all: 1}}
    operator_may: [pause-all]
  shards:
    - {{id: earth, latency_budget_ms: 120, max_queue: 500}}
    - {{id: mars, latency_budget_ms: 420, max_queue: 500}}
  nodes:
    - {{id: earth.a, shard: earth, slots: 2, skills: [general], latency_ms: 80, heartbeat_ticks: 4}}
workload:
  - {{prefix: j, shard: earth, skills: [general], count: 60, duration: 2, value: 1,
      arrive: {{start: 1, per_tick: 1}}}}
run: {{max_ticks: 500, stop_after_ticks: 10}}
"""


@pytest.fixture
def keyed_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileStore:
    """A keyed run at rest at tick 10 where alice proposed and bob approved set-latency."""
    monkeypatch.setenv("AGIJOBS_KEY_DIR", str(tmp_path / "keys"))
    lines = []
    for name, role in (
        ("alice", "owner"),
        ("bob", "owner"),
        ("oncall", "operator"),
        ("runner", "runner"),
    ):
        key = new_key(name, None)
        lines.append(f'      - {{name: {name}, public_key: "{key.public_key}", roles: [{role}]}}')
    source = tmp_path / "keyed.yaml"
    source.write_text(SCENARIO.format(keys="\n".join(lines)))
    plan_path = tmp_path / "plan.json"
    make_plan(source, plan_path, sign=["alice", "bob"])
    store = FileStore(tmp_path / "storage")
    start_run(store, load_plan(plan_path), str(plan_path), RunOptions())
    args = {"shard": "mars", "ms": 300}
    proposed = issue_command(store, "set-latency", args, "tighten", None, 5.0, key="alice")
    assert proposed.event == "owner.proposal"
    pid = proposed.effect["proposal"]
    applied = issue_command(store, "approve", {"proposal": pid}, "ok", None, 5.0, key="bob")
    assert [r["event"] for r in applied.results] == ["owner.approval", "owner.set-latency"]
    with pytest.raises(Refused):
        issue_command(store, "reroute", {"from": "earth", "to": "mars"}, "x", None, 5.0, "oncall")
    return store


def rewrite(
    store: FileStore, edit: Callable[[str, dict[str, Any]], bool], *, stolen: bool = False
) -> int:
    """Apply `edit` to event data (it returns whether it changed the event), re-chain the log
    and re-seal the checkpoint, as a forger with write access would; with `stolen`, one who
    also holds the runner's key and signs the new head with it. Returns the seq edited."""
    root = Path(store.location)
    events = [orjson.loads(line) for line in (root / "events.ndjson").read_bytes().splitlines()]
    edited, head, lines = 0, GENESIS_HASH, []
    for event in events:
        if not edited and edit(event["type"], event["data"]):
            edited = event["seq"]
        line, head = encode_event(head, event["seq"], event["tick"], event["type"], event["data"])
        lines.append(line)
    assert edited, "the edit matched no event"
    (root / "events.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    checkpoint = decode_checkpoint((root / "checkpoint.json").read_bytes())
    sign = None
    if stolen:
        name = orjson.loads((root / "run-plan.json").read_bytes())["scenario"]["name"]
        run_id = orjson.loads((root / "run.json").read_bytes())["run_id"]
        signer = HeadSigner(name, run_id, ("runner", load_key("runner")))
        sign = signer.signer(checkpoint["seq"], head)
    (root / "checkpoint.json").write_bytes(
        encode_checkpoint(
            inputs_id=checkpoint["inputs_id"],
            seq=checkpoint["seq"],
            head=head,
            state=checkpoint["state"],
            sign=sign,
        )
    )
    return edited


UNSIGNED = "checkpoint.json: not signed, but this fabric's runner signs every checkpoint"


@pytest.mark.parametrize("stolen", [False, True], ids=["forger", "forger-with-runner-key"])
def test_an_edited_log_is_caught_by_the_signed_head_or_the_command_signatures(
    keyed_storage: FileStore, stolen: bool
) -> None:
    def edit(kind: str, data: dict[str, Any]) -> bool:
        if kind != "owner.set-latency":
            return False
        data["input"]["args"]["ms"] = 250
        return True

    seq = rewrite(keyed_storage, edit, stolen=stolen)
    with pytest.raises(IntegrityError) as caught:
        audit(keyed_storage)
    if stolen:  # the head verifies, the owners' signatures still do not
        assert caught.value.message == (
            f"events.ndjson: line {seq} (seq {seq}): governance event owner.set-latency "
            "differs from the command its owners signed"
        )
    else:
        assert UNSIGNED in caught.value.message


def test_the_untouched_storage_audits_and_names_every_signer(keyed_storage: FileStore) -> None:
    report = audit(keyed_storage)
    assert report.authority["plan_signed_by"] == ["alice", "bob"]
    rows = [(g["command"], g["outcome"], g.get("signed_by")) for g in report.governance]
    assert rows == [
        ("set-latency", "proposed", ["alice"]),
        ("approve", "approved", ["bob"]),
        ("set-latency", "applied", ["alice", "bob"]),
        ("reroute", "refused", None),
    ]
    assert report.governance[-1]["refusal"] == "role"
    assert report.replay is not None and report.replay["matches"]


def test_an_edited_authorisation_no_longer_verifies(keyed_storage: FileStore) -> None:
    def edit(kind: str, data: dict[str, Any]) -> bool:
        if kind != "owner.proposal":
            return False
        data["input"]["reason"] = "routine"
        return True

    seq = rewrite(keyed_storage, edit, stolen=True)  # past the signed head, owners' keys hold
    with pytest.raises(IntegrityError, match=rf"seq {seq}\): .*signature by key alice does not"):
        audit(keyed_storage)


def test_an_under_approved_command_is_an_integrity_failure(keyed_storage: FileStore) -> None:
    def edit(kind: str, data: dict[str, Any]) -> bool:
        if kind != "governance.authorized":
            return False
        data["input"]["auth"]["signatures"] = data["input"]["auth"]["signatures"][:1]
        data["signed_by"] = ["alice"]
        return True

    seq = rewrite(keyed_storage, edit, stolen=True)
    with pytest.raises(IntegrityError, match=rf"seq {seq}\): .*1 owner approval\(s\); 2 are"):
        audit(keyed_storage)


def test_a_stripped_plan_signature_is_an_integrity_failure(keyed_storage: FileStore) -> None:
    plan_file = Path(keyed_storage.location) / "run-plan.json"
    plan = orjson.loads(plan_file.read_bytes())
    plan["signatures"] = plan["signatures"][:1]
    plan_file.write_bytes(orjson.dumps(plan, option=orjson.OPT_SORT_KEYS) + b"\n")
    with pytest.raises(IntegrityError, match="carries 1 valid owner signature"):
        audit(keyed_storage)


def test_private_keys_never_reach_the_storage(keyed_storage: FileStore, tmp_path: Path) -> None:
    secrets = [path.read_bytes() for path in (tmp_path / "keys").iterdir()]
    assert secrets and all(
        (path.stat().st_mode & 0o777) == 0o600 for path in (tmp_path / "keys").iterdir()
    )
    for path in Path(keyed_storage.location).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data
            assert not any(secret.strip() in data for secret in secrets)


def test_a_key_rotation_is_followed_by_the_audit(keyed_storage: FileStore) -> None:
    plan = load_plan(Path(keyed_storage.location) / "run-plan.json")
    keys = [k.model_dump() for k in plan.scenario.fabric.owner.keys]
    dave = new_key("dave", None)
    keys.append({"name": "dave", "public_key": dave.public_key, "roles": ["owner"]})
    proposed = issue_command(
        keyed_storage, "governance.update", {"keys": keys}, "add dave", None, 5.0, key="alice"
    )
    pid = proposed.effect["proposal"]
    issue_command(keyed_storage, "approve", {"proposal": pid}, "ok", None, 5.0, key="bob")
    paused = issue_command(keyed_storage, "pause-all", {}, "dave's first act", None, 5.0, "dave")
    assert paused.event == "owner.pause-all"
    report = audit(keyed_storage)
    assert report.authority["keys_in_force"]["keys"][-1]["name"] == "dave"
    assert report.governance[-1]["signed_by"] == ["dave"]
    assert report.replay is not None and report.replay["matches"]
