"""Owner keys: Ed25519 key files, signed plans, signed commands, M-of-N approvals."""

from __future__ import annotations

import base64
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from ..helpers import agijobs, cli
from .keyed import REROUTE, events, keyed_scenario, sign_plan

LINE = re.compile(
    r'- \{name: (\w+), public_key: "ed25519:[A-Za-z0-9+/]{43}=", roles: \[(\w+)\]\}\n'
)


def audit_replays(storage: Path) -> None:
    audited = cli("audit", "--storage", str(storage))
    assert audited.exit_code == 0, audited.output
    assert "proved: events 1-" in audited.stdout
    quick = cli("audit", "--quick", "--storage", str(storage))
    assert quick.exit_code == 0, quick.output


def proposals(storage: Path) -> list[dict]:
    checkpoint = orjson.loads((storage / "checkpoint.json").read_bytes())
    return checkpoint["state"]["governance"]["proposals"]


def fabric_state(storage: Path) -> dict[str, Any]:
    result = cli("status", "--storage", str(storage), "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    shards = {s["id"]: (s["budget_ms"], s["paused"], s["queued"]) for s in report["shards"]}
    pending = {"pending": [(p["id"], p["signers"]) for p in proposals(storage)]}
    return {"tick": report["tick"], "paused": report["paused"], "shards": shards, **pending}


def budget(storage: Path, shard: str) -> int:
    return fabric_state(storage)["shards"][shard][0]


def propose(storage: Path) -> str:
    """alice proposes mars's budget 420 -> 300 ms; returns the proposal id."""
    result = cli(
        "set-latency", "--shard", "mars", "--ms", "300", "--reason", "tighten",
        "--key", "alice", "--storage", str(storage), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    assert document["event"] == "owner.proposal"
    return document["effect"]["proposal"]


def secret_forms(path: Path) -> list[bytes]:
    """A private key as it could leak: the PEM body, and its raw seed as bytes, hex, base64."""
    pem = path.read_bytes()
    seed = serialization.load_pem_private_key(pem, None).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert len(seed) == 32
    return [b"".join(pem.splitlines()[1:-1]), seed, seed.hex().encode(), base64.b64encode(seed)]


# ------------------------------------------------------------------ keys new / show


def test_keys_new_writes_a_private_file_and_never_overwrites(key_dir: Path, tmp_path: Path) -> None:
    created = cli("keys", "new", "alice")
    assert created.exit_code == 0, created.output
    assert LINE.fullmatch(created.stdout), created.stdout
    assert created.stderr.startswith(f"# {key_dir / 'alice.key'} (SHA256:")
    [entry] = yaml.safe_load(created.stdout)
    assert entry["name"] == "alice" and entry["roles"] == ["owner"]
    assert entry["public_key"].startswith("ed25519:")
    path = key_dir / "alice.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert b"PRIVATE" not in created.stdout_bytes + created.stderr_bytes

    shown = cli("keys", "show", "alice")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == created.stdout

    again = cli("keys", "new", "alice")
    assert again.exit_code == 4, again.output
    assert again.stderr.startswith(f"Error: {path}: a key already exists there")
    assert path.read_bytes() == pem

    operator = cli("keys", "new", "oncall", "--role", "operator")
    assert operator.exit_code == 0, operator.output
    match = LINE.fullmatch(operator.stdout)
    assert match and match.group(2) == "operator", operator.stdout

    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "events.ndjson").write_bytes(b"")
    inside = cli("keys", "new", "x", "--out", str(storage / "x.key"))
    assert inside.exit_code == 2, inside.output
    assert f"is inside the storage directory {storage}" in inside.stderr
    assert not (storage / "x.key").exists()


def test_a_key_file_readable_by_others_is_refused(keys: dict[str, dict], key_dir: Path) -> None:
    (key_dir / "bob.key").chmod(0o644)
    result = cli("keys", "show", "bob")
    assert result.exit_code == 2, result.output
    assert "is readable by others (mode 0644)" in result.stderr


# ------------------------------------------------------------------ signed plans


def test_a_keyed_fabric_runs_only_from_a_plan_signed_by_the_default_threshold(
    scenario: Path, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    unsigned = tmp_path / "unsigned.json"
    planned = cli("plan", str(scenario), "--out", str(unsigned))
    assert planned.exit_code == 0, planned.output
    for source in (scenario, unsigned):
        refused = cli("run", str(source), "--storage", str(storage))
        assert refused.exit_code == 5, refused.output
        assert "runs only from a plan signed by 2 owner(s)" in refused.stderr
        assert not storage.exists()

    half = sign_plan(scenario, tmp_path / "half.json", "alice")
    refused = cli("run", str(half), "--storage", str(storage))
    assert refused.exit_code == 5, refused.output
    assert "the plan carries 1 valid owner signature(s) (alice)" in refused.stderr
    assert not storage.exists()

    signed_once = half.read_bytes()
    operator = cli("plan", str(half), "--out", str(half), "--sign", "oncall")
    assert operator.exit_code == 5, operator.output
    assert "key oncall has role operator; plans are signed by owners" in operator.stderr
    assert half.read_bytes() == signed_once

    full = sign_plan(half, half, "bob")
    signers = [s["key"] for s in orjson.loads(full.read_bytes())["signatures"]]
    assert signers == ["alice", "bob"]
    ran = cli("run", str(full), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    assert fabric_state(storage)["paused"] is True


# ------------------------------------------------------------------ refusals at rest


# fmt: off
REFUSALS = [  # (reason code, command, the start of its error message)
    ("unsigned", "set-latency --shard mars --ms 300 --reason r",
     "set-latency is not signed, and this fabric accepts only signed commands"),
    ("unknown-key", "set-latency --shard mars --ms 300 --reason r --key mallory",
     "set-latency is signed by a key this fabric does not know (mallory, SHA256:"),
    ("role", " ".join(REROUTE) + " --key oncall",
     "key oncall has role operator, which may not issue reroute"),
    ("actor-mismatch", "pause-all --reason r --key alice --actor bob",
     "pause-all claims actor 'bob' but is signed by key alice"),
    ("duplicate-approval", "approve {pid} --key alice",
     "key alice has already approved proposal {pid}"),
    ("role", "approve {pid} --key oncall",
     "key oncall has role operator, which may not issue set-latency"),
    ("unknown-proposal", "approve p-000000000000 --key bob",
     "no pending proposal p-000000000000: it was applied, expired, or never made"),
]
# fmt: on


@pytest.mark.parametrize(
    ("code", "command", "message"), REFUSALS, ids=[f"{c}-{m.split()[0]}" for c, m, _ in REFUSALS]
)
def test_a_refusal_at_rest_is_recorded_and_changes_nothing(
    at_rest: Path, code: str, command: str, message: str
) -> None:
    made = cli("keys", "new", "mallory")
    assert made.exit_code == 0, made.output  # a key the fabric does not list
    pid = propose(at_rest) if "{pid}" in command else ""
    before, count = fabric_state(at_rest), len(events(at_rest))
    result = cli(*command.format(pid=pid).split(), "--storage", str(at_rest))
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith("Error: " + message.format(pid=pid)), result.stderr
    log = events(at_rest)
    assert len(log) == count + 1
    assert log[-1]["type"] == "governance.refused"
    assert log[-1]["data"]["reason"] == code
    assert fabric_state(at_rest) == before
    audit_replays(at_rest)


# ------------------------------------------------------------------ approvals


def test_two_of_three_owners_apply_a_proposal_at_rest(at_rest: Path) -> None:
    proposed = cli(
        "set-latency", "--shard", "mars", "--ms", "300", "--reason", "tighten",
        "--key", "alice", "--storage", str(at_rest),
    )  # fmt: skip
    assert proposed.exit_code == 0, proposed.output
    first, hint = proposed.stdout.splitlines()
    match = re.fullmatch(
        r"set-latency: proposal (p-[0-9a-f]{12}) recorded, 1 of 2 approvals "
        r"\(tick 5, fabric at rest; expires at tick 55\)",
        first,
    )
    assert match, first
    pid = match.group(1)
    assert hint == f"approve with: agijobs approve {pid} --key NAME"
    assert budget(at_rest, "mars") == 420
    [pending] = proposals(at_rest)
    assert (pending["id"], pending["command"]["command"]) == (pid, "set-latency")
    assert (pending["needed"], pending["expires_tick"], pending["signers"]) == (2, 55, ["alice"])
    assert events(at_rest)[-1]["type"] == "owner.proposal"

    approved = cli("approve", pid, "--key", "bob", "--storage", str(at_rest))
    assert approved.exit_code == 0, approved.output
    assert approved.stdout == (
        f"approval of {pid} (set-latency): 2 of 2 approvals — threshold met, applying "
        "(tick 5, fabric at rest)\n"
        "set-latency: budget 420 ms → 300 ms (tick 5, fabric at rest)\n"
    )
    assert budget(at_rest, "mars") == 300
    assert proposals(at_rest) == []
    approval, authorized, applied = events(at_rest)[-3:]
    assert [approval["type"], authorized["type"], applied["type"]] == [
        "owner.approval",
        "governance.authorized",
        "owner.set-latency",
    ]
    data = authorized["data"]
    assert (data["signed_by"], data["approvals"], data["needed"]) == (["alice", "bob"], 2, 2)
    assert (data["proposal"], data["break_glass"]) == (pid, False)
    assert [s["key"] for s in data["input"]["auth"]["signatures"]] == ["alice", "bob"]
    assert applied["data"]["effect"]["budget_ms"] == [420, 300]

    late = cli("approve", pid, "--key", "carol", "--storage", str(at_rest))
    assert late.exit_code == 5, late.output
    assert f"no pending proposal {pid}" in late.stderr
    assert budget(at_rest, "mars") == 300
    audit_replays(at_rest)


# ------------------------------------------------------------------ break-glass


def test_an_operator_may_pause_all_alone(keys: dict[str, dict], tmp_path: Path) -> None:
    source = keyed_scenario(
        tmp_path / "bg.yaml", keys, run={"max_ticks": 1000, "stop_after_ticks": 10}
    )
    plan = sign_plan(source, tmp_path / "bg.json", "alice", "bob")
    storage = tmp_path / "storage"
    ran = cli("run", str(plan), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    assert fabric_state(storage)["paused"] is False
    paused = cli("pause-all", "--reason", "x", "--key", "oncall", "--storage", str(storage))
    assert paused.exit_code == 0, paused.output
    assert paused.stdout == "pause-all: fabric paused (tick 10, fabric at rest)\n"
    state = fabric_state(storage)
    assert state["paused"] is True and state["tick"] == 10
    authorized, applied = events(storage)[-2:]
    assert (authorized["type"], applied["type"]) == ("governance.authorized", "owner.pause-all")
    data = authorized["data"]
    assert (data["signed_by"], data["approvals"], data["needed"]) == (["oncall"], 0, 1)
    assert data["break_glass"] is True
    assert applied["data"]["input"]["actor"] == "oncall"
    assert applied["data"]["input"]["auth"]["signed_by"] == ["oncall"]
    audit_replays(storage)


def test_key_files_never_reach_storage_after_an_approval_flow(
    at_rest: Path, key_dir: Path, signed_plan: Path
) -> None:
    pid = propose(at_rest)
    for args, code in (
        (["approve", pid, "--key", "alice"], 5),
        (["approve", pid, "--key", "bob"], 0),
        ([*REROUTE, "--key", "oncall"], 5),
        (["pause-all", "--reason", "x", "--key", "oncall"], 0),
    ):
        result = cli(*args, "--storage", str(at_rest))
        assert result.exit_code == code, (args, result.output)
    secrets = [form for p in sorted(key_dir.glob("*.key")) for form in secret_forms(p)]
    assert len(secrets) == 5 * 4  # four owner and operator keys, and the runner's
    log = (at_rest / "events.ndjson").read_bytes()
    assert not any(secret in log for secret in secrets)
    for path in [signed_plan, *(p for p in at_rest.rglob("*") if p.is_file())]:
        content = path.read_bytes()
        assert b"PRIVATE KEY" not in content, path
        assert not any(secret in content for secret in secrets), path
    assert not any(p.suffix in (".key", ".pem") for p in at_rest.rglob("*"))


# ------------------------------------------------------------------ open mode


def test_open_mode_accepts_a_key_with_a_notice(stopped: Path, key_dir: Path) -> None:
    result = cli("pause-all", "--reason", "r", "--key", "alice", "--storage", str(stopped))
    assert result.exit_code == 0, result.output
    assert result.stderr == "Notice: the fabric declares no keys (open mode): alice unused\n"
    assert result.stdout == "pause-all: fabric paused (tick 2, fabric at rest)\n"
    assert not key_dir.exists()  # nothing was read or created
    nothing = cli("approve", "p-000000000000", "--key", "alice", "--storage", str(stopped))
    assert nothing.exit_code == 2, nothing.output
    assert "this fabric declares no keys (open mode)" in nothing.stderr


# ------------------------------------------------------------------ live


def test_a_live_run_takes_a_proposal_and_its_approval(signed_plan: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    command = [sys.executable, "-m", "agijobs", "run", str(signed_plan), "--wait"]
    runner = subprocess.Popen(
        [*command, "--storage", str(storage)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (storage / "live.json").exists():
            assert time.monotonic() < deadline, "the runner never went live"
            time.sleep(0.02)
        proposed = agijobs("set-latency", "--shard", "mars", "--ms", "300", "--reason", "t",
                           "--key", "alice", "--storage", str(storage), "--json")  # fmt: skip
        assert proposed.returncode == 0, proposed.stderr
        document = orjson.loads(proposed.stdout)
        assert (document["mode"], document["event"]) == ("live", "owner.proposal")
        pid = document["effect"]["proposal"]
        assert document["effect"]["signed_by"] == ["alice"]

        twice = agijobs("approve", pid, "--key", "alice", "--storage", str(storage))
        assert twice.returncode == 5, twice.stderr
        assert twice.stderr.startswith("Error: the live run refused approve: key alice has")

        approved = agijobs("approve", pid, "--key", "bob", "--storage", str(storage))
        assert approved.returncode == 0, approved.stderr
        assert "2 of 2 approvals — threshold met, applying" in approved.stdout
        assert "set-latency: budget 420 ms → 300 ms (tick " in approved.stdout
        assert approved.stdout.count("live run)") == 2
        assert runner.poll() is None
    finally:
        runner.send_signal(signal.SIGTERM)
        runner.wait(timeout=30)
    assert budget(storage, "mars") == 300
    types = [e["type"] for e in events(storage)]
    at = types.index("owner.set-latency")
    assert types[at - 2 : at] == ["owner.approval", "governance.authorized"]
    applied = events(storage)[at]["data"]["input"]
    assert (applied["source"], applied["auth"]["signed_by"]) == ("live", ["alice", "bob"])
    audit_replays(storage)
