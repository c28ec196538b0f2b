"""`resume` proves the checkpoint's state is what the log implies before it acts on it.

The forgeries the issue found accepted by `resume` (a re-sealed checkpoint whose state was
edited) are each refused with exit 3 naming the field, and nothing in the storage changes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ..audit.forgery import forge_state, full_state, reseal
from ..helpers import cli, file_hashes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("verified-resume") / "storage"
    result = cli(
        "run", str(ROOT / "scenarios" / "planetary.yaml"), "--storage", str(storage),
        "--stop-after-ticks", "130",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return storage


FORGERIES = {
    "node slots": (("nodes", 0, "slots"), "state -> nodes -> 0 (earth.core-alpha) -> slots"),
    "the pause flag": (("paused",), "state -> paused is false, but the log gives true"),
    # What `status` says of the pause in force is held to the log like the rest.
    "who paused": (("pause", "actor"), "state -> pause -> actor is"),
    "checkpoint_every": (("checkpoint_every",), "state -> checkpoint_every is 21"),
    "node latency": (("nodes", 2, "latency_ms"), "-> latency_ms is"),
    "node up": (("nodes", 1, "up"), "-> up is"),
    "a shard's budget": (("shards", 1, "budget_ms"), "state -> shards -> 1 (helios) -> budget_ms"),
    "owner_actions": (("owner_actions",), "state -> owner_actions is"),
    # The journal, held against the checkpoint before anything else, sees this one first.
    "journal_applied": (
        ("journal_applied",),
        "inbox/journal.ndjson: holds 0 entries, but the checkpoint has applied 1",
    ),
    "next_ordinal": (("next_ordinal",), "state -> next_ordinal is"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_resume_refuses_a_resealed_state_the_log_does_not_imply(
    stopped: Path, tmp_path: Path, name: str
) -> None:
    path, message = FORGERIES[name]
    storage = tmp_path / "storage"
    shutil.copytree(stopped, storage)
    forge_state(storage, path)
    before = file_hashes(storage)
    resumed = cli("runner", "start", "--storage", str(storage), "--stop-after-ticks", "1")
    assert resumed.exit_code == 3, resumed.output
    assert resumed.stderr.startswith(f"Error: {storage}/"), resumed.stderr
    assert message in resumed.stderr, resumed.stderr
    assert file_hashes(storage) == before


def test_resume_refuses_a_checkpoint_a_tick_ahead_of_its_log(stopped: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(stopped, storage)
    state = full_state(storage)
    forge_state(storage, ("tick",))
    reseal(storage, tick=state["tick"] + 1)
    before = file_hashes(storage)
    resumed = cli("runner", "start", "--storage", str(storage), "--stop-after-ticks", "1")
    assert resumed.exit_code == 3, resumed.output
    assert resumed.stderr.startswith(
        f"Error: {storage}/events.ndjson: the checkpoint is at seq "
    ), resumed.stderr
    assert "but the plan and the recorded owner commands give" in resumed.stderr
    assert f" events up to its tick {state['tick'] + 1} " in resumed.stderr
    assert file_hashes(storage) == before


def test_an_untouched_run_resumes_as_before(stopped: Path, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    shutil.copytree(stopped, storage)
    resumed = cli("runner", "start", "--storage", str(storage), "--stop-after-ticks", "1")
    assert resumed.exit_code == 0, resumed.output
