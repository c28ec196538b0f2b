"""The storage directory under adversity: a full disk names the file it could not write,
and a storage on read-only media is read (status, audit) without a single write."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agijobs.store import files
from agijobs.store.files import FileStore, atomic_write

from ..helpers import cli, file_hashes

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "tests" / "bad_inputs" / "base.yaml"


def disk_full(*args: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_names_the_file_and_leaves_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "checkpoint.json"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as caught:
        atomic_write(target, b"new")
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json"]
    assert target.read_bytes() == b"old"


def test_a_full_disk_under_the_event_log_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FileStore(tmp_path).open_events(0)
    sink.append([b"{}"])
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError) as caught:
        sink.sync()
    assert caught.value.filename == str(tmp_path / files.EVENTS)
    monkeypatch.undo()
    sink.close()


def test_run_on_a_full_disk_exits_with_the_storage_code_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "fsync", disk_full)
    storage = tmp_path / "storage"
    result = cli("run", str(SCENARIO), "--storage", str(storage))
    assert result.exit_code == 4, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert result.stderr == (
        f"Error: storage error ({storage / files.RUN_PLAN}): No space left on device — check "
        "the path, its permissions and free space\n"
    )


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("read-only") / "storage"
    result = cli("run", str(SCENARIO), "--storage", str(storage), "--stop-after-ticks", "2")
    assert result.exit_code == 0, result.output
    return storage


class Writes:
    """Every write-like operation (audit hooks: sys.addaudithook) under a folder, while
    watching. A hook cannot be removed, so one is added for the session and stays idle."""

    watched: Path | None = None
    seen: list[str] = []  # noqa: RUF012 (one list for the session's one hook)
    _added = False

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.watched is None:
            return
        if event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None
                and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
            )
            if writing and cls._inside(path):
                cls.seen.append(f"open {path} {mode or oct(flags)}")
        elif event in {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate"} and (
            cls._inside(args[0])
        ):
            cls.seen.append(f"{event} {args[0]}")

    @classmethod
    def _inside(cls, path: Any) -> bool:
        if not isinstance(path, str | bytes | os.PathLike) or cls.watched is None:
            return False
        return Path(os.path.abspath(os.fsdecode(path))).is_relative_to(cls.watched)

    @classmethod
    @contextlib.contextmanager
    def under(cls, folder: Path) -> Iterator[list[str]]:
        if not cls._added:
            sys.addaudithook(cls.hook)
            cls._added = True
        cls.watched, cls.seen = folder.resolve(), []
        try:
            yield cls.seen
        finally:
            cls.watched = None


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--json"], ["audit"], ["audit", "--json"]]
)
def test_reading_a_storage_writes_nothing(stopped: Path, command: list[str]) -> None:
    # Even as root, where permissions would not tell: no file is opened for writing.
    before = file_hashes(stopped)
    with Writes.under(stopped) as seen:
        result = cli(*command, "--storage", str(stopped))
    assert result.exit_code == 0, result.output
    assert seen == []
    assert file_hashes(stopped) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
@pytest.mark.parametrize("lock", [True, False], ids=["with-run.lock", "without-run.lock"])
def test_status_and_audit_verify_a_read_only_copy(
    stopped: Path, tmp_path: Path, lock: bool
) -> None:
    copy = tmp_path / "evidence"
    shutil.copytree(stopped, copy)
    if not lock:
        (copy / "run.lock").unlink(missing_ok=True)
    paths = [copy, *copy.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        for command in (["status"], ["audit"], ["audit", "--replay"]):
            result = cli(*command, "--storage", str(copy))
            assert result.exit_code == 0, result.output
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
