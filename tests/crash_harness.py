"""Crash harness: kill a real runner at chosen instants, resume, compare bytes.

Each trial forks a child process that runs a scenario with one kill point armed
(agijobs.store.crashpoints: after a tick, halfway through an events.ndjson append, before or after a
checkpoint rename, after live commands are journaled); the child SIGKILLs itself there. The
parent then recovers with `resume --keep-paused` (repeated until the run ends) and compares
events.ndjson, checkpoint.json and summary.json with an uninterrupted run of the same inputs,
including two live owner commands seeded into the inbox before the run.

As a script (`make crash-sweep`): python tests/crash_harness.py [--per-point N] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agijobs.run.lifecycle import resume_run, start_run  # noqa: E402
from agijobs.run.runner import RunOptions  # noqa: E402
from agijobs.scenario.loading import load_plan  # noqa: E402
from agijobs.scenario.plan import Plan  # noqa: E402
from agijobs.store import crashpoints  # noqa: E402
from agijobs.store.files import FileStore, atomic_write  # noqa: E402

OUTPUTS = ("events.ndjson", "checkpoint.json", "summary.json")
POINTS = ("tick", "append", "checkpoint", "checkpoint-renamed", "ack")
SEEDED = (
    ("00000000000000000001-harness-1", "set-latency", {"shard": "{shard}", "ms": 5000}),
    ("00000000000000000002-harness-2", "pause-all", {}),
    ("00000000000000000003-harness-3", "resume", {}),
)


@dataclass(frozen=True, slots=True)
class Trial:
    scenario: str
    point: str
    n: int
    killed: bool
    equal: bool
    resumes: int


def seed_inbox(storage: Path, plan: Plan) -> None:
    """Live commands waiting before the run starts: the runner takes them at tick 1."""
    shard = plan.scenario.fabric.shards[0].id
    pending = storage / "inbox" / "pending"
    pending.mkdir(parents=True)
    for command_id, name, args in SEEDED:
        filled = {k: (shard if v == "{shard}" else v) for k, v in args.items()}
        raw = {
            "command": name,
            "args": filled,
            "reason": "harness",
            "actor": "harness",
            "issued_at": "2026-01-01T00:00:00.000Z",
            "issued_ns": 1,
        }
        atomic_write(pending / f"{command_id}.json", orjson.dumps(raw))


def digests(storage: Path) -> dict[str, str]:
    return {name: hashlib.sha256((storage / name).read_bytes()).hexdigest() for name in OUTPUTS}


def uninterrupted(plan: Plan, storage: Path) -> dict[str, str]:
    seed_inbox(storage, plan)
    start_run(FileStore(storage), plan, "harness", RunOptions())
    return digests(storage)


def counts(plan: Plan) -> dict[str, int]:
    """How often each kill point is reached in an uninterrupted run (to spread trials)."""
    ticks = plan.scenario.run.max_ticks
    with tempfile.TemporaryDirectory() as tmp:
        uninterrupted(plan, Path(tmp) / "s")
        summary = orjson.loads((Path(tmp) / "s" / "summary.json").read_bytes())
        ticks = summary["tick"]
    every = plan.scenario.run.checkpoint_every
    checkpoints = 2 + ticks // every
    return {
        "tick": ticks,
        "append": ticks,
        "checkpoint": checkpoints,
        "checkpoint-renamed": checkpoints,
        "ack": 1,
    }


def run_killed(plan: Plan, storage: Path, point: str, n: int, *, resume: bool = False) -> bool:
    """Run (or resume) in a forked child armed to die at (point, n); True if killed there."""
    if not resume:
        seed_inbox(storage, plan)
    child = os.fork()
    if child == 0:  # the child never returns into the caller
        code = 0
        try:
            crashpoints.arm(f"{point}:{n}")
            if resume:
                resume_run(
                    FileStore(storage),
                    RunOptions(),
                    reason=None,
                    keep_paused=True,
                    actor="harness",
                )
            else:
                start_run(FileStore(storage), plan, "harness", RunOptions())
        except BaseException:
            code = 3
        os._exit(code)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status) == signal.SIGKILL
    if os.WEXITSTATUS(status) != 0:
        raise RuntimeError(f"the run failed before its kill point {point}:{n}")
    return False


def trial(
    plan: Plan,
    name: str,
    expected: dict[str, str],
    point: str,
    n: int,
    tmp: Path,
    again_at_tick: int | None = None,
) -> Trial:
    """Kill at (point, n); with `again_at_tick`, kill the first resume at that tick too."""
    storage = tmp / f"{point}-{n}"
    killed = run_killed(plan, storage, point, n)
    if killed and again_at_tick is not None:
        run_killed(plan, storage, "tick", again_at_tick, resume=True)
        point = f"{point}+resume-tick"
    store = FileStore(storage)
    resumes = 0
    while killed:
        resumes += 1
        outcome = resume_run(store, RunOptions(), reason=None, keep_paused=True, actor="harness")
        if outcome.reason not in ("stop-after-ticks", "interrupted"):
            break
    equal = digests(storage) == expected
    shutil.rmtree(storage)
    return Trial(name, point, n, killed, equal, resumes)


def spread(total: int, wanted: int) -> list[int]:
    """`wanted` instants spread evenly over 1..total (all of them if fewer)."""
    if total <= wanted:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})


def sweep(paths: list[Path], per_point: int) -> list[Trial]:
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for path in paths:
            plan = load_plan(path)
            expected = uninterrupted(plan, tmp / f"{path.stem}-whole")
            reached = counts(plan)
            for point, total in reached.items():
                for n in spread(total, per_point):
                    results.append(trial(plan, path.stem, expected, point, n, tmp))
            # Killed again while resuming: the next resume must still get the same bytes.
            for n in spread(reached["tick"] - 5, max(2, per_point // 4)):
                results.append(
                    trial(plan, path.stem, expected, "tick", n, tmp, again_at_tick=n + 3)
                )
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", type=Path)
    parser.add_argument("--per-point", type=int, default=40)
    args = parser.parse_args(argv)
    paths = args.scenarios or sorted((ROOT / "scenarios").glob("*.yaml"))
    started = time.monotonic()
    results = sweep(paths, args.per_point)
    killed = [r for r in results if r.killed]
    bad = [r for r in killed if not r.equal]
    for point in (*POINTS, "tick+resume-tick"):
        at = [r for r in killed if r.point == point]
        print(
            f"{point:>19}: {len(at)} kill points, {sum(r.equal for r in at)} resumed to "
            "identical bytes"
        )
    print(
        f"{len(killed)} kill points across {len(paths)} scenario(s), {len(bad)} mismatches, "
        f"{time.monotonic() - started:.1f} s"
    )
    for r in bad:
        print(f"MISMATCH {r.scenario} {r.point}:{r.n}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
