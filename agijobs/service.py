"""The library's one entry point: a fabric in its storage, and what an operator does with it.

    from agijobs import Fabric

    fabric = Fabric("./storage")                 # a directory, or postgresql://…?fabric=NAME
    outcome = fabric.run("scenarios/planetary.yaml", fresh=True)
    fabric.pause_all("INC-4711: poisoned batch", actor="alice")
    print(fabric.status()["state"])              # "paused"
    report = fabric.audit()                      # re-makes the run, compares every byte

The command line calls exactly these methods (one per command), and so can any script or
notebook. Each method does one thing, returns plain data or the result objects named in
`__all__`, and raises the named errors of `agijobs.errors`, each with its exit code.
Nothing is opened, read or imported until a method needs it: `Fabric(...)` is free.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import BadInput, did_you_mean

if TYPE_CHECKING:
    from .audit.report import AuditReport
    from .run.bridge import BridgeSettings
    from .run.delivery import CommandResult
    from .run.exporter import Exporter
    from .run.runner import Outcome, Progress, RunOptions
    from .run.status import Follower
    from .store import Store
    from .store.witness import Witness

DEFAULT_STORAGE = "storage"
Notices = Callable[[str], None]  # told what a reference or apply file had that is ignored


class Fabric:
    """A fabric stored in a directory or a PostgreSQL database (`storage`)."""

    def __init__(self, storage: str | os.PathLike[str] = DEFAULT_STORAGE) -> None:
        self.storage = os.fspath(storage)
        if not self.storage:  # Path("") is the current directory: never meant
            raise BadInput("--storage: empty", "name a directory, e.g. --storage ./storage")
        if "\x00" in self.storage:  # possible from the library, not from a shell
            raise BadInput("--storage: holds a NUL character", "name a directory")
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The storage backend, opened on first use (a symbolic link or a file is refused)."""
        if self._store is None:
            from .store import open_store

            self._store = open_store(self.storage)
        return self._store

    # ------------------------------------------------------------- plans and runs

    def plan(
        self,
        scenario: str | Path,
        *,
        out: str | Path | None = None,
        blueprint: str | Path | None = None,
        owner_commands: str | Path | None = None,
        emit_scenario: str | Path | None = None,
        sign: Sequence[str] = (),
        intents: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Validate a scenario (or plan, or reference demo file), dry-run it in memory and
        write the reviewed plan to `out` (default STORAGE/plan.json); the plan's id, path,
        prediction and notices."""
        from .run.planning import make_plan

        _refuse_unfit_text([("--intent", text) for text in intents])
        return make_plan(
            Path(scenario),
            Path(out) if out is not None else self._default_plan_path(),
            blueprint=_path(blueprint),
            owner_commands=_path(owner_commands),
            emit_scenario=_path(emit_scenario),
            sign=list(sign),
            intents=intents,
        )

    def what_if(self, intents: Sequence[str], out: str | Path | None = None) -> dict[str, Any]:
        """Predict the stored run from its checkpoint with and without `intents` (operator
        sentences); writes nothing but `out`, when given."""
        from .run.planning import what_if

        _refuse_unfit_text([("--intent", text) for text in intents])
        return what_if(self.store, intents, _path(out))

    def run(
        self,
        scenario: str | Path,
        *,
        blueprint: str | Path | None = None,
        owner_commands: str | Path | None = None,
        fresh: bool = False,
        stop_after_ticks: int | None = None,
        tick_ms: int = 0,
        wait: bool = False,
        executor: str = "inprocess",
        bridge: str | None = None,
        bridge_timeout: float | None = None,
        runner_key: str | None = None,
        witness: str | None = None,
        metrics_addr: str | None = None,
        progress: Progress | None = None,
        notices: Notices | None = None,
    ) -> Outcome:
        """Run a scenario or plan from tick 0 into this (empty) storage; `fresh` archives a
        run it holds first. `witness` (a file, `-` for stdout, or a postgresql:// URL of
        another database) is given each checkpoint's head once it is durable. With
        `metrics_addr` (HOST:PORT) the runner serves Prometheus `/metrics` there while it
        runs (`notices` is told the URL). `progress` is
        called after every tick; `notices` is told what a reference file had that agijobs
        ignores, before the run starts. On a fabric that declares keys, `runner_key` names
        the key that signs its checkpoints (default: $AGIJOBS_RUNNER_KEY, else the runner
        key's name under the key directory)."""
        from .run.lifecycle import start_run
        from .scenario.loading import check_fresh, load_plan

        source = Path(scenario)
        plan = load_plan(source, _path(blueprint), _path(owner_commands))
        check_fresh(plan, source)
        for notice in plan.notices:
            if notices is not None:
                notices(notice)
        options = _run_options(
            stop_after_ticks, tick_ms, wait, executor, bridge, bridge_timeout, progress
        )
        options.runner_key = runner_key
        with self._witness(witness) as opened, _exporter(metrics_addr, notices) as exporter:
            options.witness, options.exporter = opened, exporter
            return start_run(self.store, plan, str(scenario), options, fresh=fresh)

    def start_runner(
        self,
        *,
        stop_after_ticks: int | None = None,
        tick_ms: int = 0,
        wait: bool = False,
        executor: str = "inprocess",
        bridge: str | None = None,
        bridge_timeout: float | None = None,
        runner_key: str | None = None,
        witness: str | None = None,
        metrics_addr: str | None = None,
        progress: Progress | None = None,
        notices: Notices | None = None,
    ) -> Outcome:
        """Continue the stored run here, exactly as it would have gone: verify it, recover
        from a crash (events written after the checkpoint are dropped) and run on, a pause
        in force still in force (lifting it is `resume`, an owner command), publishing
        heads to `witness` and serving `/metrics` on `metrics_addr`. A runner already live
        on the storage is refused (`Conflict`), as is a run that has ended."""
        from .run.lifecycle import continue_run, refuse_live_runner

        refuse_live_runner(self.store)  # before the witness is opened (a file is created)
        options = _run_options(
            stop_after_ticks, tick_ms, wait, executor, bridge, bridge_timeout, progress
        )
        options.runner_key = runner_key
        with self._witness(witness) as opened, _exporter(metrics_addr, notices) as exporter:
            options.witness, options.exporter = opened, exporter
            return continue_run(self.store, options)

    # -------------------------------------------------------------- the runner as a service

    def detach(
        self,
        command: Sequence[str],
        *,
        log: str | Path | None = None,
        timeout: float | None = None,
        tail: list[str] | None = None,
    ) -> dict[str, Any]:
        """Start `agijobs COMMAND…` (`run SCENARIO …`, without --detach) on this storage as a
        background runner: its own session, no terminal, its output appended to `log`
        (default STORAGE/runner.log; for a database ./agijobs-FABRIC.log). Returns once it is
        live: pid, storage, log, tick (its checkpoint's), live True; or once it has exited 0
        (live False). A runner that exits otherwise first raises `RunnerExited` (its exit
        code), its log's last lines put in `tail`."""
        from .run.background import START_TIMEOUT, start_detached

        return start_detached(
            self.store,
            self.storage,
            list(command),
            _path(log),
            timeout=START_TIMEOUT if timeout is None else timeout,
            tail=tail,
        )

    def stop_runner(self, *, timeout: float = 30.0) -> dict[str, Any]:
        """Stop the live runner cleanly (SIGTERM: it finishes its tick and writes its
        checkpoint) and wait until it is gone: pid, tick, how ("SIGTERM"). No runner live:
        pid None, how "none". Raises `NotAcknowledged` (exit 6) when it is still there after
        `timeout` seconds, `Conflict` when it runs on another host."""
        from .run.background import stop_runner

        return stop_runner(self.store, timeout)

    # -------------------------------------------------------------- owner commands

    def command(
        self,
        name: str,
        args: dict[str, Any],
        reason: str,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Issue an owner command whose arguments are validated already: to the live runner
        (waiting `timeout` seconds for its acknowledgement), or applied at rest. On a fabric
        that declares owner keys it is signed with `key`."""
        if not reason.strip():
            raise BadInput("--reason: must not be empty", "say why, e.g. --reason 'incident 42'")
        _refuse_unfit_text([("--reason", reason), ("--actor", actor)])
        from .run.delivery import issue_command

        return issue_command(self.store, name, args, reason, actor, timeout, key)

    def pause_all(
        self, reason: str, actor: str | None = None, key: str | None = None, timeout: float = 10.0
    ) -> CommandResult:
        """Pause every router: no assignment, no spillover; in-flight jobs finish. The
        pause stays in force, across restarts of the runner, until `resume` lifts it."""
        return self.command("pause-all", {}, reason, actor, key, timeout)

    def resume(
        self,
        reason: str,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Lift the fabric-wide pause (the seed's `system.resume`): an owner command, sent
        to the live runner or applied at rest and recorded, signed with `key` on a fabric
        that declares keys. It never runs the fabric: `start_runner` does."""
        return self.command("resume", {}, reason, actor, key, timeout)

    def reroute(
        self,
        reason: str,
        source: str,
        target: str | None = None,
        *,
        backlog: str | int | None = None,
        job: str | None = None,
        clear: bool = False,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Make `target` the first spillover target of `source` and move up to `backlog`
        ('all' or a number) of its queued jobs now; `job` moves one job; `clear` restores
        the configured targets."""
        from .scenario.command_input import reroute_args

        _refuse_unfit_text([("--reason", reason), ("--actor", actor)])
        args = reroute_args(reason, source, target, backlog, job, clear)
        return self.command("reroute", args, reason, actor, key, timeout)

    def set_latency(
        self,
        reason: str,
        shard: str,
        ms: int,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Change a shard's latency budget; routers assign only to nodes within it."""
        args = _plain_args(
            "set-latency", {"shard": shard}, {"ms": (ms, _max_budget_ms())}, reason, actor
        )
        return self.command("set-latency", args, reason, actor, key, timeout)

    # ------------------------------------------------------------ node operations

    def cordon(
        self,
        node: str,
        reason: str,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """The node takes no new work; its running jobs carry on (`node.cordon`)."""
        args = _node_args("node.cordon", node, reason, actor)
        return self.command("node.cordon", args, reason, actor, key, timeout)

    def uncordon(
        self,
        node: str,
        reason: str,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """The node takes work again; a drain in progress ends (`node.uncordon`)."""
        args = _node_args("node.uncordon", node, reason, actor)
        return self.command("node.uncordon", args, reason, actor, key, timeout)

    def drain(
        self,
        node: str,
        deadline: int,
        reason: str,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Cordon the node; the jobs still running on it at the end of the tick `deadline`
        ticks after the one the command applies at go back to their queue (`node.drain`)."""
        args = _node_args("node.drain", node, reason, actor, deadline)
        return self.command("node.drain", args, reason, actor, key, timeout)

    def apply(
        self,
        source: str | Path,
        reason: str | None = None,
        *,
        data: bytes | None = None,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
        notices: Notices | None = None,
    ) -> CommandResult:
        """Apply the owner commands of a YAML or JSON document (`source` names it; `data`
        holds its bytes when read already, as from stdin): one command, or a list applied
        together, all or none."""
        from .scenario.command_input import commands_from_document

        label = Path("<stdin>") if str(source) == "-" else Path(source)
        name, args, why, told = commands_from_document(label, data, reason)
        for notice in told:
            if notices is not None:
                notices(notice)
        if not why.strip():
            raise BadInput("reason: must not be empty", "say why, e.g. --reason 'incident 42'")
        return self.command(name, args, why, actor, key, timeout)

    def submit(
        self,
        source: str | Path,
        reason: str,
        *,
        data: bytes | None = None,
        actor: str | None = None,
        key: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Submit the jobs of a JSON-lines or YAML document (`source` names it, `-` for
        `data` read from stdin) as one `job.submit`: all or none, each job id used once per
        run. Live, the jobs join their queues at the tick the runner acknowledges; at rest,
        at the tick the fabric rests at."""
        from .scenario.intake import locate, read_jobs

        _refuse_unfit_text([("--reason", reason), ("--actor", actor)])
        args, places = read_jobs(str(source), data)
        try:
            return self.command("job.submit", args, reason, actor, key, timeout)
        except BadInput as error:  # the fabric names an entry by its index: say its place
            raise locate(error, places) from None

    def approve(
        self,
        proposal: str,
        *,
        key: str | None = None,
        reason: str | None = None,
        timeout: float = 10.0,
    ) -> CommandResult:
        """Add `key`'s signature to a pending proposal (its id, or the command name of the
        only one pending for it); at the threshold its command is applied."""
        _refuse_unfit_text([("PROPOSAL", proposal)])
        args = {"proposal": proposal}
        return self.command("approve", args, reason or f"approve {proposal}", None, key, timeout)

    # ------------------------------------------------------------------ reading

    def status(self, *, follow: Follower | None = None) -> dict[str, Any]:
        """The run's state, shards, nodes, checkpoint, chain head and owner authority. With
        `follow`, first follow a live run, view by view, until it stops (or Ctrl-C)."""
        from .run.status import follow as follow_run
        from .run.status import status

        if follow is not None:
            follow_run(self.store, follow)
        return status(self.store)

    def events(
        self,
        *,
        types: Sequence[str] = (),
        job: str | None = None,
        node: str | None = None,
        shard: str | None = None,
        since_tick: int | None = None,
        follow: bool = False,
        idle: Callable[[], None] | None = None,
        on_no_runner: Callable[[], None] | None = None,
        raw: bool = False,
        batched: bool = False,
    ) -> Iterator[Any]:
        """The run's events that every given filter keeps (they combine with AND; `types`
        are alternatives, each an exact type or a prefix ending in `.`), as (stored line,
        event: None when no filter needed to parse it). With `follow`, then the events a
        live runner appends, until it stops; `idle` is called before each wait and
        `on_no_runner` when no runner is live. Never takes the run lock. An unknown node or
        shard is refused (BadInput, with a did-you-mean) before anything is read. With
        `batched`, lists of them, a piece of the log each (a printer that keeps up with a
        large run); with `raw`, the kept lines as stored instead, newline-terminated, many
        a piece (bytes)."""
        from .run.follow import check_filter, read_event_batches, read_events, read_lines
        from .views.events import EventFilter

        _refuse_unfit_text([("--job", job), ("--node", node), ("--shard", shard)])
        for kind in types:
            if not kind.strip() or kind != kind.strip():
                raise BadInput(
                    f"--type: {kind!r} is not an event type",
                    "give a type (job.completed) or a prefix ending in '.' (owner.)",
                )
        keep = EventFilter(tuple(types), job, node, shard, since_tick)
        try:
            check_filter(self.store, keep)
        except BaseException:
            self.store.close()
            raise
        read = read_lines if raw else read_event_batches if batched else read_events
        return self._closing(
            read(self.store, keep, follow=follow, idle=idle, on_no_runner=on_no_runner)
        )

    def _closing(self, lines: Iterator[Any]) -> Iterator[Any]:
        """`lines`, then the store's connections closed (reopened if used again)."""
        try:
            yield from lines
        finally:
            self.store.close()

    def describe(self, kind: str, name: str) -> dict[str, Any]:
        """One job, node or shard (`kind`): its state now and its history, from the log and
        the checkpoint (or the live runner's view). On a directory storage it keeps an index
        of the log in `events-index/`, built on first use and extended as the log grows."""
        from .run.describing import describe_job, describe_node, describe_shard

        _refuse_unfit_text([(kind.upper(), name)])
        describers = {"job": describe_job, "node": describe_node, "shard": describe_shard}
        try:
            return describers[kind](self.store, name)
        finally:
            self.store.close()

    def status_stream(self, emit: Callable[[str, dict[str, Any]], None]) -> dict[str, Any]:
        """Follow a live run until it stops (or Ctrl-C), handing `emit` a whole status
        document ("Status", document) for each view the runner publishes; the final status."""
        from .run.status import StatusStream

        return self.status(follow=StatusStream(self.status, emit))

    def audit(
        self,
        *,
        quick: bool = False,
        executor: str = "inprocess",
        bridge: str | None = None,
        bridge_timeout: float | None = None,
        witness: str | None = None,
        actor: str | None = None,
        command: str | None = None,
        since_tick: int | None = None,
        until_tick: int | None = None,
    ) -> AuditReport:
        """Prove the stored run: re-make it from its plan and recorded owner commands and
        compare every event, the checkpoint and the summary, byte for byte; re-check owner
        authority. `quick` checks only the chain, the counters and authority, and its report
        says what that leaves unproved. With `witness` (where the run published its heads;
        `-` reads standard input), it also proves the log extends every head held there.
        `actor`, `command`, `since_tick` and `until_tick` keep only the governance timeline
        rows that match them all; the whole run is proved either way."""
        from .audit.report import filter_timeline
        from .audit.verify import audit

        _refuse_unfit_text([("--actor", actor), ("--command", command)])
        if since_tick is not None and until_tick is not None and since_tick > until_tick:
            raise BadInput(
                f"--since-tick {since_tick} is after --until-tick {until_tick}",
                "give a since tick at or before the until tick",
            )
        settings = executor_settings(executor, bridge, bridge_timeout)
        with self._witness(witness, reading=True) as opened:  # a bad one fails before the work
            report = audit(self.store, quick=quick, bridge=settings, witness=opened)
        filter_timeline(report, actor, command, since_tick, until_tick)
        return report

    def fabrics(self) -> dict[str, Any]:
        """The fabrics this storage holds, each with its run id, tick, finished? and live?:
        every fabric of a PostgreSQL database (the URL need not name one; runs set aside by
        `run --fresh` are NAME@RUN_ID), or a directory's run and those under its archive/."""
        from .run.fabrics import list_fabrics

        return list_fabrics(self.storage)

    def report(self, out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Write the run's report.html, report.md and Prometheus textfile (metrics.prom),
        from its checkpoint, into `out` (a directory, made if missing); without `out`,
        into the storage directory. A database storage needs `out`. What was written."""
        from .run.reporting import make_report
        from .store import is_database_url

        if out is None and is_database_url(self.storage):
            raise BadInput(
                "--out: needed when --storage is a database (a report is files you open)",
                "add --out DIR, e.g. --out ./report",
            )
        if out is not None and not os.fspath(out):
            raise BadInput("--out: empty", "name a directory, e.g. --out ./report")
        return make_report(self.store, _path(os.fspath(out)) if out is not None else None)

    # ------------------------------------------------------------------- copies

    def export(self, destination: str | os.PathLike[str]) -> dict[str, Any]:
        """Copy this verified run to `destination` (a directory or a PostgreSQL fabric),
        which must hold no run."""
        from .run.transfer import copy_run

        return copy_run(self.store, _other(destination, "DESTINATION").store)

    def import_from(self, source: str | os.PathLike[str]) -> dict[str, Any]:
        """Copy the verified run in `source` into this storage, which must hold no run."""
        from .run.transfer import copy_run

        return copy_run(_other(source, "SOURCE").store, self.store)

    @contextlib.contextmanager
    def _witness(self, spec: str | None, *, reading: bool = False) -> Iterator[Witness | None]:
        """The witness `spec` names, open for the duration (None for none)."""
        if spec is None:
            yield None
            return
        from .store.witness import open_witness

        witness = open_witness(spec, self.storage, reading=reading)
        try:
            yield witness
        finally:
            witness.close()

    def _default_plan_path(self) -> Path:
        from .store import is_database_url

        if is_database_url(self.storage):
            raise BadInput(
                "--out: needed when --storage is a database (a plan is a file you review)",
                "add --out plan.json",
            )
        return Path(self.storage) / "plan.json"


# ------------------------------------------------------------------ owner keys


def new_key(name: str, out: str | Path | None = None, role: str = "owner") -> dict[str, Any]:
    """Create an Ed25519 owner key pair (never overwriting a file); its public key,
    fingerprint and the line a fabric config lists it by."""
    from .run.keys import new_key as create

    _check_role(role)
    return _key_document(name, create(name, _path(out)), role)


def show_key(reference: str, role: str = "owner") -> dict[str, Any]:
    """A key's public key, fingerprint and config line (never the private key)."""
    from .run.keys import load_key

    loaded = load_key(reference, "KEY")
    return _key_document(loaded.path.stem, loaded, role)


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files."""
    from .scenario.schema import scenario_schema as schema

    return schema()


def schema_names() -> list[str]:
    """What `schema` publishes: scenario, events, each --json kind, each event type."""
    from .contract import names

    return ["scenario", *names()]


def schema(name: str = "scenario") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) `name` (one of `schema_names()`)."""
    if name == "scenario":
        return scenario_schema()
    from .contract import schema as contract_schema

    found = contract_schema(name)
    if found is None:
        raise BadInput(
            f"NAME: no schema named {name!r}{did_you_mean(name, schema_names())}",
            "see `agijobs schema --list`",
        )
    return found


def executor_settings(
    executor: str, bridge: str | None, timeout: float | None
) -> BridgeSettings | None:
    """The external executor to run with, or None for the in-process one."""
    if executor == "inprocess":
        if bridge is not None:
            raise BadInput("--bridge: given without --executor bridge", "add --executor bridge")
        return None
    if executor != "bridge":
        raise BadInput(f"--executor: {executor!r} is not an executor", "use inprocess or bridge")
    from .run.bridge import BridgeSettings

    return BridgeSettings.from_environment(bridge, timeout)


def _run_options(
    stop_after_ticks: int | None,
    tick_ms: int,
    wait: bool,
    executor: str,
    bridge: str | None,
    bridge_timeout: float | None,
    progress: Progress | None,
) -> RunOptions:
    from .run.runner import RunOptions

    settings = executor_settings(executor, bridge, bridge_timeout)
    return RunOptions(stop_after_ticks, tick_ms, wait, progress, bridge=settings)


@contextlib.contextmanager
def _exporter(address: str | None, notices: Notices | None) -> Iterator[Exporter | None]:
    """A live `/metrics` on `address`, bound before the run touches its storage (a bad
    address exits 2, one in use 4), closed however the run ends."""
    if address is None:
        yield None
        return
    from .run.exporter import Exporter

    exporter = Exporter(address)
    if notices is not None:
        notices(f"serving Prometheus metrics at {exporter.url}")
    try:
        yield exporter
    finally:
        exporter.close()


def _check_role(role: str) -> None:
    if role not in ("owner", "operator", "runner"):
        raise BadInput(f"--role: {role!r} is not a role", "use owner, operator or runner")


def _key_document(name: str, key: Any, role: str) -> dict[str, Any]:
    from .run.keys import config_line

    return {
        "name": name,
        "path": str(key.path),
        "public_key": key.public_key,
        "fingerprint": key.fingerprint,
        "config_line": config_line(name, key.public_key, role),
    }


def _other(storage: str | os.PathLike[str], name: str) -> Fabric:
    """The other side of an export or import, named as the command line names it."""
    if not os.fspath(storage):
        raise BadInput(f"{name}: empty", "name a directory, or postgresql://…?fabric=NAME")
    return Fabric(storage)


def _node_args(
    name: str, node: str, reason: str, actor: str | None, deadline: int | None = None
) -> dict[str, Any]:
    """A node operation's arguments (`_plain_args`)."""
    from .scenario.limits import MAX_TICKS

    _refuse_unfit_text([("--reason", reason), ("--actor", actor), ("NODE", node)])
    numbers = {} if deadline is None else {"deadline_ticks": (deadline, MAX_TICKS)}
    return _plain_args(name, {"node": node}, numbers, reason, actor)


def _max_budget_ms() -> int:
    from .scenario.limits import MAX_BUDGET_MS

    return MAX_BUDGET_MS


def _plain_args(
    name: str,
    names: dict[str, str],
    numbers: dict[str, tuple[int, int]],
    reason: str,
    actor: str | None,
) -> dict[str, Any]:
    """A command's arguments: `names` (ids), `numbers` (each with its greatest value; the
    least is 1). Checked here as the command models check them, without importing pydantic
    (an owner command at rest must start fast); anything they would refuse goes through
    them, for their message."""
    import re

    from .scenario.limits import MAX_NAME_CHARS, NAME_PATTERN

    _refuse_unfit_text([("--reason", reason), ("--actor", actor)])
    args: dict[str, Any] = {**names, **{key: value for key, (value, _) in numbers.items()}}
    plain = all(
        isinstance(value, str)
        and len(value) <= MAX_NAME_CHARS
        and re.fullmatch(NAME_PATTERN, value)
        for value in names.values()
    )
    fits = all(type(value) is int and 0 < value <= high for value, high in numbers.values())
    if plain and fits:
        return args
    from .scenario.command_input import validate_command

    return validate_command({"command": name, **args, "reason": reason})


def _refuse_unfit_text(values: Sequence[tuple[str, str | None]]) -> None:
    """Text that is recorded and printed again later holds no control characters and is
    valid UTF-8 (see agijobs.scenario.text); an empty --actor names nobody."""
    from .scenario.text import text_problem

    for option, value in values:
        if value is None:
            continue
        if option == "--actor" and not value.strip():
            raise BadInput(
                "--actor: must not be empty", "name who issues the command, or drop --actor"
            )
        problem = text_problem(value)
        if problem is not None:
            raise BadInput(f"{option}: {problem}", "write plain text on one line, in UTF-8")


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)
