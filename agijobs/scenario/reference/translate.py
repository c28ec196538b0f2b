"""The entry points: a mission plan, or a fabric config and its files, to one scenario.

`translate_mission` reads the files a mission plan names (relative to its folder, or written
inline) and adds what the plan itself says: its `run` block becomes faults, a checkpoint
interval, a tick limit and a report label, which override the fabric config's with a notice.
`translate_fabric` translates a fabric config given alone, with an optional job blueprint and
owner-commands file. Both return a `Translation`: the scenario document, still to be
validated by `agijobs.scenario.loading`, and its notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blueprint import job_blueprint
from .commands import owner_schedule
from .fabric import CHECKPOINT_PATH, DEFAULT_LABEL, REPORT_DIR, fabric_config
from .fields import COUNT, ID, OBJECT, TEXT, At, ignore_unknown, is_name, opt, opt_label, slug
from .files import expect, kind_of, looks_like, read, reference


@dataclass(frozen=True, slots=True)
class Translation:
    """An agijobs scenario document and what the translation ignored or defaulted.

    Attributes:
        scenario: snake_case keys, ready for `ScenarioFile.model_validate`.
        notices: one sentence each, naming the reference file and key path.
    """

    scenario: dict[str, Any]
    notices: tuple[str, ...]
    # Where each schedule entry came from ("file: commands -> i"), for messages.
    origins: tuple[str, ...] = ()


def translate_fabric(
    path: Path, raw: dict[str, Any], blueprint: Path | None, owner_commands: Path | None
) -> Translation:
    """Translate a reference fabric config, with an optional job blueprint and schedule.

    Args:
        path: the fabric config, named in messages.
        raw: its parsed content.
        blueprint: a job blueprint file; None gives an empty workload.
        owner_commands: an owner-commands file; None gives no schedule.
    """
    at = At(path)
    expect(None, at, raw, "fabric")
    notes: list[str] = []
    fabric = fabric_config(at, raw, notes)
    jobs = None
    if blueprint is not None:
        b_at = At(blueprint)
        jobs = job_blueprint(b_at, expect(None, b_at, read(blueprint, None), "blueprint"), notes)
    schedule: list[Any] = []
    origins: list[str] = []
    if owner_commands is not None:
        c_at = At(owner_commands)
        commands = expect(None, c_at, read(owner_commands, None), "commands")
        schedule, origins = owner_schedule(c_at, commands, fabric.context, notes)
    run = {} if fabric.checkpoint_every is None else {"checkpoint_every": fabric.checkpoint_every}
    scenario = {
        "name": (jobs.label if jobs else None) or _stem_name(path),
        "fabric": fabric.doc,
        "workload": jobs.workload if jobs else [],
        "faults": [],
        "schedule": schedule,
        "run": run,
        "reporting": {"label": fabric.label or DEFAULT_LABEL},
    }
    return Translation(scenario, tuple(notes), tuple(origins))


def translate_mission(path: Path, raw: dict[str, Any]) -> Translation:
    """Translate a reference mission plan and the files it names into one scenario.

    Args:
        path: the mission plan; the files it names are read relative to its folder.
        raw: its parsed content.
    """
    at = At(path)
    if kind_of(raw) != "mission":
        looks = looks_like(raw)
        at.fail(
            "not a reference mission plan" + (f"; it looks like {looks}" if looks else ""),
            "a mission plan names `config`, `jobBlueprint` and `ownerCommands` at the top level",
        )
    notes: list[str] = []
    known = {"metadata", "config", "ownerCommands", "jobBlueprint", "reporting", "run"}
    ignore_unknown(at, raw, known, notes)
    metadata = opt(at, raw, "metadata", OBJECT) or {}
    mission_label = opt(at / "metadata", metadata, "label", TEXT)
    if raw.get("config") is None:
        (at / "config").fail(
            "required key is missing", "add `config`: the path of the fabric config"
        )
    if raw.get("jobBlueprint") is None:
        (at / "jobBlueprint").fail(
            "agijobs needs the jobs themselves", "name a jobBlueprint / pass --blueprint"
        )
    reporting = opt(at, raw, "reporting", OBJECT) or {}
    run = opt(at, raw, "run", OBJECT) or {}
    file_notes: list[str] = []
    f_at, f_raw = reference(at, raw, "config", "fabric")
    fabric = fabric_config(f_at, f_raw, file_notes)
    b_at, b_raw = reference(at, raw, "jobBlueprint", "blueprint")
    jobs = job_blueprint(b_at, b_raw, file_notes)

    r_at = at / "reporting"
    ignore_unknown(r_at, reporting, {"directory", "defaultLabel"}, notes)
    if reporting.get("directory") is not None:
        notes.append(f"{r_at / 'directory'}: {REPORT_DIR}")
    settings = _run_settings(at / "run", run, jobs.total, notes)
    label = settings.pop("label", None)
    label = label or opt_label(r_at, reporting, "defaultLabel") or fabric.label
    if fabric.label is not None and label != fabric.label:
        notes.append(
            f"{f_at / 'reporting' / 'defaultLabel'}: overridden by the mission plan "
            f"(label `{label}`)."
        )
    every = settings.pop("checkpoint_every", None)
    if fabric.checkpoint_every is not None and every not in {None, fabric.checkpoint_every}:
        notes.append(
            f"{f_at / 'checkpoint' / 'intervalTicks'}: overridden by the mission plan "
            f"(checkpoint_every {every})."
        )
    every = every or fabric.checkpoint_every
    fabric.context.label = label or DEFAULT_LABEL

    schedule: list[Any] = []
    origins: list[str] = []
    if raw.get("ownerCommands") is not None:
        c_at, c_raw = reference(at, raw, "ownerCommands", "commands")
        schedule, origins = owner_schedule(c_at, c_raw, fabric.context, file_notes)
    faults = settings.pop("faults", [])
    scenario = {
        "name": (slug(mission_label) if mission_label else None)
        or jobs.label
        or _stem_name(f_at.path),
        "fabric": fabric.doc,
        "workload": jobs.workload,
        "faults": faults,
        "schedule": schedule,
        "run": ({"checkpoint_every": every} if every is not None else {}) | settings,
        "reporting": {"label": label or DEFAULT_LABEL},
    }
    return Translation(scenario, (*notes, *file_notes), tuple(origins))


def _run_settings(at: At, run: dict[str, Any], total: int, notes: list[str]) -> dict[str, Any]:
    """The mission's `run` block as faults, checkpoint_every, stop_after_ticks and label."""
    known = {
        "jobs",
        "simulateOutage",
        "outageTick",
        "outputLabel",
        "stopAfterTicks",
        "checkpoint",
        "preserveReportDirOnResume",
    }
    ignore_unknown(at, run, known, notes)
    found: dict[str, Any] = {}
    node = opt(at, run, "simulateOutage", ID)
    tick = opt(at, run, "outageTick", COUNT)
    if node is not None:
        if tick is None:
            (at / "outageTick").fail(
                f"required with simulateOutage (`{node}`)",
                "add `outageTick`: the tick the node goes down, e.g. 45",
            )
        found["faults"] = [{"tick": tick, "node": node, "kind": "outage"}]
    elif tick is not None:
        notes.append(f"{at / 'outageTick'}: ignored; no simulateOutage names a node.")
    checkpoint = opt(at, run, "checkpoint", OBJECT) or {}
    ignore_unknown(at / "checkpoint", checkpoint, {"intervalTicks", "path"}, notes)
    every = opt(at / "checkpoint", checkpoint, "intervalTicks", COUNT)
    if every is not None:
        found["checkpoint_every"] = every
    if checkpoint.get("path") is not None:
        notes.append(f"{at / 'checkpoint' / 'path'}: {CHECKPOINT_PATH}")
    stop = opt(at, run, "stopAfterTicks", COUNT)
    if stop is not None:
        found["stop_after_ticks"] = stop
    label = opt_label(at, run, "outputLabel")
    if label is not None:
        found["label"] = label
    if run.get("jobs") is not None:
        notes.append(
            f"{at / 'jobs'}: ignored; the jobBlueprint defines the workload "
            f"({total:,} jobs) and agijobs runs exactly those."
        )
    if run.get("preserveReportDirOnResume") is not None:
        notes.append(
            f"{at / 'preserveReportDirOnResume'}: ignored; agijobs keeps reports inside --storage."
        )
    return found


def _stem_name(path: Path) -> str:
    stem = path.stem
    return stem if is_name(stem) else (slug(stem) or "reference")
