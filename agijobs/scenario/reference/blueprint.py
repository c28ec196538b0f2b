"""The job blueprint: its job groups, as the scenario's workload.

`job_blueprint` turns each entry of a blueprint's `jobs` list into one workload group
(prefix, shard, skills, duration, value, count, arrival tick) and counts the jobs, which the
mission plan's notices quote. The demo read some values under two keys (`skills` or
`requiredSkills`, `duration` or `estimatedDurationTicks`); `_alias` takes either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .fields import (
    COUNT,
    ID,
    INTEGER,
    OBJECT,
    SKILLS,
    TEXT,
    WHOLE,
    At,
    Kind,
    checked,
    ignore_unknown,
    need,
    opt,
    slug,
)


@dataclass(frozen=True, slots=True)
class _Blueprint:
    workload: list[dict[str, Any]]
    label: str | None
    total: int


def job_blueprint(at: At, raw: dict[str, Any], notes: list[str]) -> _Blueprint:
    ignore_unknown(at, raw, {"metadata", "jobs"}, notes)
    metadata = opt(at, raw, "metadata", OBJECT) or {}
    label = opt(at / "metadata", metadata, "label", TEXT)
    workload = [_group(at / "jobs" / i, item, notes) for i, item in enumerate(raw["jobs"])]
    total = sum(group["count"] for group in workload)
    return _Blueprint(workload, slug(label) if label else None, total)


_JOB_KEYS = {
    "idPrefix",
    "id",
    "shard",
    "skills",
    "requiredSkills",
    "duration",
    "estimatedDurationTicks",
    "value",
    "valueStep",
    "count",
    "submissionTick",
    "note",
}


def _group(at: At, raw: Any, notes: list[str]) -> dict[str, Any]:
    job = checked(at, raw, OBJECT)
    ignore_unknown(at, job, _JOB_KEYS, notes)
    prefix = opt(at, job, "idPrefix", ID)
    job_id = opt(at, job, "id", ID)
    if prefix is None and job_id is None:
        at.fail(
            "needs `idPrefix` (or `id` for a single job)", 'add `idPrefix`, e.g. "earth-finance"'
        )
    count = opt(at, job, "count", COUNT) or 1
    if job_id is not None and count != 1:
        (at / "id").fail(
            f"names a single job, but count is {count}",
            "drop `id` (jobs are then named after idPrefix) or set count to 1",
        )
    group: dict[str, Any] = {"prefix": prefix or job_id}
    if job_id is not None:
        group["id"] = job_id
    group["shard"] = need(at, job, "shard", ID)
    group["skills"] = _alias(at, job, "skills", "requiredSkills", SKILLS, notes)
    group["duration"] = _alias(at, job, "duration", "estimatedDurationTicks", COUNT, notes)
    group["value"] = opt(at, job, "value", WHOLE) or 0
    step = opt(at, job, "valueStep", INTEGER)
    if step is not None:
        group["value_step"] = step
    group["count"] = count
    start = opt(at, job, "submissionTick", WHOLE)
    if start is not None:
        group["arrive"] = {"start": start}
    note = opt(at, job, "note", TEXT)
    if note is not None:
        group["note"] = note
    return group


def _alias(at: At, obj: dict[str, Any], key: str, alias: str, kind: Kind, notes: list[str]) -> Any:
    """A blueprint value the demo read under either of two keys; `key` wins."""
    if obj.get(key) is None and obj.get(alias) is not None:
        return checked(at / alias, obj[alias], kind)
    if obj.get(alias) is not None:
        notes.append(f"{at / alias}: ignored; `{key}` is given too.")
    value = obj.get(key)
    if value is None:
        (at / key).fail(
            f"required key is missing (or `{alias}`)",
            f"add `{key}` ({kind.what}, e.g. {kind.example})",
        )
    return checked(at / key, value, kind)
