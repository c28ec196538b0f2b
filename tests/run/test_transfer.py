"""export/import edge cases that need no database: bad targets, a copy that fails halfway,
and the options that a database --storage changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agijobs.run.transfer import copy_run
from agijobs.store.files import FileStore

from ..helpers import cli, file_hashes

SCENARIO = Path(__file__).parents[2] / "scenarios" / "crash-resume.yaml"


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("finished") / "storage"
    ran = cli("run", str(SCENARIO), "--storage", str(storage))
    assert ran.exit_code == 0, ran.output
    return storage


class _DiskFullAtCheckpoint(FileStore):
    def write_checkpoint(self, data: bytes, jobs: str, table: bytes | None) -> None:
        if table is not None:  # the job table lands, the checkpoint does not
            (self.root / "jobs").mkdir(exist_ok=True)
            (self.root / "jobs" / f"{jobs}.json").write_bytes(table)
        raise OSError(28, "No space left on device")


def test_a_copy_that_fails_halfway_leaves_no_run_and_spares_other_files(
    finished: Path, tmp_path: Path
) -> None:
    target = tmp_path / "copy"
    target.mkdir()
    (target / "notes.txt").write_text("the operator's own file\n")
    before = file_hashes(finished)
    with pytest.raises(OSError, match="No space left"):
        copy_run(FileStore(finished), _DiskFullAtCheckpoint(target))
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt", "run.lock"]
    assert file_hashes(finished) == before


def test_export_into_a_run_or_a_file_is_refused_and_changes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    result = cli("export", "--storage", str(finished), str(finished))
    assert result.exit_code == 4, result.output
    assert result.stderr == (
        f"Error: {finished} already holds a run — copy into an empty directory or a new "
        "fabric name\n"
    )
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = cli("export", "--storage", str(finished), str(a_file))
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: --storage: {a_file} is a file — pass a directory\n"


def test_export_of_a_run_whose_journal_does_not_verify_writes_nothing(
    finished: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(finished, source)
    (source / "inbox").mkdir(exist_ok=True)
    (source / "inbox" / "journal.ndjson").write_bytes(b"not json\n")
    before = file_hashes(source)
    result = cli("export", "--storage", str(source), str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert result.stderr == (
        f"Error: {source}/inbox/journal.ndjson line 1: not JSON (invalid literal, expected "
        "'null', column 1) — the journal of live commands was altered or damaged; restore it "
        "from a backup\n"
    )
    assert not (tmp_path / "out").exists()
    assert file_hashes(source) == before


def test_export_of_an_empty_storage_is_a_conflict(tmp_path: Path) -> None:
    result = cli("export", "--storage", str(tmp_path / "none"), str(tmp_path / "out"))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith(f"Error: storage {tmp_path / 'none'} does not exist")
    assert not (tmp_path / "out").exists()


def test_plan_with_a_database_storage_needs_out(tmp_path: Path) -> None:
    result = cli("plan", str(SCENARIO), "--storage", "postgresql://ops@db.invalid/f?fabric=x")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: --out: needed when --storage is a database (a plan is a file you review) — "
        "add --out plan.json\n"
    )
