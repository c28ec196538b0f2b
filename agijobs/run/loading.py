"""A stored run, read and verified: its plan, its checkpoint with the job table, its log.

The log up to the checkpoint is verified by the digest the checkpoint records, and line by
line after it; the checkpoint's state must have the shape `agijobs.fabric.snapshot` writes
and belong to the plan's scenario. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadInput, IntegrityError
from ..fabric.engine import Engine
from ..fabric.snapshot import check_state
from ..ledger import jobtable
from ..ledger.chain import ChainScan, scan_events, scan_from_checkpoint, verify_against_chain
from ..ledger.checkpoint import decode_checkpoint
from ..scenario.plan import Plan, runner_key_of, stored_plan
from ..store import Store, no_run
from ..store.files import CHECKPOINT, EVENTS, RUN_PLAN
from .acyclic import uncollected


@dataclass(slots=True)
class LoadedRun:
    """A stored run, verified: its plan, checkpoint and the scan of its log."""

    plan: Plan
    checkpoint: dict[str, Any] | None
    scan: ChainScan
    events: bytes
    run_id: str | None = None  # from run.json: what signed commands must name
    checkpoint_bytes: bytes | None = None  # exactly the bytes verified (`export` copies them)
    job_table: bytes | None = None  # the checkpoint's job table, verified against its digest
    job_table_name: str = ""  # where it was read, for messages

    def engine(self, *, jobs: bool = True) -> Engine:
        """The engine at the checkpoint (`jobs=False`: see `Engine.restore`)."""
        if self.checkpoint is None:
            engine = Engine(self.plan.inputs)
        elif jobs:
            with uncollected():  # a backlog's rows and jobs: acyclic (acyclic.py)
                try:
                    engine = Engine.restore(self.plan.inputs, self.full_state())
                except IntegrityError as error:  # a bad row: say which file holds it
                    message = error.message.replace("the checkpoint's job table", "", 1)
                    raise IntegrityError(f"{self.job_table_name}{message}", error.hint) from None
        else:
            state, table = self.checkpoint["state"], self.job_table
            engine = Engine.restore(self.plan.inputs, state, jobs=False, table=table)
        engine.run_id = self.run_id
        return engine

    def full_state(self) -> dict[str, Any]:
        """The checkpoint's state with its job rows (read from its job table)."""
        assert self.checkpoint is not None and self.job_table is not None
        return jobtable.attach(self.checkpoint["state"], self.job_table, self.job_table_name)

    @property
    def seq(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint["seq"])

    @property
    def engine_tick(self) -> int:
        return 0 if self.checkpoint is None else int(self.checkpoint["tick"])


def load_run(
    store: Store, *, full_scan: bool = False, check_plan: bool = True, derived: bool = False
) -> LoadedRun:
    """Read and verify plan, checkpoint and event chain; raise `IntegrityError` on mismatch.

    The log up to the checkpoint is verified by the digest the checkpoint records, and
    line by line after it; `full_scan` (the audit) re-hashes every line from seq 1.
    Without `check_plan` the stored plan is proved by its plan_id but not validated again
    (`plan.stored_plan`): for `status` and owner commands at rest, which never tick.

    With `derived` (the audit that re-makes the run and compares every byte of the log up
    to the checkpoint with what it writes), that part is neither read nor hashed here:
    only the lines after it, which the derivation does not cover, are; `events` then holds
    no bytes."""
    plan_bytes = store.read_document(RUN_PLAN)
    if plan_bytes is None:
        if store.has_run():
            raise IntegrityError(
                f"{store.location}/{RUN_PLAN}: missing", "the storage is incomplete; re-run"
            )
        raise no_run(store)
    try:
        label = f"{store.location}/{RUN_PLAN}"
        if check_plan:
            plan = plan_from_store(store, plan_bytes)
        else:
            plan = stored_plan(label, plan_bytes, lambda: plan_from_store(store, plan_bytes))
    except BadInput as error:
        raise IntegrityError(error.message, "the stored plan was altered; re-run") from None
    raw, checkpoint, table = _read_checkpoint(store)
    table_name = ""
    seq = 0 if checkpoint is None else int(checkpoint["seq"])
    if derived and checkpoint is not None and (scan := _scan_after(store, checkpoint)):
        events = b""
    elif checkpoint is None or full_scan:
        events = store.read_events()
        scan = scan_events(events, seq, f"{store.location}/{EVENTS}")
    else:
        events = store.read_events()
        scan = scan_from_checkpoint(events, checkpoint, f"{store.location}/{EVENTS}")
    if checkpoint is not None:
        if checkpoint["inputs_id"] != plan.inputs_id:
            raise IntegrityError(
                f"{store.location}/{CHECKPOINT}: belongs to inputs {checkpoint['inputs_id'][:12]}…,"
                f" plan.json is {plan.inputs_id[:12]}…",
                "the plan or checkpoint was replaced; re-run",
            )
        verify_against_chain(checkpoint, scan)
        check_state(
            checkpoint["state"],
            plan.inputs.shard_ids,
            plan.inputs.keyed,
            f"{store.location}/{CHECKPOINT}",
        )
        table_name = f"{store.location}/jobs/{jobtable.digest(checkpoint['state'])}.json"
        jobtable.verify(checkpoint["state"], table, table_name)
    elif scan.error is not None:
        raise IntegrityError(scan.error, "the log was altered")
    elif scan.count > 1:
        # The runner checkpoints right after run.started, so only a log holding nothing but
        # that event can lack a checkpoint; anything more means the checkpoint was lost.
        raise IntegrityError(
            f"{store.location}/{CHECKPOINT}: missing, but the log holds {scan.count} events",
            "restore checkpoint.json from a backup; resuming would discard the run",
        )
    info = read_json(store, "run.json") or {}
    run_id = info.get("run_id")
    if checkpoint is not None:
        verify_head(plan, checkpoint, raw, str(run_id), f"{store.location}/{CHECKPOINT}")
    return LoadedRun(
        plan,
        checkpoint,
        scan,
        events,
        run_id if isinstance(run_id, str) else None,
        raw,
        table,
        table_name,
    )


