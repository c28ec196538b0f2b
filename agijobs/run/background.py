"""A runner as a background service: started detached (`--detach`), stopped cleanly
(`agijobs runner stop`).

A detached runner is `python -m agijobs COMMAND…` in a session of its own (setsid): no
controlling terminal, standard input from /dev/null, standard output and error appended to
a log file. Whoever started it returns once it is live (it holds the run lock and run.json
names its pid) or once it has exited. Stopping sends the live runner SIGTERM: it finishes
its tick, writes its checkpoint, summary and a "stopped" session, and exits 143. The pid is
the runner's own (run.json), so stopping works from the machine the runner runs on, for a
storage directory and a PostgreSQL storage alike.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from ..errors import AgijobsError, Conflict, NotAcknowledged
from ..store import Store, no_run
from .loading import read_json
from .sessions import host, runner_is_live, wall_now

# How long a detached runner may take to become live (a large run verifies its log first).
START_TIMEOUT = 600.0
LOG_TAIL = 10  # lines of the log shown when a detached runner exits before it is live


class RunnerExited(AgijobsError):
    """A detached runner exited before it was live: its own exit code is the command's."""

    code = "runner-exited"

    def __init__(self, message: str, hint: str, exit_code: int) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


def default_log(store: Store) -> Path:
    """STORAGE/runner.log for a storage directory; for a database, agijobs-FABRIC.log in the
    current directory (the runner's machine has no directory of the fabric's)."""
    root = getattr(store, "root", None)
    if isinstance(root, Path):
        return root / "runner.log"
    return Path(f"agijobs-{getattr(store, 'fabric', 'runner')}.log")


def start_detached(
    store: Store,
    storage: str,
    command: list[str],
    log: Path | None = None,
    *,
    timeout: float = START_TIMEOUT,
    tail: list[str] | None = None,
) -> dict[str, Any]:
    """Start `agijobs COMMAND…` detached on `store` (`storage` as given, told to the runner
    by its environment: a database password never shows in its command line), its output
    appended to `log`. Returns once it is live (pid, storage, log, tick, live: True) or has
    exited 0 (live: False). A runner that exits otherwise before it is live raises
    `RunnerExited` with its exit code, its log's last lines put in `tail`; on bad input
    (exit 2) the log is left as it was, as the storage is."""
    log = default_log(store) if log is None else log
    made_storage = _missing_directories(log.parent)
    log.parent.mkdir(parents=True, exist_ok=True)
    before = log.stat().st_size if log.exists() else None
    with open(log, "ab") as out:
        out.write(f"--- {wall_now()} agijobs {shlex.join(command)}\n".encode())
        out.flush()
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "agijobs", *command],
            {**os.environ, "AGIJOBS_STORAGE": storage},
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
            ],
            setsid=True,
        )
    deadline = time.monotonic() + timeout
    while True:
        code = _exit_code(pid)
        if code is not None:
            break
        if _is_live(store, pid):
            return _started(store, pid, log, live=True)
        if time.monotonic() >= deadline:
            raise NotAcknowledged(
                f"the runner (pid {pid}) is not live after {timeout:g} s; it goes on "
                "starting in the background",
                f"see {log} and `agijobs status`; `agijobs runner stop` stops it",
            )
        time.sleep(0.05)
    if code == 0:
        return _started(store, pid, log, live=False)
    lines = log.read_bytes()[before or 0 :].decode(errors="replace").splitlines()
    if tail is not None:
        tail.extend(lines[-LOG_TAIL:])
    if code == 2:  # bad input writes nothing: neither does starting it detached
        _undo_log(log, before, made_storage)
        where = "its last lines are above"
    else:
        where = f"its last lines are above, all of them in {log}"
    raise RunnerExited(
        f"the runner (pid {pid}) exited {code} before it was live; {where}",
        "mend what they say, then start it again",
        code,
    )


def stop_runner(store: Store, timeout: float) -> dict[str, Any]:
    """Stop the live runner at a checkpoint (SIGTERM) and wait until it is gone: pid, tick
    and how; pid None and how "none" when no runner is live."""
    if not store.exists():
        raise no_run(store)  # a mistyped --storage is not a stopped runner
    if not runner_is_live(store):
        return {"pid": None, "tick": checkpoint_tick(store), "how": "none"}
    info = read_json(store, "run.json") or {}
    pid = int(info["pid"])
    where = info.get("host")
    if where != host():
        raise Conflict(
            f"the runner of {store.location} is pid {pid} on host {where}, not this one",
            f"run `agijobs runner stop` on {where}",
        )
    with contextlib.suppress(ProcessLookupError):  # gone since: stopped all the same
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while store.lock_is_held() or _running(pid):
        if time.monotonic() >= deadline:
            raise NotAcknowledged(
                f"the runner (pid {pid}) did not stop within {timeout:g} s; it stops at the "
                "end of its current tick",
                "see `agijobs status`; wait longer with `agijobs runner stop --timeout S`",
            )
        time.sleep(0.05)
    return {"pid": pid, "tick": checkpoint_tick(store), "how": "SIGTERM"}


def _started(store: Store, pid: int, log: Path, *, live: bool) -> dict[str, Any]:
    tick = checkpoint_tick(store)
    return {"pid": pid, "storage": store.location, "log": str(log), "tick": tick, "live": live}


def checkpoint_tick(store: Store) -> int | None:
    """The tick of the stored checkpoint (None before the first)."""
    data = store.read_checkpoint()
    if data is None:
        return None
    tick = orjson.loads(data).get("tick")
    return tick if isinstance(tick, int) else None


def _is_live(store: Store, pid: int) -> bool:
    """`pid` is the live runner: it holds the lock, run.json names it, and the run it holds
    has a checkpoint (a fresh run's first is written before its first tick)."""
    if not runner_is_live(store):
        return False
    info = read_json(store, "run.json") or {}
    return info.get("pid") == pid and store.read_checkpoint() is not None


def _exit_code(pid: int) -> int | None:
    """The exit code of our child `pid` once it has exited (128 + N when killed by signal
    N, as a shell says), else None."""
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _running(pid: int) -> bool:
    """Whether process `pid` is still there (reaped first if it is our own child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass  # not ours: its parent reaps it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has exited and waits for a parent that does not reap it (a container
    whose first process is no init): it is gone all the same."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False  # no /proc here: it is running
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] == "Z"


def _missing_directories(path: Path) -> list[Path]:
    """The directories of `path` that do not exist yet, innermost first."""
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    return missing


def _undo_log(log: Path, before: int | None, made: list[Path]) -> None:
    """Leave the storage as it was before a runner that never went live: the log as long as
    it was (or gone), and the directories made for it removed while empty."""
    if before is None:
        log.unlink(missing_ok=True)
    else:
        with open(log, "r+b") as out:
            out.truncate(before)
    for directory in made:
        try:
            directory.rmdir()
        except OSError:
            break  # the runner wrote to it: it stays
