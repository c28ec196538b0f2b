"""An incident drill through the library: what `agijobs run`, `pause-all`, `reroute`,
`status`, `resume`, `runner start` and `audit` do, from a script.

    python docs/examples/incident_drill.py [STORAGE]

Runs the shipped Earth-backlog scenario to tick 30 in STORAGE (default: a new temporary
directory), pauses the fabric, reroutes Earth's backlog to Luna, lifts the pause, starts
the runner again to the end and proves the run with a replaying audit.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from agijobs import Fabric

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "earth-backlog-reroute.yaml"


def main(storage: str) -> None:
    fabric = Fabric(storage)
    stopped = fabric.run(SCENARIO, fresh=True, stop_after_ticks=30)
    print(f"stopped at tick {stopped.summary['tick']}: {stopped.summary['reason']}")

    paused = fabric.pause_all("drill: poisoned batch", actor="alice")
    print(f"{paused.event} at tick {paused.tick} ({paused.mode})")
    moved = fabric.reroute("drill: drain earth", "earth", "luna", backlog=100, actor="alice")
    print(f"moved {moved.effect['moved']} jobs from earth to luna")

    status = fabric.status()
    earth = next(shard for shard in status["shards"] if shard["id"] == "earth")
    print(f"status: {status['state']}, earth queue {earth['queued']}")

    fabric.resume("drill over", actor="alice")  # no live runner: lifted at rest
    finished = fabric.start_runner().summary
    print(f"finished at tick {finished['tick']}: {finished['jobs']['completed']} jobs completed")

    report = fabric.audit().to_json()
    print(f"audit: {report['events']} events verified, replay: {report['replay']['matches']}")
    outside = [entry for entry in report["governance"] if entry["source"] != "schedule"]
    print("by: " + ", ".join(f"{e['actor']} ({e['command']})" for e in outside))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="agijobs-drill-"))
