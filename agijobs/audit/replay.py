"""The audit's replay: the plan run again in memory from tick 0 with the owner commands the
log records, at their ticks; its chain head must be the log's."""

from __future__ import annotations

from typing import Any

from ..errors import IntegrityError
from ..fabric.inputs import CommandInput
from ..ledger.canonical import split_event_line
from ..run.lifecycle import simulate
from ..run.loading import LoadedRun


def replay(
    loaded: LoadedRun,
    recorded: list[tuple[int, CommandInput]],
    bridge: Any = None,
    needs_bridge: bool = False,
) -> dict[str, Any]:
    assert loaded.checkpoint is not None
    tick = int(loaded.checkpoint["tick"])
    heads: list[str] = []
    outcome = simulate(
        loaded.plan, recorded, until_tick=tick, heads=heads, run_id=loaded.run_id, bridge=bridge
    )
    summary = outcome.summary
    if summary["seq"] != loaded.seq or summary["head"] != loaded.checkpoint["head"]:
        lines = loaded.events[: loaded.scan.mark_bytes].split(b"\n")
        first = next(
            (
                seq
                for seq, (line, head) in enumerate(zip(lines, heads, strict=False), start=1)
                if split_event_line(line)[1] != head
            ),
            min(len(heads), loaded.seq) + 1,
        )
        raise IntegrityError(
            f"replay diverges at seq {first} (events.ndjson line {first}): re-running the plan "
            f"to tick {tick} gives {summary['seq']} events, head {summary['head'][:12]}…; "
            f"the log has {loaded.seq}, head {loaded.checkpoint['head'][:12]}…",
            "the run's external executor answered differently from in process: replay with "
            "--executor bridge (and the same bridge)"
            if needs_bridge
            else "the log was not produced by this plan and these owner commands",
        )
    return {"matches": True, "tick": tick, "seq": summary["seq"], "head": summary["head"]}
