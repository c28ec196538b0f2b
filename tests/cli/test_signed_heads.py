"""Signed heads: on a fabric that declares keys, every checkpoint carries its runner's
signature over (fabric, run id, seq, head, integrity digest), and `audit`, `status` and
`resume` refuse one that is unsigned or badly signed with exit 3.

A forger without the runner's key (kept outside the storage) cannot make one, so deleting a
refusal, or changing who was refused, is caught even though both are inputs the derivation
takes as recorded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from ..audit.forgery import rechain, reseal
from ..helpers import cli, file_hashes
from .keyed import REROUTE, events, keyed_scenario

SIGNED = "checkpoint.json: not signed, but this fabric's runner signs every checkpoint"
BAD = "checkpoint.json: its signature is not runner key `runner`'s over this fabric, run"


@pytest.fixture
def refused(at_rest: Path) -> Path:
    """The keyed run at rest, with an operator's reroute refused (and recorded)."""
    result = cli(*REROUTE, "--key", "oncall", "--storage", str(at_rest))
    assert result.exit_code == 5, result.output
    assert events(at_rest)[-1]["type"] == "governance.refused"
    return at_rest


def refuses_everywhere(storage: Path, message: str) -> None:
    """audit, status and runner start each exit 3 with `message`, changing nothing."""
    before = file_hashes(storage)
    for args in (["audit"], ["audit", "--quick"], ["status"], ["runner", "start"]):
        result = cli(*args, "--storage", str(storage))
        assert result.exit_code == 3, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    assert file_hashes(storage) == before


def test_every_checkpoint_of_a_keyed_run_is_signed(refused: Path) -> None:
    checkpoint = orjson.loads((refused / "checkpoint.json").read_bytes())
    run_id = orjson.loads((refused / "run.json").read_bytes())["run_id"]
    lines = checkpoint["note"].splitlines()
    assert lines[:6] == [
        "agijobs checkpoint v1",
        "unit",
        run_id,
        str(checkpoint["seq"]),
        checkpoint["head"],
        checkpoint["integrity"],
    ]
    assert lines[6] == "" and lines[7].startswith("\u2014 runner ")
    assert cli("audit", "--storage", str(refused)).exit_code == 0


def test_a_deleted_refusal_is_caught_by_the_signed_head(refused: Path) -> None:
    lines = (refused / "events.ndjson").read_bytes().splitlines(keepends=True)
    del lines[-1]  # the governance.refused event: an input the derivation takes as recorded
    raw = orjson.loads((refused / "checkpoint.json").read_bytes())
    reseal(refused, seq=raw["seq"] - 1)
    rechain(refused, lines, len(lines) + 1)  # nothing to re-hash: the shorter log's digest
    refuses_everywhere(refused, BAD)


def test_a_refusal_with_another_actor_is_caught_by_the_signed_head(refused: Path) -> None:
    lines = (refused / "events.ndjson").read_bytes().splitlines(keepends=True)
    event = orjson.loads(lines[-1])
    event["data"]["input"]["actor"] = "alice"
    lines[-1] = orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"
    rechain(refused, lines, len(lines))
    refuses_everywhere(refused, BAD)


def test_an_unsigned_checkpoint_is_refused(refused: Path) -> None:
    raw = orjson.loads((refused / "checkpoint.json").read_bytes())
    del raw["integrity"], raw["note"]
    from agijobs.ledger.canonical import dumps, sha256_hex

    (refused / "checkpoint.json").write_bytes(
        dumps({**raw, "integrity": sha256_hex(dumps(raw))}) + b"\n"
    )
    refuses_everywhere(refused, SIGNED)


def test_a_signature_moved_to_another_run_is_refused(refused: Path) -> None:
    info = orjson.loads((refused / "run.json").read_bytes())
    info["run_id"] = info["run_id"].replace("-", "_", 1)
    (refused / "run.json").write_bytes(orjson.dumps(info))
    refuses_everywhere(refused, BAD)


def test_a_keyed_run_needs_its_runner_key_before_anything_is_written(
    signed_plan: Path, key_dir: Path, tmp_path: Path
) -> None:
    shutil.move(key_dir / "runner.key", tmp_path / "elsewhere.key")
    storage = tmp_path / "storage"
    result = cli("run", str(signed_plan), "--storage", str(storage))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        "Error: this fabric's runner signs its checkpoints with key `runner`: --runner-key "
        f"runner: no key file at {key_dir}/runner.key"
    ), result.stderr
    assert not storage.exists()
    wrong = cli("run", str(signed_plan), "--storage", str(storage), "--runner-key", "alice")
    assert wrong.exit_code == 2, wrong.output
    assert "is not the runner key `runner` this fabric's plan declares" in wrong.stderr
    assert not storage.exists()
    moved = cli(
        "run", str(signed_plan), "--storage", str(storage),
        "--runner-key", str(tmp_path / "elsewhere.key"),
    )  # fmt: skip
    assert moved.exit_code == 0, moved.output
    assert cli("audit", "--storage", str(storage)).exit_code == 0


def test_a_plan_without_a_runner_key_is_refused(keys: dict[str, dict], tmp_path: Path) -> None:
    without = {name: entry for name, entry in keys.items() if name != "runner"}
    source = keyed_scenario(tmp_path / "fabric.yaml", without)
    result = cli("plan", str(source))
    assert result.exit_code == 2, result.output
    assert "exactly one key must have role runner" in result.stderr
