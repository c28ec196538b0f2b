"""Human output: the one module that imports Rich. NO_COLOR is honoured by Rich itself."""

from __future__ import annotations

import errno
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..views.describe import describe_effect
from ..views.text import visible

# Off a terminal Rich assumes 80 columns; tables for logs and tickets read better wider.
_WIDTH = None if sys.stdout.isatty() else 140


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (`agijobs audit | head`): stop quietly with the code a shell
        gives a process ended by SIGPIPE; Rich's default, 1, means "expectations failed"."""
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(141)


out = _Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = _Console(stderr=True, highlight=False, soft_wrap=True)


def _plain(value: Any) -> Any:
    """`value` (a document from storage or a file: dicts, lists, strings, numbers) as text
    Rich prints as written: control characters in their visible form (\\x1b), and every
    `[` that would open Rich markup escaped, so a reason such as "[/bold]" is shown, not
    obeyed (nor refused by Rich with a MarkupError)."""
    if isinstance(value, str):
        return escape(visible(value))
    if isinstance(value, dict):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _shard_table(shards: dict[str, dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (
        "shard",
        "queued",
        "in-flight",
        "completed",
        "failed",
        "spill in/out",
        "budget ms",
        "health",
    ):
        table.add_column(column, justify="left" if column in ("shard", "health") else "right")
    for name, row in shards.items():
        table.add_row(
            name,
            str(row["queued"]),
            str(row["in_flight"]),
            str(row["completed"]),
            str(row["failed"]),
            f"{row['spilled_in']}/{row['spilled_out']}",
            str(row["budget_ms"]),
            row["health"],
        )
    return table


def render_outcome(outcome: Any) -> None:
    summary = _plain(outcome.summary)
    report = _plain(outcome.report)
    jobs = summary["jobs"]
    out.print(_shard_table(summary["shards"], f"{summary['name']} — tick {summary['tick']}"))
    out.print(
        f"jobs: {jobs['completed']} completed, {jobs['failed']} failed, "
        f"{jobs['cancelled']} cancelled, {jobs['pending']} pending "
        f"(of {jobs['planned']} planned)"
    )
    out.print(
        f"spillovers: {summary['spillovers']} · governance actions: {summary['owner_actions']}"
        f" · cost: {summary['cost']:.6f} USDC"
    )
    out.print(f"events: {summary['seq']} · chain head: {summary['head']}")
    out.print(f"events digest: {summary['events_digest']}")
    if report and "://" in report:
        out.print("report: stored with the run (`agijobs report --out DIR` writes DIR/report.html)")
    elif report:
        out.print(f"report: {report} (open it in a browser; report.md beside it)")
    if summary["status"] == "paused":
        out.print(
            f"paused at tick {summary['tick']}, nothing left to do until the pause is lifted: "
            "`agijobs resume --reason R`, then `agijobs runner start` continues"
        )
    elif summary["status"] == "stopped":
        out.print(
            f"stopped at tick {summary['tick']} ({summary['reason']})"
            + ("; `agijobs runner start` continues" if summary["reason"] != "max-ticks" else "")
        )
    else:
        out.print(f"finished at tick {summary['tick']}")
    if "expect" in summary:
        for note in summary["expect"]["skipped"]:
            out.print(note)
        if outcome.expect_failures:
            for failure in _plain(outcome.expect_failures):
                err.print(f"expectation failed: {failure}")
        else:
            out.print("expectations held")


def render_plan(result: dict[str, Any]) -> None:
    result = _plain(result)
    _render_intents(result.get("intents") or [])
    predicted = result["predicted"]
    out.print(_shard_table(predicted["shards"], f"plan {result['name']} — predicted outcome"))
    jobs = predicted["jobs"]
    out.print(
        f"predicted: {predicted['status']} at tick {predicted['tick']}; {jobs['completed']} "
        f"completed, {jobs['failed']} failed, {jobs['pending']} pending; "
        f"{predicted['events']} events"
    )
    out.print(f"events digest: {predicted['events_digest']}")
    held = predicted["expect"]
    out.print("expectations will hold" if held["held"] else "expectations will FAIL:")
    for failure in held["failures"]:
        out.print(f"  - {failure}")
    if result.get("signatures_needed"):
        signed = ", ".join(result["signed_by"]) or "nobody"
        needed = result["signatures_needed"]
        ready = "ready to run" if len(result["signed_by"]) >= needed else "not yet runnable"
        out.print(f"signed by: {signed} ({len(result['signed_by'])} of {needed} needed; {ready})")
    out.print(f"plan {result['plan_id']} written to {result['path']}")


def _render_intents(intents: list[dict[str, Any]]) -> None:
    """Each sentence beside what it became: the owner reviews the translation."""
    if not intents:
        return
    table = Table(title="intents", title_justify="left")
    for column in ("intent", "kind", "became"):
        table.add_column(column)
    for intent in intents:
        table.add_row(intent["text"], intent["kind"], intent["became"])
    out.print(table)


def render_report(written: dict[str, Any]) -> None:
    written = _plain(written)
    out.print(
        f"report: {written['out']}/report.html (open it in a browser; report.md beside it), "
        f"{written['name']} at tick {written['tick']} ({written['status']})"
    )
    out.print(f"metrics: {written['out']}/metrics.prom (Prometheus textfile)")


def render_what_if(report: dict[str, Any]) -> None:
    report = _plain(report)
    _render_intents(report["intents"])
    without, with_ = report["without"], report["with"]
    table = Table(
        title=f"what if — from the checkpoint at tick {report['from_tick']} (now = tick "
        f"{report['now']})",
        title_justify="left",
    )
    for column in ("shard", "drained at", "completed", "failed", "spill in/out"):
        table.add_column(column, justify="left" if column == "shard" else "right")
    for shard, before in without["shards"].items():
        after = with_["shards"][shard]

        def pair(key: str, before: dict[str, Any] = before, after: dict[str, Any] = after) -> str:
            return f"{_tick_or_never(before[key])} → {_tick_or_never(after[key])}"

        table.add_row(
            shard,
            pair("drained_at"),
            f"{before['completed']} → {after['completed']}",
            f"{before['failed']} → {after['failed']}",
            f"{before['spilled_in']}/{before['spilled_out']} → "
            f"{after['spilled_in']}/{after['spilled_out']}",
        )
    out.print(table)
    for name, outcome in (("without", without), ("with", with_)):
        jobs = outcome["jobs"]
        held = outcome["expect"]
        verdict = (
            "expectations hold"
            if held["held"]
            else "expectations FAIL: " + "; ".join(held["failures"])
        )
        out.print(
            f"{name} the intents: {outcome['status']} at tick {outcome['tick']} "
            f"({outcome['reason']}); {jobs['completed']} completed, {jobs['failed']} failed, "
            f"{jobs['pending']} pending; {outcome['spillovers']} spillovers; cost "
            f"{outcome['cost']:.6f}; {verdict}"
        )
    written = report.get("written_to")
    out.print(
        f"report written to {written}; the storage is untouched"
        if written
        else "nothing was written (a what-if never touches the storage)"
    )


def _tick_or_never(value: Any) -> str:
    return "never" if value is None else f"tick {value}"


def render_fabrics(report: dict[str, Any]) -> None:
    report = _plain(report)
    fabrics = report["fabrics"]
    if not fabrics:
        out.print(
            f"no fabric in {report['storage']} yet"
            if report["backend"] == "postgresql"
            else f"no run in {report['storage']}"
        )
        return
    table = Table(title=f"fabrics in {report['storage']}", title_justify="left")
    for column in ("name", "run id", "scenario", "tick", "finished", "live"):
        table.add_column(column, justify="right" if column == "tick" else "left")
    for fabric in fabrics:
        table.add_row(
            fabric["name"] + (" (archived)" if fabric["archived"] else ""),
            fabric["run_id"] or "-",
            fabric["scenario"] or "-",
            "-" if fabric["tick"] is None else str(fabric["tick"]),
            "yes" if fabric["finished"] else "no",
            "yes" if fabric["live"] else "no",
        )
    out.print(table)


def render_status(report: dict[str, Any]) -> None:
    report = _plain(report)
    if report["state"] == "no run":
        out.print(f"no run in {report['storage']}")
        return
    pid = f" (pid {report['pid']})" if report.get("pid") else ""
    if pid and report.get("host") and report["host"] != os.uname().nodename:
        pid = f" (pid {report['pid']} on {report['host']})"
    if report["state"] == "crashed":
        out.print(
            f"{report['name']}: crashed after tick {report['last_event_tick']}; "
            f"`agijobs runner start` continues from the checkpoint at tick {report['tick']}"
        )
    else:
        out.print(f"{report['name']}: {report['state']}{pid} at tick {report['tick']}")
    _render_pauses(report)
    table = Table(title="shards", title_justify="left")
    for column in (
        "shard",
        "queued",
        "deferred",
        "in-flight",
        "completed",
        "failed",
        "budget ms",
        "health",
    ):
        table.add_column(column, justify="left" if column in ("shard", "health") else "right")
    for row in report["shards"]:
        health = row["health"] + (" (paused)" if row["paused"] else "")
        if row.get("retired"):
            health = "deregistered"
        table.add_row(
            row["id"],
            str(row["queued"]),
            str(row["deferred"]),
            str(row["in_flight"]),
            str(row["completed"]),
            str(row["failed"]),
            str(row["budget_ms"]),
            health,
        )
    out.print(table)
    nodes = report["nodes"]
    if any(n.get("metadata") or n.get("price_per_job") for n in nodes):
        out.print(_node_table(nodes))
    up = [n["id"] for n in nodes if n["status"] == "up"]
    down = [n["id"] for n in nodes if n["status"] == "down"]
    over = [n["id"] for n in nodes if n["over_budget"]]
    out.print(
        f"nodes: {len(up)} of {len(nodes)} up · down: {', '.join(down) or 'none'}"
        f" · over latency budget: {', '.join(over) or 'none'}"
    )
    cordoned = [_cordon_note(n) for n in nodes if n.get("schedulable")]
    if cordoned:
        out.print(f"no new work (cordoned): {', '.join(cordoned)}")
    _render_authority(report.get("authority"))
    checkpoint = report["checkpoint"]
    out.print(f"last checkpoint: tick {checkpoint['tick']}, seq {checkpoint['seq']}")
    out.print(f"chain head: {report['head']}")
    lifecycle = [s for s in report["sessions"] if s.get("event") != "command"]
    if lifecycle:
        out.print(
            "sessions: "
            + ", ".join(f"{s['event']}@{s.get('tick', 0)} ({s.get('at', '?')})" for s in lifecycle)
        )


def _render_pauses(report: dict[str, Any]) -> None:
    """Every pause in force: since when, by whom, why; a restart leaves each in force."""
    if report["paused"]:
        out.print("fabric " + _pause_words(report.get("pause")))
        out.print("  lifting it is an owner action: agijobs resume --reason '…'")
    for shard in report["shards"]:
        if shard.get("pause") is not None:
            out.print(f"shard {shard['id']} " + _pause_words(shard["pause"]))
    for command in report.get("acknowledged") or ():
        out.print(
            f"acknowledged after the checkpoint (in force; `agijobs runner start` applies it "
            f"again at tick {command['tick']}): {command['command']} by {command['actor']} — "
            f"{command['reason']}"
        )


def _pause_words(pause: dict[str, Any] | None) -> str:
    if pause is None:  # a checkpoint written before agijobs kept who paused
        return "paused (who paused it is not recorded in this checkpoint)"
    issued = f", issued {pause['issued_at']}" if pause.get("issued_at") else ""
    return (
        f"paused since tick {pause['tick']} by {pause['actor']} ({pause['source']}"
        f"{issued}): {pause['reason']}"
    )


def _render_authority(authority: dict[str, Any] | None) -> None:
    if authority is None:
        return
    if authority["mode"] == "open":
        out.print(
            "authority: UNAUTHENTICATED (open mode) — commands are not signed; "
            "actors are as claimed"
        )
        return
    keys = ", ".join(f"{k['name']} ({'/'.join(k['roles'])})" for k in authority["keys"])
    approvals = ", ".join(f"{n} {c}" for n, c in authority["approvals"].items())
    out.print(f"authority: signed commands · keys: {keys} · approvals: {approvals}")
    if authority["operator_may"]:
        out.print(f"operators may issue alone: {', '.join(authority['operator_may'])}")
    proposals = authority["proposals"]
    if not proposals:
        out.print("pending proposals: none")
        return
    table = Table(title="pending proposals", title_justify="left")
    for column in ("id", "command", "reason", "proposed by", "approvals", "expires at tick"):
        table.add_column(column)
    for p in proposals:
        command = p["command"]
        table.add_row(
            p["id"],
            _command_line({"command": command["command"], "args": command["args"]}),
            command["reason"],
            command["actor"],
            f"{len(p['signers'])} of {p['needed']} ({', '.join(p['signers'])})",
            str(p["expires_tick"]),
        )
    out.print(table)


def _cordon_note(node: dict[str, Any]) -> str:
    if node["schedulable"] == "draining":
        return f"{node['id']} (draining until tick {node['drain_tick']}, {node['running']} running)"
    return str(node["id"])


def _node_table(nodes: list[dict[str, Any]]) -> Table:
    """Nodes with what operators keep about them (deployment, zones, compliance, price)."""
    table = Table(title="nodes", title_justify="left")
    for column in ("node", "shard", "status", "running", "latency ms", "price/job"):
        table.add_column(column, justify="right" if column in ("running", "latency ms") else "left")
    for column in ("deployment", "zones", "compliance"):
        table.add_column(column)
    for node in nodes:
        meta = node.get("metadata") or {}
        deployment = meta.get("deployment") or {}
        deploy = " ".join(
            str(deployment[key])
            for key in ("orchestration", "runtime", "version")
            if key in deployment
        )
        pricing = meta.get("pricing") or {}
        price = node.get("price_per_job") or 0
        table.add_row(
            node["id"],
            node["shard"],
            node["status"] + (f", {node['schedulable']}" if node.get("schedulable") else ""),
            f"{node['running']}/{node['slots']}",
            str(node["latency_ms"]),
            f"{price:g} {pricing.get('currency', '')}".strip() if price else "-",
            deploy or "-",
            ", ".join(map(str, meta.get("availabilityZones") or ())) or "-",
            ", ".join(map(str, meta.get("compliance") or ())) or "-",
        )
    return table


def render_audit(report: Any) -> None:
    governance, sessions, notes = (
        _plain(report.governance),
        _plain(report.sessions),
        _plain(report.notes),
    )
    authority = _plain(report.authority)
    how = "re-made from its inputs" if report.mode == "derived" else "quick: not re-made"
    out.print(
        f"audit ({how}): {report.events} events · checkpoint seq {report.checkpoint_seq}, "
        f"tick {report.checkpoint_tick} · head {report.head}"
    )
    for line in _plain(report.proved):
        out.print(f"proved: {line}", markup=False)
    for line in _plain(report.not_proved):
        out.print(f"not proved: {line}", markup=False)
    totals = report.conservation["totals"]
    out.print(
        f"conservation: holds — submitted {totals['submitted'][0]} = completed "
        f"{totals['completed'][0]} + failed {totals['failed'][0]} + cancelled "
        f"{totals['cancelled'][0]} + queued {totals['queued'][0]} + in-flight "
        f"{totals['in_flight'][0]} (value {totals['submitted'][1]})"
    )
    witness = report.witness
    if witness is not None:
        end = f"; the run's end at seq {witness['ended_seq']}" if witness["ended_seq"] else ""
        out.print(
            f"witness: {_plain(witness['source'])} — {witness['records']} head(s) of this run, "
            f"up to seq {witness['proved_seq']}{end}: the log extends every one",
            markup=False,
        )
    for note in notes:
        out.print(f"note: {note}")
    if authority.get("authenticated"):
        out.print(
            f"authority: every governance signature verified · plan signed by "
            f"{', '.join(authority['plan_signed_by'])}"
        )
    title = "governance timeline"
    cut = _plain(getattr(report, "timeline_filter", None))
    if cut:
        given = ", ".join(
            f"{key} {value}" for key, value in cut.items() if key not in ("rows", "of")
        )
        title += f" (only {given}: {cut['rows']} of {cut['of']} rows; the whole run was proved)"
    table = Table(title=title, title_justify="left")
    columns = ["tick", "command", "actor", "reason", "source", "effect"]
    if authority.get("authenticated"):
        columns.insert(3, "signed by")
    for column in columns:
        table.add_column(column)
    for entry in governance:
        row = [
            str(entry["tick"]),
            _command_line(entry),
            entry["actor"],
            entry["reason"],
            entry["source"],
            _timeline_effect(entry),
        ]
        if authority.get("authenticated"):
            signed = entry.get("signed_by") or []
            plan = (entry.get("authorised_by") or {}).get("plan_signed_by")
            row.insert(3, "plan: " + ", ".join(plan) if plan else ", ".join(signed) or "-")
        table.add_row(*row)
    out.print(table)
    lifecycle = [s for s in sessions if s.get("event") != "command"]
    if lifecycle:
        out.print(
            "sessions: " + ", ".join(f"{s['event']}@{s.get('tick', 0)}" for s in lifecycle[-8:])
        )


def _timeline_effect(entry: dict[str, Any]) -> str:
    outcome, effect = entry["outcome"], entry["effect"]
    if outcome == "rejected":
        return f"rejected: {effect}"
    if outcome == "refused":
        return f"REFUSED ({entry.get('refusal', 'refused')}): {effect}"
    if outcome == "proposed":
        return f"proposal {effect['proposal']}: {effect['approvals']} of {effect['needed']}"
    if outcome == "approved":
        met = ", threshold met" if effect["threshold_met"] else ""
        return f"approves {effect['proposal']}: {effect['approvals']} of {effect['needed']}{met}"
    return describe_effect(entry["command"], effect)


def _command_line(entry: dict[str, Any]) -> str:
    if entry["command"] == "job.submit":  # a batch of jobs: its entries, not their fields
        entries = len(entry["args"]["jobs"])
        return f"job.submit ({entries} entr{'y' if entries == 1 else 'ies'})"
    args = " ".join(f"--{k} {v}" for k, v in entry["args"].items())
    return f"{entry['command']} {args}".strip()


def in_foreground(stream: Any) -> bool:
    """Whether this process is in the foreground process group of the terminal `stream`
    is (False for a stream that is no terminal). A terminal that is not this process's
    controlling one (a pseudo-terminal a tool hands it) has no job control, hence no
    prompt to draw over: the foreground."""
    try:
        return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except OSError as error:
        return error.errno == errno.ENOTTY and stream.isatty()
    except (ValueError, AttributeError):
        return False


def progress_printer(quiet: bool) -> LiveView | None:
    """The run's progress on stderr: a live view on a terminal, plain lines otherwise."""
    if quiet:
        return None
    return LiveView(tty=sys.stderr.isatty() and os.environ.get("TERM") != "dumb")


class LiveView:
    """Called after every tick. On a terminal: a Rich live view refreshed 4 times a second
    (tick, live/paused, a queue bar per shard coloured by health against its budget, nodes
    up/down, throughput, the last governance action). Otherwise one plain line every
    `every` ticks and one at every governance action, with no control characters."""

    def __init__(self, *, tty: bool, every: int = 100) -> None:
        self.tty = tty
        self.every = every
        self.live: Any = None
        self.last_draw = 0.0
        self.actions = -1
        self.last_action = "none yet"
        self.rate_mark = (time.monotonic(), 0)
        self.rate = 0.0

    def __call__(self, engine: Any, seq: int) -> None:
        state = engine.state
        actions = state.owner_actions + state.outside_commands
        acted = self.actions >= 0 and actions != self.actions
        self.actions = actions
        if acted:
            self.last_action = _last_action(engine.events, state.tick) or self.last_action
        if self.tty and not self._drawn_now(acted):
            return
        if not self.tty:
            if acted:
                err.print(f"tick {state.tick} · governance: {self.last_action}")
            if state.tick % self.every == 0:
                err.print(_plain_line(engine, seq))
            return
        now = self.last_draw
        completed = sum(s.completed.count for s in state.shards.values())
        then, before = self.rate_mark
        if now - then >= 1.0:
            self.rate = (completed - before) / (now - then)
            self.rate_mark = (now, completed)
        view = _live_table(engine, seq, self.rate, self.last_action)
        if self.live is None:
            from rich.live import Live

            # Drawn here only, never by Rich's own thread: a run sent to the background
            # (Ctrl-Z, bg) stops drawing at once.
            self.live = Live(view, console=err, auto_refresh=False, transient=False)
            self.live.start(refresh=True)
        else:
            self.live.update(view, refresh=True)

    def _drawn_now(self, acted: bool) -> bool:
        """Whether to draw now: a quarter of a second since the last time (at once after a
        governance action), and only while the run is in the terminal's foreground — a run
        in the background of a shell (`agijobs run … &`) never draws over its prompt."""
        now = time.monotonic()
        if now - self.last_draw < 0.25 and not acted:
            return False
        self.last_draw = now
        return in_foreground(err.file)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _last_action(events: list[Any], tick: int) -> str | None:
    for kind, data in reversed(events):
        if kind.startswith("owner.") or kind == "governance.refused":
            command = data["input"]
            outcome = kind.removeprefix("owner.") if kind != "governance.refused" else "refused"
            verb = command["command"] if outcome == command["command"] else outcome
            return escape(visible(f"{verb} by {command['actor']} @{tick} — {command['reason']}"))
    return None


def _plain_line(engine: Any, seq: int) -> str:
    state = engine.state
    totals = state.totals()
    up = sum(1 for n in state.nodes.values() if n.up and not n.executor_down)
    return (
        f"tick {state.tick} · {'paused' if state.paused else 'live'} · queued "
        f"{totals['queued'].count} · in-flight {totals['in_flight'].count} · completed "
        f"{totals['completed'].count} · failed {totals['failed'].count} · nodes {up}/"
        f"{len(state.nodes)} up · {seq} events"
    )


_HEALTH = {"healthy": "green", "degraded": "yellow", "critical": "red"}


def _live_table(engine: Any, seq: int, rate: float, last_action: str) -> Table:
    state = engine.state
    mode = "[yellow]PAUSED[/]" if state.paused else "[green]live[/]"
    up = sum(1 for n in state.nodes.values() if n.up and not n.executor_down)
    down = [n.id for n in state.nodes.values() if not n.up or n.executor_down]
    table = Table(
        title=f"tick {state.tick} · {mode} · {rate:,.0f} jobs/s · {seq:,} events",
        caption=f"nodes {up}/{len(state.nodes)} up"
        + (f" (down: {', '.join(down)})" if down else "")
        + f" · last governance: {last_action}",
        title_justify="left",
        caption_justify="left",
    )
    for column in ("shard", "queue", "queued", "in-flight", "completed", "budget ms", "health"):
        table.add_column(
            column, justify="left" if column in ("shard", "queue", "health") else "right"
        )
    for shard in state.shards.values():
        if shard.retired:
            continue
        health = shard.health
        colour = _HEALTH[health]
        fill = min(20, round(20 * shard.queued.count / max(shard.max_queue, 1)))
        bar = f"[{colour}]{'█' * fill}[/][dim]{'·' * (20 - fill)}[/]"
        paused = " (paused)" if shard.paused or state.paused else ""
        table.add_row(
            shard.id,
            bar,
            f"{shard.queued.count}/{shard.max_queue}",
            str(shard.in_flight.count),
            str(shard.completed.count),
            str(shard.budget_ms),
            f"[{colour}]{health}[/]{paused}",
        )
    return table


class Watch:
    """Draws a live run as `agijobs status --watch` follows it: a live table on a terminal,
    else one plain line a second."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.tty = sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
        self.live: Any = None
        self.last_line = 0.0

    def no_runner(self) -> None:
        err.print(f"no live run in {self.location} to follow; its status:")

    def show(self, view: dict[str, Any]) -> bool:
        view = _plain(view)
        if self.tty:
            table = _watch_table(view)
            if self.live is None:
                from rich.live import Live

                self.live = Live(table, console=out, refresh_per_second=4)
                self.live.start()
            else:
                self.live.update(table)
            return True
        now = time.monotonic()
        if now - self.last_line < 1.0:
            return False
        out.print(_watch_line(view))
        self.last_line = now
        return True

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _watch_line(view: dict[str, Any]) -> str:
    shards = view["shards"]
    nodes = view["nodes"]
    up = sum(1 for n in nodes if n["status"] == "up")
    queues = ", ".join(f"{s['id']} {s['queued']}" for s in shards if not s.get("retired"))
    return (
        f"tick {view['tick']} · {'paused' if view['paused'] else 'live'} · queued: {queues} · "
        f"completed {sum(s['completed'] for s in shards)} · nodes {up}/{len(nodes)} up"
    )


def _watch_table(view: dict[str, Any]) -> Table:
    mode = "[yellow]PAUSED[/]" if view["paused"] else "[green]live[/]"
    nodes = view["nodes"]
    down = [n["id"] for n in nodes if n["status"] != "up"]
    table = Table(
        title=f"tick {view['tick']} · {mode} · {view.get('seq', 0):,} events (watching)",
        caption=f"nodes {len(nodes) - len(down)}/{len(nodes)} up"
        + (f" (down: {', '.join(down)})" if down else ""),
        title_justify="left",
        caption_justify="left",
    )
    for column in ("shard", "queue", "queued", "in-flight", "completed", "budget ms", "health"):
        table.add_column(
            column, justify="left" if column in ("shard", "queue", "health") else "right"
        )
    for shard in view["shards"]:
        if shard.get("retired"):
            continue
        colour = _HEALTH.get(shard["health"], "white")
        limit = max(int(shard.get("max_queue") or 1), 1)
        fill = min(20, round(20 * shard["queued"] / limit))
        table.add_row(
            shard["id"],
            f"[{colour}]{'█' * fill}[/][dim]{'·' * (20 - fill)}[/]",
            f"{shard['queued']}/{limit}",
            str(shard["in_flight"]),
            str(shard["completed"]),
            str(shard["budget_ms"]),
            f"[{colour}]{shard['health']}[/]" + (" (paused)" if shard["paused"] else ""),
        )
    return table
