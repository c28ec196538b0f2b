"""Crash harness: kill a real runner at chosen instants, restart it, compare bytes.

Each trial forks a child process that runs a scenario with one kill point armed
(agijobs.store.crashpoints: after a tick, halfway through an events.ndjson append, before or after a
checkpoint rename, after live commands are journaled); the child SIGKILLs itself there. The
parent then recovers with `runner start` (repeated until the run ends) and compares
events.ndjson, checkpoint.json and summary.json with an uninterrupted run of the same inputs,
including three live owner commands seeded into the inbox before the run.

Beyond those: kills at every kind of point inside paused stretches (a scenario's scheduled
pause, and a fabric paused at rest by `pause-all` whose runner is then started again: the
pause must stay in force through the restart), and a crash of the recovery itself (the
`runner start` after a crash killed once the log is cut back to the checkpoint).

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

from agijobs.run.delivery import issue_command  # noqa: E402
from agijobs.run.lifecycle import continue_run, start_run  # noqa: E402
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


# Composite kinds: a second kill during the first restart, at a tick or in its recovery.
AGAIN = ("tick+resume-tick", "tick+recovery")
# The at-rest pause drill: crash-resume.yaml stopped at this tick, paused at rest there.
AT_REST_PAUSE_TICK = 30


@dataclass(frozen=True, slots=True)
class Trial:
    scenario: str
    point: str
    n: int
    killed: bool
    equal: bool
    paused: bool = False  # the kill came while the fabric was paused (a `tick` kill point)


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
                continue_run(FileStore(storage), RunOptions())
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
    again: tuple[str, int] | None = None,
    paused: frozenset[int] = frozenset(),
) -> Trial:
    """Kill at (point, n); with `again` (a kill point), kill the first restart there too."""
    storage = tmp / f"{point}-{n}"
    killed = run_killed(plan, storage, point, n)
    if killed and again is not None:
        again_point, again_n = again
        killed_again = run_killed(plan, storage, again_point, again_n, resume=True)
        if again_point == "recovery" and not killed_again:
            raise RuntimeError(f"the restart after {point}:{n} never reached its recovery")
        point = f"{point}+resume-tick" if again_point == "tick" else f"{point}+recovery"
    equal = finish(storage, killed, expected)
    return Trial(name, point, n, killed, equal, point == "tick" and n in paused)


def finish(storage: Path, killed: bool, expected: dict[str, str]) -> bool:
    """Restart until the run ends (as an operator would); whether the bytes are `expected`."""
    store = FileStore(storage)
    while killed:
        outcome = continue_run(store, RunOptions())
        if outcome.reason not in ("stop-after-ticks", "interrupted"):
            break
    equal = digests(storage) == expected
    shutil.rmtree(storage)
    return equal


def paused_ticks(storage: Path) -> frozenset[int]:
    """The ticks at whose end the fabric was paused (fabric-wide), from the run's log."""
    paused, since, ticks = False, 0, set()
    for line in (storage / "events.ndjson").read_bytes().splitlines():
        event = orjson.loads(line)
        kind = event["type"]
        if kind in ("owner.pause-all", "owner.resume") and event["data"]["effect"]["changed"]:
            tick = event["tick"]
            if paused:  # lifted at `tick`: paused at the end of each tick before it
                ticks.update(range(since, tick))
            paused, since = kind == "owner.pause-all", tick
    last = orjson.loads((storage / "summary.json").read_bytes())["tick"]
    if paused:
        ticks.update(range(since, last + 1))
    return frozenset(ticks)


def at_rest_paused(plan: Plan, base: Path) -> None:
    """The run stopped at AT_REST_PAUSE_TICK and paused there at rest by `pause-all` (its
    wall-clock `issued_at` is an input: every trial starts from a copy of these bytes)."""
    seed_inbox(base, plan)
    start_run(FileStore(base), plan, "harness", RunOptions(stop_after_ticks=AT_REST_PAUSE_TICK))
    issue_command(FileStore(base), "pause-all", {}, "harness: hold", "harness", 5.0)


