"""The checkpoint's job table: split from the state and attached back unchanged, written
before the checkpoint that names it, kept by job-less commands, never left dangling."""

from __future__ import annotations

from pathlib import Path

import pytest

from agijobs.errors import IntegrityError
from agijobs.ledger import jobtable
from agijobs.ledger.checkpoint import decode_checkpoint
from agijobs.run.loading import load_run
from agijobs.store.files import FileStore

from ..helpers import agijobs

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _stopped(tmp_path: Path, ticks: int, scenario: str = "planetary") -> Path:
    storage = tmp_path / "storage"
    result = agijobs(
        "run",
        str(SCENARIOS / f"{scenario}.yaml"),
        "--storage",
        str(storage),
        "--stop-after-ticks",
        str(ticks),
    )
    assert result.returncode == 0, result.stderr
    return storage


def _named(storage: Path) -> str:
    return jobtable.digest(decode_checkpoint((storage / "checkpoint.json").read_bytes())["state"])


@pytest.mark.parametrize("ticks", [1, 60, 200])
def test_split_and_attach_are_inverse_and_the_table_is_what_the_checkpoint_names(
    tmp_path: Path, ticks: int
) -> None:
    storage = _stopped(tmp_path, ticks)
    loaded = load_run(FileStore(storage))
    assert loaded.checkpoint is not None
    full = loaded.full_state()
    assert jobtable.TABLE_KEY not in full
    header, table = jobtable.split(full)
    assert header == loaded.checkpoint["state"]
    assert table == (storage / "jobs" / f"{_named(storage)}.json").read_bytes()
    assert table is not None
    assert jobtable.attach(header, table, "t") == full
    assert [p.name for p in (storage / "jobs").iterdir()] == [f"{_named(storage)}.json"]


def test_a_jobless_command_at_rest_keeps_the_stored_table_and_a_tick_replaces_it(
    tmp_path: Path,
) -> None:
    storage = _stopped(tmp_path, 60)
    named = _named(storage)
    table = storage / "jobs" / f"{named}.json"
    before = (table.stat().st_ino, table.read_bytes())
    checkpoint = (storage / "checkpoint.json").read_bytes()
    result = agijobs("pause-all", "--reason", "drill", "--storage", str(storage))
    assert result.returncode == 0, result.stderr
    assert (storage / "checkpoint.json").read_bytes() != checkpoint
    assert _named(storage) == named  # the new checkpoint names the very same table...
    assert (table.stat().st_ino, table.read_bytes()) == before  # ...which was not rewritten
    result = agijobs("runner", "start", "--storage", str(storage), "--stop-after-ticks", "1")
    assert result.returncode == 0, result.stderr
    result = agijobs("runner", "start", "--storage", str(storage), "--stop-after-ticks", "1")
    assert result.returncode == 0, result.stderr
    assert _named(storage) != named
    assert [p.name for p in (storage / "jobs").iterdir()] == [f"{_named(storage)}.json"]
    audit = agijobs("audit", "--storage", str(storage))
    assert audit.returncode == 0, audit.stderr


def test_a_table_left_by_a_crash_before_its_checkpoint_goes_with_the_next_checkpoint(
    tmp_path: Path,
) -> None:
    storage = _stopped(tmp_path, 40)
    orphan = storage / "jobs" / f"{'0' * 64}.json"
    orphan.write_bytes(b'{"format":1,"nodes":[],"shards":[]}')  # no checkpoint names it
    status = agijobs("status", "--storage", str(storage))
    assert status.returncode == 0, status.stderr
    result = agijobs("runner", "start", "--storage", str(storage), "--stop-after-ticks", "20")
    assert result.returncode == 0, result.stderr
    assert not orphan.exists()
    assert [p.name for p in (storage / "jobs").iterdir()] == [f"{_named(storage)}.json"]


class _RunnerCheckpointsMeanwhile(FileStore):
    """A store whose first job-table read comes just after a live runner replaced the
    checkpoint and deleted the table the old one named."""

    def __init__(self, root: Path, newer: tuple[bytes, str, bytes]) -> None:
        super().__init__(root)
        self.newer: tuple[bytes, str, bytes] | None = newer

    def read_job_table(self, digest: str) -> bytes | None:
        if self.newer is not None:
            self.write_checkpoint(*self.newer)
            self.newer = None
        return super().read_job_table(digest)


def test_a_checkpoint_replaced_while_it_is_read_is_read_again(tmp_path: Path) -> None:
    later = _stopped(tmp_path / "later", 80)
    newer = (
        (later / "checkpoint.json").read_bytes(),
        _named(later),
        (later / "jobs" / f"{_named(later)}.json").read_bytes(),
    )
    storage = _stopped(tmp_path / "now", 60)
    (storage / "events.ndjson").write_bytes((later / "events.ndjson").read_bytes())
    loaded = load_run(_RunnerCheckpointsMeanwhile(storage, newer))
    assert loaded.checkpoint is not None and loaded.checkpoint["tick"] == 80
    assert loaded.job_table == newer[2]


def test_a_table_of_another_shape_is_refused_naming_where(tmp_path: Path) -> None:
    storage = _stopped(tmp_path, 60)
    header = decode_checkpoint((storage / "checkpoint.json").read_bytes())["state"]
    shards = ",".join(f'["{s["id"]}",[[["x"],5]],[]]' for s in header["shards"])
    nodes = ",".join(f'["{n["id"]}",[]]' for n in header["nodes"])
    bad = b'{"format":1,"nodes":[%s],"shards":[%s]}' % (nodes.encode(), shards.encode())
    with pytest.raises(IntegrityError, match=r"t: shards -> earth -> queue -> class 0: not"):
        jobtable.attach(header, bad, "t")
    with pytest.raises(IntegrityError, match="t: not a job table of format 1"):
        jobtable.attach(header, b'{"format":2}', "t")
    with pytest.raises(IntegrityError, match="t: not the checkpoint's shards and nodes"):
        jobtable.attach(header, b'{"format":1,"nodes":[],"shards":[]}', "t")