def _read_checkpoint(store: Store) -> tuple[bytes | None, dict[str, Any] | None, bytes | None]:
    """The checkpoint (bytes, integrity-checked document) and the job table it names (None
    if missing or if the checkpoint names none; the caller checks its shape first).

    A live runner replaces both while they are read: a checkpoint whose table has gone
    meanwhile is read again, since a newer one has replaced it."""
    raw, checkpoint, table = None, None, None
    for _ in range(20):
        raw = store.read_checkpoint()
        if raw is None:
            return None, None, None
        checkpoint = decode_checkpoint(raw, f"{store.location}/{CHECKPOINT}")
        digest = jobtable.named_digest(checkpoint.get("state"))
        table = None if digest is None else store.read_job_table(digest)
        if table is not None or digest is None or store.read_checkpoint() == raw:
            break
    return raw, checkpoint, table


def plan_from_store(store: Store, data: bytes) -> Plan:
    """The storage's plan, validated in full."""
    from ..scenario.loading import plan_from_bytes

    return plan_from_bytes(f"{store.location}/{RUN_PLAN}", data)


def read_json(store: Store, name: str) -> dict[str, Any] | None:
    data = store.read_document(name)
    if data is None:
        return None
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def verify_head(
    plan: Plan, checkpoint: dict[str, Any], raw: bytes | None, run_id: str, name: str
) -> None:
    """On a fabric that declares keys, the checkpoint must carry its runner's signature over
    (fabric, run id, seq, head, integrity digest): only a holder of the runner's key, kept
    outside the storage, can make one, so a re-sealed forgery is refused here."""
    declared = runner_key_of(plan)
    if declared is None:
        return
    key_name, public_key = declared
    from ..ledger.signing import head_note_text, note_signed_by, parse_public_key

    note = checkpoint.get("note")
    if note is None:
        raise IntegrityError(
            f"{name}: not signed, but this fabric's runner signs every checkpoint with key "
            f"`{key_name}`",
            "the checkpoint was written without the runner's key or altered: restore it "
            "from a backup",
        )
    text = head_note_text(
        plan.name, run_id, int(checkpoint["seq"]), str(checkpoint["head"]), _integrity(raw)
    )
    if not note_signed_by(note, text, key_name, parse_public_key(public_key)):
        raise IntegrityError(
            f"{name}: its signature is not runner key `{key_name}`'s over this fabric, run "
            f"{run_id}, seq {checkpoint['seq']} and head {str(checkpoint['head'])[:12]}…",
            "the checkpoint, its log or run.json was altered: restore them from a backup",
        )


def _integrity(raw: bytes | None) -> str:
    """The integrity digest a verified checkpoint's bytes carry."""
    assert raw is not None
    start = raw.index(b',"integrity":"') + len(b',"integrity":"')
    return raw[start : start + 64].decode()


def _scan_after(store: Store, checkpoint: dict[str, Any]) -> ChainScan | None:
    """The scan of only the lines after the checkpoint, which start where its record of the
    log (`events`) says; None when it records none to trust for that."""
    recorded = checkpoint.get("events")
    size = recorded.get("bytes") if isinstance(recorded, dict) else None
    if type(size) is not int or size < 0:
        return None
    seq, head = int(checkpoint["seq"]), str(checkpoint["head"])
    tail = store.read_events_from(size, seq)
    scan = scan_events(tail, seq, f"{store.location}/{EVENTS}", start=(0, seq, head))
    scan.mark_bytes = size
    scan.valid_bytes += size
    return scan