def at_rest_trials(plan: Plan, tmp: Path, per_point: int) -> list[Trial]:
    """Kills of the runner restarted on a fabric paused at rest: at every kind of point of
    its paused stretch, and once more in its recovery. The pause stays in force through
    every restart, and the bytes are those of a restart never interrupted."""
    base = tmp / "at-rest-base"
    at_rest_paused(plan, base)
    whole = tmp / "at-rest-whole"
    shutil.copytree(base, whole)
    outcome = continue_run(FileStore(whole), RunOptions())
    if (outcome.status, outcome.summary["paused"]) != ("paused", True):
        raise RuntimeError(f"the at-rest pause did not hold: {outcome.status}")
    expected = digests(whole)
    last = outcome.summary["tick"]
    if paused_ticks(whole) != frozenset(range(AT_REST_PAUSE_TICK, last + 1)):
        raise RuntimeError("the at-rest pause was lifted before the run ended")
    every = plan.scenario.run.checkpoint_every
    checkpoints = 1 + (last - AT_REST_PAUSE_TICK) // every
    reached = {"tick": last - AT_REST_PAUSE_TICK, "append": last - AT_REST_PAUSE_TICK}
    reached |= {"checkpoint": checkpoints, "checkpoint-renamed": checkpoints}
    name = f"{plan.scenario.name}+at-rest-pause"
    results = []
    for point, total in reached.items():
        for n in spread(total, per_point):
            at = AT_REST_PAUSE_TICK + n if point == "tick" else n
            storage = tmp / f"at-rest-{point}-{n}"
            shutil.copytree(base, storage)
            killed = run_killed(plan, storage, point, at, resume=True)
            if killed and point == "tick" and n % 2:  # and the next restart's recovery too
                run_killed(plan, storage, "recovery", 1, resume=True)
            equal = finish(storage, killed, expected)
            results.append(Trial(name, point, at, killed, equal, paused=True))
    shutil.rmtree(whole)
    shutil.rmtree(base)
    return results


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
            whole = tmp / f"{path.stem}-whole"
            expected = uninterrupted(plan, whole)
            paused = paused_ticks(whole)
            reached = counts(plan)
            for point, total in reached.items():
                for n in spread(total, per_point):
                    results.append(trial(plan, path.stem, expected, point, n, tmp, None, paused))
            # Inside a scheduled pause (not the seeded one-tick pause at tick 1): every tick.
            stretch = sorted(t for t in paused if t > 1)
            for n in stretch[:: max(1, len(stretch) // per_point)]:
                results.append(trial(plan, path.stem, expected, "tick", n, tmp, None, paused))
            # Killed again while restarting: the next restart must still get the same bytes.
            for n in spread(reached["tick"] - 5, max(2, per_point // 4)):
                again = ("tick", n + 3)
                results.append(trial(plan, path.stem, expected, "tick", n, tmp, again, paused))
                again = ("recovery", 1)
                results.append(trial(plan, path.stem, expected, "tick", n, tmp, again, paused))
            if path.stem == "crash-resume":
                results.extend(at_rest_trials(plan, tmp, per_point))
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
    for point in (*POINTS, *AGAIN):
        at = [r for r in killed if r.point == point]
        print(
            f"{point:>19}: {len(at)} kill points, {sum(r.equal for r in at)} restarted to "
            "identical bytes"
        )
    paused = [r for r in killed if r.paused]
    print(
        f"{len(paused)} of them inside paused stretches, {sum(r.equal for r in paused)} "
        "identical (the pause in force through every restart)"
    )
    for scenario in sorted({r.scenario for r in paused}):
        at = [r for r in paused if r.scenario == scenario]
        print(f"  {scenario}: {len(at)} paused, {sum(r.equal for r in at)} identical")
    print(
        f"{len(killed)} kill points across {len(paths)} scenario(s), {len(bad)} mismatches, "
        f"{time.monotonic() - started:.1f} s"
    )
    for r in bad:
        print(f"MISMATCH {r.scenario} {r.point}:{r.n}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
